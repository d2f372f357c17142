package mappings_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/providerhttp"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever/levertest"
	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store/storetest"
)

type token string

func (k token) GetAccessToken(context.Context, *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	return &identityv1.GetAccessTokenResponse{AccessToken: string(k)}, nil
}

// tandem is outreach's stages of one organization.
type tandem struct {
	org    string
	stages []mappings.TandemStage
}

func (f *tandem) ActiveStages(_ context.Context, orgID string) ([]mappings.TandemStage, error) {
	if orgID != f.org {
		return nil, nil
	}
	return f.stages, nil
}

type world struct {
	sim    *providersim.Sim
	st     *store.Store
	maps   *mappings.Mappings
	tandem *tandem
	org    string
	connID string
	acct   simclient.LeverAccount
}

// newWorld connects an organization to the simulator's demo Lever account
// and imports it, as the connect event and the import job do.
func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	sim, err := providersim.Start(ctx, providersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st := store.New(storetest.New(t))
	api, err := lever.New(sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{sim: sim, st: st, org: uuid.NewString(), connID: uuid.NewString()}
	w.tandem = &tandem{org: w.org}
	for _, n := range []string{"New", "Contacted", "Replied", "Interested", "Not interested", "Hired"} {
		w.tandem.stages = append(w.tandem.stages, mappings.TandemStage{ID: uuid.NewString(), Name: n})
	}
	var conn store.Connection
	if err := st.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		conn, _, err = st.ApplyStatus(ctx, tx, store.StatusChange{ID: w.connID, OrgID: w.org, Provider: "lever", Status: store.StatusConnected, Version: 1, At: time.Now()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	worker := connections.NewImportWorker(st, token(levertest.AccessToken(t, sim)), api, nil, nil)
	if err := worker.Work(ctx, &river.Job[connections.ImportArgs]{JobRow: &rivertype.JobRow{Attempt: 1},
		Args: connections.ImportArgs{ConnectionID: w.connID, Generation: conn.SyncGeneration}}); err != nil {
		t.Fatal(err)
	}
	if w.acct, err = sim.Client().LeverAccount(ctx, providersim.DemoLeverAccount); err != nil {
		t.Fatal(err)
	}
	w.maps = mappings.New(st, w.tandem)
	return w
}

func (w *world) stageID(t *testing.T, name string) string {
	t.Helper()
	for _, s := range w.acct.Stages {
		if s.Text == name {
			return s.ID
		}
	}
	t.Fatalf("the simulator has no stage %q", name)
	return ""
}

func (w *world) tandemID(name string) string {
	for _, s := range w.tandem.stages {
		if s.Name == name {
			return s.ID
		}
	}
	return ""
}

func (w *world) posting(t *testing.T, published bool) string {
	t.Helper()
	for _, p := range w.acct.Postings {
		if (p.State == simclient.LeverPublished) == published {
			return p.ID
		}
	}
	t.Fatalf("the simulator has no posting published=%v", published)
	return ""
}

func TestProposeOnTheSimulatorsDefaultPipeline(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tab, problems, err := w.maps.Propose(t.Context(), w.org)
	if err != nil || len(problems) != 0 {
		t.Fatalf("propose: %+v, %v", problems, err)
	}
	to := map[string]store.Place{}
	for _, r := range tab.ToATS {
		to[r.TandemStageID] = r.ATS
	}
	for tandemName, leverName := range map[string]string{"New": "New lead", "Contacted": "Reached out", "Replied": "Responded", "Interested": "Recruiter screen"} {
		if got := to[w.tandemID(tandemName)]; got.StageID != w.stageID(t, leverName) {
			t.Errorf("%s goes to %+v, want %s", tandemName, got, leverName)
		}
	}
	reasons := map[string]simclient.LeverArchiveReason{}
	for _, r := range w.acct.ArchiveReasons {
		reasons[r.ID] = r
	}
	if r := reasons[to[w.tandemID("Hired")].ArchiveReasonID]; r.Type != "hired" {
		t.Errorf("Hired goes to %+v", r)
	}
	if r := reasons[to[w.tandemID("Not interested")].ArchiveReasonID]; r.Type != "non-hired" {
		t.Errorf("Not interested goes to %+v", r)
	}
	if len(tab.FromATS) != len(w.acct.Stages)+len(w.acct.ArchiveReasons) {
		t.Fatalf("%d rows from the ATS for %d stages and %d reasons", len(tab.FromATS), len(w.acct.Stages), len(w.acct.ArchiveReasons))
	}
	for _, r := range tab.FromATS {
		if r.ATS.StageID == w.stageID(t, "Offer") && r.TandemStageID != w.tandemID("Interested") {
			t.Errorf("Offer comes back as %s", r.TandemStageID)
		}
	}
}

func TestSaveKeepsVersions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	if _, err := w.maps.Get(ctx, w.org, 0); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("before the first save: %v", err)
	}
	tab, _, err := w.maps.Propose(ctx, w.org)
	if err != nil {
		t.Fatal(err)
	}
	incomplete := tab
	incomplete.ToATS = incomplete.ToATS[1:]
	var inv *mappings.Invalid
	if _, err := w.maps.Save(ctx, w.org, "admin", 0, incomplete); !errors.As(err, &inv) || inv.Problems[0].Reason != mappings.ReasonIncomplete ||
		inv.PublicError().Reason != mappings.ReasonIncomplete {
		t.Fatalf("an incomplete table: %v", err)
	}
	if _, err := w.maps.Get(ctx, w.org, 0); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a refused table was stored: %v", err)
	}

	v1, err := w.maps.Save(ctx, w.org, "admin", 0, tab)
	if err != nil || v1.Version != 1 || v1.CreatedBy != "admin" {
		t.Fatalf("first save: %+v, %v", v1, err)
	}
	// A retry of the save that landed gets it back, not a version 2.
	if again, err := w.maps.Save(ctx, w.org, "admin", 0, tab); err != nil || again.Version != 1 {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	changed := tab
	changed.ToATS = slices.Clone(tab.ToATS)
	changed.ToATS[3].ATS = store.Place{StageID: w.stageID(t, "New applicant")}
	if _, err := w.maps.Save(ctx, w.org, "admin", 0, changed); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("a save over a newer version: %v", err)
	}
	v2, err := w.maps.Save(ctx, w.org, "admin2", 1, changed)
	if err != nil || v2.Version != 2 {
		t.Fatalf("second save: %+v, %v", v2, err)
	}
	cur, err := w.maps.Get(ctx, w.org, 0)
	if err != nil || cur.Version != 2 || !mappings.Equal(cur.Table, changed) {
		t.Fatalf("current: %+v, %v", cur, err)
	}
	old, err := w.maps.Get(ctx, w.org, 1)
	if err != nil || old.Version != 1 || !mappings.Equal(old.Table, tab) || old.CreatedBy != "admin" {
		t.Fatalf("version 1: %+v, %v", old, err)
	}
	if _, err := w.maps.Get(ctx, w.org, 3); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a version never saved: %v", err)
	}
	if _, err := w.maps.Get(ctx, uuid.NewString(), 0); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another organization's mapping: %v", err)
	}
	if _, err := w.maps.Save(ctx, uuid.NewString(), "admin", 0, tab); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("a save for an organization without a connection: %v", err)
	}
}

func TestDryRunOverSeededLinks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	tab, _, err := w.maps.Propose(ctx, w.org)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.maps.Save(ctx, w.org, "admin", 0, tab); err != nil {
		t.Fatal(err)
	}
	seed := func(n int, place store.Place, version int) {
		for range n {
			if err := w.st.UpsertLink(ctx, w.connID, w.org, store.Link{CandidateID: uuid.NewString(), RemoteCandidateID: uuid.NewString(),
				RemoteOpportunityID: uuid.NewString(), ATS: place, MappingVersion: version}); err != nil {
				t.Fatal(err)
			}
		}
	}
	offer, screen := store.Place{StageID: w.stageID(t, "Offer")}, store.Place{StageID: w.stageID(t, "Recruiter screen")}
	seed(2, offer, 1)
	seed(3, screen, 1)
	seed(1, store.Place{StageID: "a-stage-deleted-in-lever"}, 1)

	next := tab
	next.FromATS = slices.Clone(tab.FromATS)
	for i, r := range next.FromATS {
		if r.ATS == offer {
			next.FromATS[i].TandemStageID = w.tandemID("Hired")
		}
	}
	d, err := w.maps.DryRun(ctx, w.org, next)
	if err != nil {
		t.Fatal(err)
	}
	if d.Linked != 6 || d.Unchanged != 3 || len(d.Problems) != 0 ||
		!slices.Equal(d.Moves, []mappings.Move{{From: w.tandemID("Interested"), To: w.tandemID("Hired"), Candidates: 2}}) ||
		!slices.Equal(d.Unmapped, []mappings.Unmapped{{ATS: store.Place{StageID: "a-stage-deleted-in-lever"}, Candidates: 1}}) {
		t.Fatalf("dry run %+v", d)
	}
	// A table that bounces is reported, not saved.
	for i, r := range next.FromATS {
		if r.ATS == screen {
			next.FromATS[i].TandemStageID = w.tandemID("Replied")
		}
	}
	d, err = w.maps.DryRun(ctx, w.org, next)
	if err != nil || len(d.Problems) != 1 || d.Problems[0].Reason != mappings.ReasonBounce || len(d.Moves) != 2 {
		t.Fatalf("dry run of a bounce: %+v, %v", d, err)
	}
	if cur, err := w.maps.Get(ctx, w.org, 0); err != nil || cur.Version != 1 {
		t.Fatalf("a dry run saved: %+v, %v", cur, err)
	}
}

func TestCheckFlowLink(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	published, unpublished := w.posting(t, true), w.posting(t, false)
	check := func(org, posting, want string) {
		t.Helper()
		r, err := w.maps.CheckFlowLink(ctx, org, posting)
		if err != nil || r.Reason != want || (want != "" && r.Description == "") {
			t.Fatalf("check %s: %+v, %v; want %q", posting, r, err, want)
		}
	}
	check(w.org, published, mappings.ReasonStageMappingRequired)
	tab, _, err := w.maps.Propose(ctx, w.org)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.maps.Save(ctx, w.org, "admin", 0, tab); err != nil {
		t.Fatal(err)
	}
	check(w.org, published, "")
	check(w.org, unpublished, mappings.ReasonPostingNotPublished)
	check(w.org, "no-such-posting", mappings.ReasonPostingNotFound)
	check(uuid.NewString(), published, mappings.ReasonNotConnected)
	// A stage added in Tandem since the save leaves the table incomplete.
	w.tandem.stages = append(w.tandem.stages, mappings.TandemStage{ID: uuid.NewString(), Name: "Onsite"})
	check(w.org, published, mappings.ReasonStageMappingRequired)
}
