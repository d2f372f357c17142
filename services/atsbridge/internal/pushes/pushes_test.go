package pushes_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/providerhttp"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever/levertest"
	"github.com/tandemhq/tandem/services/atsbridge/internal/pushes"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store/storetest"
)

var scopes = []string{"offline_access", "opportunities:write:admin", "notes:write:admin", "stages:read:admin",
	"postings:read:admin", "users:read:admin", "archive_reasons:read:admin"}

// jobs records what is enqueued.
type jobs struct {
	mu      sync.Mutex
	imports []connections.ImportArgs
	pushes  []string
}

func (j *jobs) InsertTx(_ context.Context, _ pgx.Tx, args river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch a := args.(type) {
	case connections.ImportArgs:
		j.imports = append(j.imports, a)
	case pushes.Args:
		j.pushes = append(j.pushes, a.OperationID)
	}
	return &rivertype.JobInsertResult{}, nil
}

// take returns the pushes enqueued since the last take.
func (j *jobs) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.pushes
	j.pushes = nil
	return out
}

type tokens struct {
	mu        sync.Mutex
	token     string
	refused   bool
	refreshes int
}

func (k *tokens) GetAccessToken(_ context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if req.GetRefresh() {
		k.refreshes++
	}
	if k.refused {
		return nil, status.Error(codes.FailedPrecondition, "reconnect_required")
	}
	return &identityv1.GetAccessTokenResponse{AccessToken: k.token}, nil
}

type candidates map[string]pushes.Candidate

func (c candidates) CandidateForSync(_ context.Context, _, id, _ string) (pushes.Candidate, error) {
	cand, ok := c[id]
	if !ok {
		return pushes.Candidate{}, pushes.ErrGone
	}
	return cand, nil
}

type users map[string]string

func (u users) UserEmail(_ context.Context, _, id string) (string, error) {
	e, ok := u[id]
	if !ok {
		return "", pushes.ErrGone
	}
	return e, nil
}

type published struct {
	mu     sync.Mutex
	events []events.Event
}

func (p *published) Publish(_ context.Context, _ pgx.Tx, ev events.Event) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, ev)
	return uuid.NewString(), nil
}

type world struct {
	t       testing.TB
	sim     *providersim.Sim
	pool    *pgxpool.Pool
	st      *store.Store
	jobs    *jobs
	tokens  *tokens
	cands   candidates
	users   users
	pub     *published
	conns   *connections.Connections
	ps      *pushes.Pushes
	org     string
	connID  string
	posting string
	stages  []simclient.LeverStage
	job     int64
	// clock orders the test's events (their versions).
	clock time.Time
}

const recruiter = "user-megan"

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := t.Context()
	sim, err := providersim.Start(ctx, providersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	pool := storetest.New(t)
	st := store.New(pool)
	api, err := lever.New(sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, sim: sim, pool: pool, st: st, jobs: &jobs{}, tokens: &tokens{token: levertest.AccessToken(t, sim, scopes...)},
		cands: candidates{}, users: users{recruiter: providersim.DemoLeverSuperAdmin}, pub: &published{}, org: uuid.NewString(), connID: uuid.NewString(), clock: time.Now()}
	w.ps = pushes.New(st, w.tokens, api, w.cands, w.users, w.pub, pushes.Options{Claim: 10 * time.Second})
	w.ps.SetJobs(w.jobs)
	w.conns = connections.New(st, w.jobs, connections.RateLimit{PerSecond: 10, Burst: 20}, nil)
	w.conns.OnConnected(w.ps.ReleaseHeld)

	// Connected, imported, mapped: New → Lever's first stage, Contacted →
	// its second.
	w.connection(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED)
	importer := connections.NewImportWorker(st, w.tokens, api, nil, nil)
	if err := importer.Work(ctx, &river.Job[connections.ImportArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: w.jobs.imports[0]}); err != nil {
		t.Fatal(err)
	}
	acct, err := sim.Client().LeverAccount(ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	w.stages = acct.Stages
	for _, p := range acct.Postings {
		if p.State == simclient.LeverPublished && w.posting == "" {
			w.posting = p.ID
		}
	}
	if _, err := st.SaveMapping(ctx, w.connID, w.org, 0, store.Table{ToATS: []store.ToATS{
		{TandemStageID: "t-new", ATS: store.Place{StageID: w.stages[0].ID}},
		{TandemStageID: "t-contacted", ATS: store.Place{StageID: w.stages[1].ID}},
		{TandemStageID: "t-lost", ATS: store.Place{ArchiveReasonID: acct.ArchiveReasons[0].ID}},
	}}, "admin"); err != nil {
		t.Fatal(err)
	}
	w.jobs.take()
	return w
}

func (w *world) connection(s identityv1.ConnectionStatus) {
	w.t.Helper()
	w.clock = w.clock.Add(time.Second)
	w.deliver(connections.EventConnectionChanged, &identityv1.AtsConnectionChanged{ConnectionId: w.connID, Provider: "lever", Status: s,
		Reason: "test", ChangeTime: timestamppb.New(w.clock)}, w.conns.ApplyConnectionChanged)
}

func (w *world) deliver(typ string, m proto.Message, h func(context.Context, pgx.Tx, *eventsv1.Event) error) string {
	w.t.Helper()
	payload, err := anypb.New(m)
	if err != nil {
		w.t.Fatal(err)
	}
	ev := &eventsv1.Event{Id: uuid.NewString(), Type: typ, OrganizationId: w.org, AggregateId: "a", Version: w.clock.UnixMicro(), Payload: payload}
	w.redeliver(ev, h)
	return ev.GetId()
}

func (w *world) redeliver(ev *eventsv1.Event, h func(context.Context, pgx.Tx, *eventsv1.Event) error) {
	w.t.Helper()
	if err := w.st.InTx(w.t.Context(), func(tx pgx.Tx) error { return h(w.t.Context(), tx, ev) }); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) enroll(candidateID string) *eventsv1.Event {
	w.t.Helper()
	payload, err := anypb.New(&outreachv1.EnrollmentCreated{EnrollmentId: uuid.NewString(), FlowId: "flow", CandidateId: candidateID, JobId: "job-1", ActorUserId: recruiter})
	if err != nil {
		w.t.Fatal(err)
	}
	ev := &eventsv1.Event{Id: uuid.NewString(), Type: pushes.EventEnrollmentCreated, OrganizationId: w.org, AggregateId: "e", Version: 1, Payload: payload}
	w.redeliver(ev, w.ps.ApplyEnrollmentCreated)
	return ev
}

func (w *world) move(candidateID, stage string, source outreachv1.StageChangeSource) {
	w.t.Helper()
	w.clock = w.clock.Add(time.Second)
	w.deliver(pushes.EventStageChanged, &outreachv1.CandidateStageChanged{CandidateId: candidateID, ToStageId: stage, ToStageName: stage, Source: source,
		ActorUserId: recruiter}, w.ps.ApplyStageChanged)
}

func (w *world) candidate(email string) string {
	id := uuid.NewString()
	w.cands[id] = pushes.Candidate{ID: id, Name: "Candidate " + email, Emails: []string{email}, StageID: "t-new",
		Notes: []pushes.Note{{ID: "n1", Body: "Met at GopherCon", CreatedAt: time.UnixMilli(1_700_000_000_000)}},
		Job:   pushes.Job{ID: "job-1", Source: "lever", ExternalID: w.posting}}
	return id
}

// work runs one push's job as River would.
func (w *world) work(op string) error {
	w.job++
	return w.ps.Worker().Work(w.t.Context(), &river.Job[pushes.Args]{JobRow: &rivertype.JobRow{ID: w.job, Attempt: 1}, Args: pushes.Args{OperationID: op}})
}

// drain works every enqueued push until none is left.
func (w *world) drain() {
	w.t.Helper()
	for range 50 {
		ops := w.jobs.take()
		if len(ops) == 0 {
			return
		}
		for _, op := range ops {
			if err := w.work(op); err != nil {
				w.t.Fatalf("work %s: %v", op, err)
			}
		}
	}
	w.t.Fatal("pushes keep coming")
}

func (w *world) pushState(op string) (state, lastError string) {
	w.t.Helper()
	if err := w.pool.QueryRow(w.t.Context(), `SELECT state, last_error FROM ats_pushes WHERE operation_id = $1`, op).Scan(&state, &lastError); err != nil {
		w.t.Fatal(err)
	}
	return state, lastError
}

func (w *world) opportunities(email string) []simclient.LeverOpportunity {
	w.t.Helper()
	all, err := w.sim.Client().LeverOpportunities(w.t.Context(), providersim.DemoLeverAccount)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []simclient.LeverOpportunity
	for _, o := range all {
		if slices.Contains(o.Emails, email) {
			out = append(out, o)
		}
	}
	return out
}

func (w *world) auditActions(candidateID string) []string {
	w.t.Helper()
	rows, err := w.pool.Query(w.t.Context(), `SELECT action || ':' || outcome FROM sync_audit WHERE candidate_id = $1 ORDER BY id`, candidateID)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func TestEnrollmentCreatesTheOpportunityOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	sam := w.candidate("sam@example.org")
	ev := w.enroll(sam)
	op := "enrollment:" + mustEnrollment(t, ev)
	// A redelivered event adds no second push.
	w.redeliver(ev, w.ps.ApplyEnrollmentCreated)
	if got := w.jobs.take(); !slices.Equal(got, []string{op}) {
		t.Fatalf("enqueued %v, want one push", got)
	}
	if err := w.work(op); err != nil {
		t.Fatal(err)
	}
	opps := w.opportunities("sam@example.org")
	if len(opps) != 1 || opps[0].Origin != "sourced" || opps[0].StageID != w.stages[0].ID || len(opps[0].Notes) != 1 {
		t.Fatalf("opportunities %+v", opps)
	}
	if s, _ := w.pushState(op); s != store.PushSucceeded {
		t.Fatalf("push %s", s)
	}
	if len(w.pub.events) != 1 || w.pub.events[0].Type != pushes.EventLinked {
		t.Fatalf("published %+v", w.pub.events)
	}

	// A worker that died after writing to Lever and before recording it:
	// the push is open again; its next attempt finds the opportunity and its
	// note and writes neither again.
	if _, err := w.pool.Exec(t.Context(), `UPDATE ats_pushes SET state = 'pending', completed_at = NULL WHERE operation_id = $1`, op); err != nil {
		t.Fatal(err)
	}
	if err := w.work(op); err != nil {
		t.Fatal(err)
	}
	if opps := w.opportunities("sam@example.org"); len(opps) != 1 || len(opps[0].Notes) != 1 {
		t.Fatalf("after the retry: %+v", opps)
	}
	if got := w.auditActions(sam); !slices.Equal(got, []string{"create_opportunity:succeeded", "add_note:succeeded", "link_opportunity:succeeded"}) {
		t.Fatalf("audit %v", got)
	}
}

func mustEnrollment(t *testing.T, ev *eventsv1.Event) string {
	t.Helper()
	var p outreachv1.EnrollmentCreated
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		t.Fatal(err)
	}
	return p.GetEnrollmentId()
}

func TestPushesOfACandidateGoInOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ada := w.candidate("ada@example.org")
	w.enroll(ada)
	link := w.jobs.take()
	// The move arrives before the link is made: it waits for it.
	w.move(ada, "t-contacted", outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_USER)
	if got := w.jobs.take(); len(got) != 0 {
		t.Fatalf("a move went ahead of the link: %v", got)
	}
	if err := w.work(link[0]); err != nil {
		t.Fatal(err)
	}
	w.drain()
	opps := w.opportunities("ada@example.org")
	if len(opps) != 1 || opps[0].StageID != w.stages[1].ID {
		t.Fatalf("opportunity %+v", opps)
	}
	// Moves that came from the ATS are not pushed back; an archive stage
	// archives.
	w.move(ada, "t-new", outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_ATS)
	if got := w.jobs.take(); len(got) != 0 {
		t.Fatalf("a move from the ATS was pushed: %v", got)
	}
	w.move(ada, "t-lost", outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_USER)
	w.drain()
	if o := w.opportunities("ada@example.org")[0]; o.ArchivedAt == 0 {
		t.Fatalf("not archived: %+v", o)
	}
	// A candidate the ATS does not know gets no push.
	w.move(uuid.NewString(), "t-contacted", outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_USER)
	if got := w.jobs.take(); len(got) != 0 {
		t.Fatalf("an unknown candidate's move was pushed: %v", got)
	}
	// The link's pending place is cleared once written.
	var pending string
	if err := w.pool.QueryRow(t.Context(), `SELECT pending_stage_id FROM candidate_links WHERE candidate_id = $1`, ada).Scan(&pending); err != nil || pending != "" {
		t.Fatalf("pending %q, %v", pending, err)
	}
}

func TestPushesWaitForReconnection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bo := w.candidate("bo@example.org")
	w.enroll(bo)
	ops := w.jobs.take()
	// Identity refuses the token: the push is held, not failed.
	w.tokens.refused = true
	if err := w.work(ops[0]); err != nil {
		t.Fatal(err)
	}
	if s, _ := w.pushState(ops[0]); s != store.PushHeld {
		t.Fatalf("push %s, want held", s)
	}
	// While the connection needs reconnecting, later pushes wait too.
	w.connection(identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED)
	cy := w.candidate("cy@example.org")
	w.enroll(cy)
	for _, op := range w.jobs.take() {
		if err := w.work(op); err != nil {
			t.Fatal(err)
		}
		if s, _ := w.pushState(op); s != store.PushHeld {
			t.Fatalf("push %s, want held", s)
		}
	}
	if len(w.opportunities("bo@example.org")) != 0 || len(w.opportunities("cy@example.org")) != 0 {
		t.Fatal("a held push reached Lever")
	}
	// Reconnected: both go, once.
	w.tokens.refused = false
	w.connection(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED)
	w.drain()
	if len(w.opportunities("bo@example.org")) != 1 || len(w.opportunities("cy@example.org")) != 1 {
		t.Fatal("the held pushes did not go after reconnection")
	}
	if got := w.auditActions(bo); !slices.Contains(got, "link_candidate:held") || !slices.Contains(got, "create_opportunity:succeeded") {
		t.Fatalf("audit %v", got)
	}
}

func TestARecruiterWithoutALeverUserFailsClearly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.users[recruiter] = "nobody@contoso.example"
	di := w.candidate("di@example.org")
	w.enroll(di)
	ops := w.jobs.take()
	if err := w.work(ops[0]); err != nil {
		t.Fatal(err)
	}
	s, reason := w.pushState(ops[0])
	if s != store.PushFailed || !strings.Contains(reason, "nobody@contoso.example has no active Lever user") {
		t.Fatalf("push %s: %q", s, reason)
	}
	if len(w.opportunities("di@example.org")) != 0 {
		t.Fatal("an opportunity was made without a Lever user to act as")
	}
	if got := w.auditActions(di); !slices.Equal(got, []string{"link_candidate:failed"}) {
		t.Fatalf("audit %v", got)
	}
}

func TestPublicNotesFollowTheCandidate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	eve := w.candidate("eve@example.org")
	w.enroll(eve)
	w.drain()
	note := func(id, body string, private bool) {
		w.deliver(pushes.EventNoteCreated, &outreachv1.NoteChanged{NoteId: id, CandidateId: eve, AuthorUserId: recruiter, Body: body, Private: private,
			CreateTime: timestamppb.New(time.UnixMilli(1_800_000_000_000))}, w.ps.ApplyNoteCreated)
	}
	note("n2", "", true)
	if got := w.jobs.take(); len(got) != 0 {
		t.Fatalf("a private note was pushed: %v", got)
	}
	note("n3", "Available from March", false)
	w.drain()
	o := w.opportunities("eve@example.org")[0]
	if len(o.Notes) != 2 || o.Notes[1].Value != "Available from March" || o.Notes[1].CreatedAt != 1_800_000_000_000 {
		t.Fatalf("notes %+v", o.Notes)
	}
	// The same note again (a push retried after a crash) is not sent twice.
	if _, err := w.pool.Exec(t.Context(), `UPDATE ats_pushes SET state = 'pending' WHERE operation_id = 'note:n3'`); err != nil {
		t.Fatal(err)
	}
	if err := w.work("note:n3"); err != nil {
		t.Fatal(err)
	}
	if o := w.opportunities("eve@example.org")[0]; len(o.Notes) != 2 {
		t.Fatalf("notes after the retry %+v", o.Notes)
	}
}
