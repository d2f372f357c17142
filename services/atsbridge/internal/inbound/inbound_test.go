package inbound_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/providerhttp"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/config"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/inbound"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever/levertest"
	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store/storetest"
)

// recorder is River's InsertTx: it keeps what was enqueued.
type recorder struct {
	mu   sync.Mutex
	args []river.JobArgs
}

func (r *recorder) InsertTx(_ context.Context, _ pgx.Tx, args river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.args = append(r.args, args)
	return &rivertype.JobInsertResult{}, nil
}

func (r *recorder) applies() []inbound.ApplyArgs {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []inbound.ApplyArgs
	for _, a := range r.args {
		if x, ok := a.(inbound.ApplyArgs); ok {
			out = append(out, x)
		}
	}
	return out
}

func (r *recorder) registration(t testing.TB) inbound.RegisterArgs {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.args {
		if x, ok := a.(inbound.RegisterArgs); ok {
			return x
		}
	}
	t.Fatal("no webhook registration was enqueued")
	return inbound.RegisterArgs{}
}

// publisher keeps the events published.
type publisher struct {
	mu  sync.Mutex
	evs []events.Event
}

func (p *publisher) Publish(_ context.Context, _ pgx.Tx, ev events.Event) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.evs = append(p.evs, ev)
	return uuid.NewString(), nil
}

func (p *publisher) all() []events.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]events.Event(nil), p.evs...)
}

type tokens struct{ token string }

func (k tokens) GetAccessToken(context.Context, *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	return &identityv1.GetAccessTokenResponse{AccessToken: k.token}, nil
}

type tandemStages []mappings.TandemStage

func (s tandemStages) ActiveStages(context.Context, string) ([]mappings.TandemStage, error) {
	return s, nil
}

type world struct {
	t        testing.TB
	ctx      context.Context
	sim      *providersim.Sim
	sc       *simclient.Client
	st       *store.Store
	jobs     *recorder
	pub      *publisher
	receiver *inbound.Receiver
	worker   *inbound.ApplyWorker
	register *inbound.RegisterWorker
	org      string
	connID   string
	stages   map[string]string // Lever stage text → id
	reasons  map[string]string // archive reason text → id
	tandem   map[string]string // Lever place → Tandem stage id
	statuses chan int
}

// newWorld connects the simulator's demo Lever account, imports it,
// registers the webhooks with a gateway stand-in that hands deliveries to
// the receiver, and saves a mapping: every Lever stage to a Tandem stage
// of its own.
func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := t.Context()
	sim, err := providersim.Start(ctx, providersim.Options{AllowHTTPLoopbackNotifications: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st := store.New(storetest.New(t))
	api, err := lever.New(sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	scopes := append([]string{"webhooks:write:admin", "opportunities:read:admin"}, levertest.Scopes...)
	tok := tokens{token: levertest.AccessToken(t, sim, scopes...)}
	w := &world{t: t, ctx: ctx, sim: sim, sc: sim.Client(), st: st, jobs: &recorder{}, pub: &publisher{}, org: uuid.NewString(), connID: uuid.NewString(),
		stages: map[string]string{}, reasons: map[string]string{}, tandem: map[string]string{}, statuses: make(chan int, 100)}

	// Connect and import, as identity's event and the import job do.
	conns := connections.New(st, w.jobs, connections.RateLimit{PerSecond: 10, Burst: 20}, nil)
	payload, err := anypb.New(&identityv1.AtsConnectionChanged{ConnectionId: w.connID, Provider: "lever",
		Status: identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, ChangeTime: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ev := &eventsv1.Event{Id: uuid.NewString(), Type: connections.EventConnectionChanged, OrganizationId: w.org, AggregateId: w.connID, Payload: payload}
	if err := st.InTx(ctx, func(tx pgx.Tx) error { return conns.ApplyConnectionChanged(ctx, tx, ev) }); err != nil {
		t.Fatal(err)
	}
	importer := connections.NewImportWorker(st, tok, api, nil, nil)
	importer.OnConnected(inbound.EnqueueRegistration(w.jobs))
	var imp connections.ImportArgs
	for _, a := range w.jobs.args {
		if x, ok := a.(connections.ImportArgs); ok {
			imp = x
		}
	}
	if err := importer.Work(ctx, &river.Job[connections.ImportArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: imp}); err != nil {
		t.Fatal(err)
	}

	s := config.Settings{KeyRing: config.DevKeyRing}
	ring, err := s.Ring()
	if err != nil {
		t.Fatal(err)
	}
	vault := envelope.NewVault(ring, st.DataKeys(), envelope.VaultOptions{})
	w.receiver = inbound.NewReceiver(st, vault, w.jobs, nil)
	gw := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, inbound.MaxBody+1))
		if err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		code := w.status(ctx, strings.TrimPrefix(r.URL.Path, "/webhooks/lever/"), raw)
		w.statuses <- code
		rw.WriteHeader(code)
	}))
	t.Cleanup(gw.Close)

	sides, err := st.ATSSides(ctx, w.connID)
	if err != nil || len(sides.Stages) == 0 || len(sides.Reasons) == 0 {
		t.Fatalf("imported sides: %+v, %v", sides, err)
	}
	var table store.Table
	var names tandemStages
	for _, s := range sides.Stages {
		w.stages[s.Name] = s.RemoteID
		id := uuid.NewString()
		w.tandem[s.RemoteID] = id
		names = append(names, mappings.TandemStage{ID: id, Name: "T " + s.Name})
		table.FromATS = append(table.FromATS, store.FromATS{ATS: store.Place{StageID: s.RemoteID}, TandemStageID: id})
	}
	for _, r := range sides.Reasons {
		w.reasons[r.Text] = r.RemoteID
		id := uuid.NewString()
		w.tandem["archived:"+r.RemoteID] = id
		names = append(names, mappings.TandemStage{ID: id, Name: "T " + r.Text})
		table.FromATS = append(table.FromATS, store.FromATS{ATS: store.Place{ArchiveReasonID: r.RemoteID}, TandemStageID: id})
	}
	if _, err := st.SaveMapping(ctx, w.connID, w.org, 0, table, "test"); err != nil {
		t.Fatal(err)
	}
	w.worker = inbound.NewApplyWorker(st, inbound.NewApplier(st, w.pub, names, nil), tok, api, nil)
	w.register = inbound.NewRegisterWorker(st, tok, api, vault, gw.URL, nil)
	if err := w.register.Work(ctx, &river.Job[inbound.RegisterArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: w.jobs.registration(t)}); err != nil {
		t.Fatal(err)
	}
	return w
}

// status is the gateway's answer to a delivery.
func (w *world) status(ctx context.Context, conn string, raw []byte) int {
	_, err := w.receiver.Receive(ctx, conn, raw)
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, inbound.ErrUnknownConnection):
		return http.StatusNotFound
	case errors.Is(err, inbound.ErrBadSignature), errors.Is(err, inbound.ErrUnsigned):
		return http.StatusUnauthorized
	case errors.Is(err, inbound.ErrMalformed):
		return http.StatusBadRequest
	}
	return http.StatusServiceUnavailable
}

func (w *world) hooks() []simclient.LeverWebhook {
	w.t.Helper()
	hooks, err := w.sc.LeverWebhooks(w.ctx, providersim.DemoLeverAccount)
	if err != nil {
		w.t.Fatal(err)
	}
	return hooks
}

func (w *world) hook(event string) simclient.LeverWebhook {
	w.t.Helper()
	for _, h := range w.hooks() {
		if h.Event == event {
			return h
		}
	}
	w.t.Fatalf("no %s webhook", event)
	return simclient.LeverWebhook{}
}

// linked makes an opportunity in Lever at stage and links a Tandem
// candidate to it.
func (w *world) linked(stage string) (candidateID, oppID string) {
	w.t.Helper()
	opp, err := w.sc.AddLeverCandidate(w.ctx, providersim.DemoLeverAccount, simclient.LeverCandidate{Name: "Ada " + uuid.NewString()[:8],
		Emails: []string{uuid.NewString()[:8] + "@example.com"}, Stage: stage})
	if err != nil {
		w.t.Fatal(err)
	}
	candidateID = uuid.NewString()
	if err := w.st.UpsertLink(w.ctx, w.connID, w.org, store.Link{CandidateID: candidateID, RemoteCandidateID: opp.ContactID, RemoteOpportunityID: opp.ID,
		ATS: store.Place{StageID: w.stages[stage]}, MappingVersion: 1}); err != nil {
		w.t.Fatal(err)
	}
	return candidateID, opp.ID
}

// nextApply waits for the receiver to enqueue one more apply job than
// before, and runs it.
func (w *world) nextApply(before int) inbound.ApplyArgs {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The recorder sees the job before the receiver's transaction
		// commits; River would not.
		if got := w.jobs.applies(); len(got) > before && w.stored(got[len(got)-1].DeliveryID) {
			a := got[len(got)-1]
			if err := w.worker.Work(w.ctx, &river.Job[inbound.ApplyArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: a}); err != nil {
				w.t.Fatal(err)
			}
			return a
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("no delivery was taken after %d", before)
		}
		select {
		case <-w.statuses:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (w *world) stored(id string) bool {
	w.t.Helper()
	var n int
	if err := w.st.InTx(w.ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(w.ctx, `SELECT count(*) FROM ats_webhook_deliveries WHERE connection_id = $1 AND delivery_id = $2`, w.connID, id).Scan(&n)
	}); err != nil {
		w.t.Fatal(err)
	}
	return n == 1
}

type auditRow struct {
	Direction, Action, Rule, Outcome, Error string
	MappingVersion                          int
	Request                                 string
}

func (w *world) audits(candidateID string) []auditRow {
	w.t.Helper()
	var out []auditRow
	err := w.st.InTx(w.ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(w.ctx, `SELECT direction, action, rule, outcome, error, mapping_version, COALESCE(request::text, '')
			FROM sync_audit WHERE connection_id = $1 AND ($2 = '' OR candidate_id::text = $2) ORDER BY id`, w.connID, candidateID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditRow, error) {
			var a auditRow
			return a, r.Scan(&a.Direction, &a.Action, &a.Rule, &a.Outcome, &a.Error, &a.MappingVersion, &a.Request)
		})
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) deliveryState(id string) string {
	w.t.Helper()
	var state string
	if err := w.st.InTx(w.ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(w.ctx, `SELECT state FROM ats_webhook_deliveries WHERE connection_id = $1 AND delivery_id = $2`, w.connID, id).Scan(&state)
	}); err != nil {
		w.t.Fatal(err)
	}
	return state
}

// signed makes a delivery as Lever would, signed with signatureToken.
func signed(t testing.TB, signatureToken, event string, triggeredAt int64, data map[string]any) []byte {
	t.Helper()
	token := uuid.NewString()
	raw, err := json.Marshal(map[string]any{"id": uuid.NewString(), "triggeredAt": triggeredAt, "event": event, "token": token,
		"signature": inbound.Sign(signatureToken, token, triggeredAt), "data": data})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRegistrationIsIdempotent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if hooks := w.hooks(); len(hooks) != 2 {
		t.Fatalf("webhooks after registering: %+v", hooks)
	}
	// A retry, or the next import, reuses them.
	if err := w.register.Work(w.ctx, &river.Job[inbound.RegisterArgs]{JobRow: &rivertype.JobRow{Attempt: 2}, Args: w.jobs.registration(t)}); err != nil {
		t.Fatal(err)
	}
	hooks := w.hooks()
	if len(hooks) != 2 || !strings.HasSuffix(hooks[0].URL, "/webhooks/lever/"+w.connID) {
		t.Fatalf("webhooks after registering again: %+v", hooks)
	}
	// The signature tokens are sealed at rest.
	rows, err := w.st.Webhooks(w.ctx, w.connID)
	if err != nil || len(rows) != 2 {
		t.Fatalf("stored webhooks: %+v, %v", rows, err)
	}
	for _, r := range rows {
		if strings.Contains(r.SealedToken, w.hook(r.Event).SignatureToken) || !strings.HasPrefix(r.SealedToken, "enc.") {
			t.Fatalf("the signature token is not sealed: %q", r.SealedToken)
		}
	}
}

func TestStageChangeInLeverIsApplied(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cand, opp := w.linked("New lead")
	before := len(w.jobs.applies())
	if _, err := w.sc.MoveLeverStage(w.ctx, opp, simclient.LeverStageMove{Stage: "Responded"}); err != nil {
		t.Fatal(err)
	}
	a := w.nextApply(before)
	evs := w.pub.all()
	if len(evs) != 1 {
		t.Fatalf("events: %+v", evs)
	}
	p, ok := evs[0].Payload.(*atsbridgev1.AtsStageChanged)
	if !ok || evs[0].Type != inbound.EventStageChanged || evs[0].AggregateID != cand || evs[0].OrganizationID != w.org ||
		p.GetToStageId() != w.tandem[w.stages["Responded"]] || p.GetAtsStageId() != w.stages["Responded"] || p.GetMappingVersion() != 1 ||
		p.GetRule() != "Lever 'Responded' → Tandem 'T Responded'" || evs[0].Version <= 0 || p.GetOrigin() != inbound.OriginWebhook {
		t.Fatalf("event: %+v %+v", evs[0], p)
	}
	if got := w.audits(cand); len(got) != 1 || got[0].Action != inbound.ActionApplyStage || got[0].Direction != "inbound" || got[0].Outcome != "succeeded" ||
		got[0].Rule != p.GetRule() || strings.Contains(got[0].Request, "signature\": \"") || !strings.Contains(got[0].Request, opp) {
		t.Fatalf("audit: %+v", got)
	}
	for _, r := range w.audits(cand) {
		if strings.Contains(r.Request, `"token"`) || strings.Contains(r.Request, `"signature"`) {
			t.Fatalf("the audit keeps a secret: %s", r.Request)
		}
	}
	if s := w.deliveryState(a.DeliveryID); s != store.DeliveryApplied {
		t.Fatalf("delivery state %s", s)
	}
	link, err := w.st.LinkByOpportunity(w.ctx, w.connID, opp)
	if err != nil || link.ATS.StageID != w.stages["Responded"] || link.LastInboundAt == nil {
		t.Fatalf("link: %+v, %v", link, err)
	}
	// Running the job again changes nothing.
	if err := w.worker.Work(w.ctx, &river.Job[inbound.ApplyArgs]{JobRow: &rivertype.JobRow{Attempt: 2}, Args: a}); err != nil || len(w.pub.all()) != 1 {
		t.Fatalf("second run: %v, %d events", err, len(w.pub.all()))
	}

	// Archived in Lever, then restored.
	before = len(w.jobs.applies())
	if _, err := w.sc.ArchiveLever(w.ctx, opp, simclient.LeverArchive{Reason: "Underqualified"}); err != nil {
		t.Fatal(err)
	}
	w.nextApply(before)
	evs = w.pub.all()
	if p := evs[len(evs)-1].Payload.(*atsbridgev1.AtsStageChanged); len(evs) != 2 || p.GetArchiveReasonId() != w.reasons["Underqualified"] ||
		p.GetToStageId() != w.tandem["archived:"+w.reasons["Underqualified"]] {
		t.Fatalf("archive: %d events, %+v; audit %+v", len(evs), p, w.audits(cand))
	}
	before = len(w.jobs.applies())
	if _, err := w.sc.ArchiveLever(w.ctx, opp, simclient.LeverArchive{}); err != nil {
		t.Fatal(err)
	}
	w.nextApply(before)
	evs = w.pub.all()
	if p := evs[len(evs)-1].Payload.(*atsbridgev1.AtsStageChanged); len(evs) != 3 || p.GetAtsStageId() != w.stages["Responded"] ||
		p.GetToStageId() != w.tandem[w.stages["Responded"]] {
		t.Fatalf("restore: %d events, %+v", len(evs), p)
	}
}

func TestEchoOfAPushIsSuppressed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cand, opp := w.linked("New lead")
	// A push is writing "Reached out" (the push engine's marker).
	if err := w.st.InTx(w.ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(w.ctx, `UPDATE candidate_links SET pending_stage_id = $2 WHERE remote_opportunity_id = $1`, opp, w.stages["Reached out"])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before := len(w.jobs.applies())
	if _, err := w.sc.MoveLeverStage(w.ctx, opp, simclient.LeverStageMove{Stage: "Reached out"}); err != nil {
		t.Fatal(err)
	}
	a := w.nextApply(before)
	if len(w.pub.all()) != 0 {
		t.Fatalf("an echo was published: %+v", w.pub.all())
	}
	if got := w.audits(cand); len(got) != 1 || got[0].Action != inbound.ActionEchoSuppressed || got[0].Outcome != "skipped" {
		t.Fatalf("audit: %+v", got)
	}
	if s := w.deliveryState(a.DeliveryID); s != store.DeliveryIgnored {
		t.Fatalf("delivery state %s", s)
	}
	// An archive push is recognised the same way.
	if err := w.st.InTx(w.ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(w.ctx, `UPDATE candidate_links SET pending_stage_id = $2 WHERE remote_opportunity_id = $1`, opp, inbound.PendingArchivePrefix+w.reasons["Underqualified"])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before = len(w.jobs.applies())
	if _, err := w.sc.ArchiveLever(w.ctx, opp, simclient.LeverArchive{Reason: "Underqualified"}); err != nil {
		t.Fatal(err)
	}
	w.nextApply(before)
	if got := w.audits(cand); len(w.pub.all()) != 0 || len(got) != 2 || got[1].Action != inbound.ActionEchoSuppressed {
		t.Fatalf("archive echo: %d events, %+v", len(w.pub.all()), got)
	}
}

func TestStaleUnknownAndTestDeliveries(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cand, opp := w.linked("New lead")
	token := w.hook(lever.EventCandidateStageChange).SignatureToken
	now := time.Now().UnixMilli()
	newer := signed(t, token, lever.EventCandidateStageChange, now, map[string]any{"opportunityId": opp, "toStageId": w.stages["Responded"]})
	older := signed(t, token, lever.EventCandidateStageChange, now-60_000, map[string]any{"opportunityId": opp, "toStageId": w.stages["Reached out"]})
	for i, raw := range [][]byte{newer, older} {
		if out, err := w.receiver.Receive(w.ctx, w.connID, raw); err != nil || out != inbound.OutcomeAccepted {
			t.Fatalf("delivery %d: %s, %v", i, out, err)
		}
		w.nextApply(i)
	}
	got := w.audits(cand)
	if len(got) != 2 || got[0].Action != inbound.ActionApplyStage || got[1].Action != inbound.ActionSkipped || !strings.Contains(got[1].Error, "stale") ||
		len(w.pub.all()) != 1 {
		t.Fatalf("stale: %+v, %d events", got, len(w.pub.all()))
	}
	// The same delivery again is acknowledged and ignored: nothing enqueued.
	if out, err := w.receiver.Receive(w.ctx, w.connID, newer); err != nil || out != inbound.OutcomeDuplicate || len(w.jobs.applies()) != 2 {
		t.Fatalf("replay: %s, %v, %d jobs", out, err, len(w.jobs.applies()))
	}
	// So is its signed token under another id with other data.
	var m map[string]any
	if err := json.Unmarshal(newer, &m); err != nil {
		t.Fatal(err)
	}
	m["id"] = uuid.NewString()
	m["data"] = map[string]any{"opportunityId": opp, "toStageId": w.stages["Offer"]}
	forged, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := w.receiver.Receive(w.ctx, w.connID, forged); err != nil || out != inbound.OutcomeDuplicate || len(w.jobs.applies()) != 2 {
		t.Fatalf("a replayed token under a new id: %s, %v", out, err)
	}

	// An opportunity nobody linked is skipped.
	raw := signed(t, token, lever.EventCandidateStageChange, now, map[string]any{"opportunityId": "not-linked", "toStageId": w.stages["Responded"]})
	if out, err := w.receiver.Receive(w.ctx, w.connID, raw); err != nil || out != inbound.OutcomeAccepted {
		t.Fatalf("unlinked: %s, %v", out, err)
	}
	a := w.nextApply(2)
	if s := w.deliveryState(a.DeliveryID); s != store.DeliveryIgnored || len(w.pub.all()) != 1 {
		t.Fatalf("unlinked: %s, %d events", s, len(w.pub.all()))
	}
	if all := w.audits(""); all[len(all)-1].Action != inbound.ActionSkipped || !strings.Contains(all[len(all)-1].Error, "no Tandem candidate") {
		t.Fatalf("unlinked audit: %+v", all[len(all)-1])
	}

	// Lever's connection test is acknowledged and stored as ignored.
	d, err := w.sc.TestLeverWebhook(w.ctx, w.hook(lever.EventCandidateStageChange).ID)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := w.sc.LeverDeliveries(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := false
		for _, x := range ds {
			if x.ID == d.ID && x.State == "delivered" {
				done = true
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection test was not delivered")
		}
		select {
		case <-w.statuses:
		case <-time.After(20 * time.Millisecond):
		}
	}
	if s := w.deliveryState(d.ID); s != store.DeliveryIgnored || len(w.jobs.applies()) != 3 {
		t.Fatalf("connection test: %s, %d jobs", s, len(w.jobs.applies()))
	}
}

func TestRefusedDeliveries(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, opp := w.linked("New lead")
	data := map[string]any{"opportunityId": opp, "toStageId": w.stages["Responded"]}
	now := time.Now().UnixMilli()
	good := signed(t, w.hook(lever.EventCandidateStageChange).SignatureToken, lever.EventCandidateStageChange, now, data)
	var unsigned map[string]any
	if err := json.Unmarshal(good, &unsigned); err != nil {
		t.Fatal(err)
	}
	delete(unsigned, "signature")
	unsignedRaw, err := json.Marshal(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		conn string
		raw  []byte
		want error
	}{
		"wrong signature":       {w.connID, signed(t, "not-the-token", lever.EventCandidateStageChange, now, data), inbound.ErrBadSignature},
		"another event's token": {w.connID, signed(t, w.hook(lever.EventCandidateArchiveChange).SignatureToken, lever.EventCandidateStageChange, now, data), inbound.ErrBadSignature},
		"unsigned":              {w.connID, unsignedRaw, inbound.ErrUnsigned},
		"not JSON":              {w.connID, []byte("<xml/>"), inbound.ErrMalformed},
		"unknown connection":    {uuid.NewString(), good, inbound.ErrUnknownConnection},
		"not a connection id":   {"../x", good, inbound.ErrUnknownConnection},
	} {
		if out, err := w.receiver.Receive(w.ctx, c.conn, c.raw); !errors.Is(err, c.want) {
			t.Errorf("%s: %s, %v, want %v", name, out, err, c.want)
		}
	}
	if n := len(w.jobs.applies()); n != 0 {
		t.Fatalf("%d deliveries taken", n)
	}
	var stored int
	if err := w.st.InTx(w.ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(w.ctx, `SELECT count(*) FROM ats_webhook_deliveries`).Scan(&stored)
	}); err != nil || stored != 0 {
		t.Fatalf("%d deliveries stored, %v", stored, err)
	}
}
