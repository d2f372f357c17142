package connections_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/providerhttp"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/grants"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever/levertest"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store/storetest"
)

// jobs records the imports enqueued.
type jobs struct {
	mu   sync.Mutex
	args []connections.ImportArgs
}

func (j *jobs) InsertTx(_ context.Context, _ pgx.Tx, args river.JobArgs, _ *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.args = append(j.args, args.(connections.ImportArgs))
	return &rivertype.JobInsertResult{}, nil
}

func (j *jobs) last(t *testing.T) connections.ImportArgs {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.args) == 0 {
		t.Fatal("no import was enqueued")
	}
	return j.args[len(j.args)-1]
}

// tokens is identity's GetAccessToken: the simulator's token, or a
// refusal; refreshErr answers a refresh, counted in refreshes.
type tokens struct {
	mu         sync.Mutex
	token      string
	err        error
	refreshErr error
	refreshes  int
}

func (k *tokens) GetAccessToken(_ context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if req.GetRefresh() {
		k.refreshes++
		if k.refreshErr != nil {
			return nil, k.refreshErr
		}
	}
	if k.err != nil {
		return nil, k.err
	}
	return &identityv1.GetAccessTokenResponse{AccessToken: k.token}, nil
}

type world struct {
	t      *testing.T
	sim    *providersim.Sim
	st     *store.Store
	jobs   *jobs
	tokens *tokens
	conns  *connections.Connections
	worker *connections.ImportWorker
	org    string
	connID string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	sim, err := providersim.Start(t.Context(), providersim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	st := store.New(storetest.New(t))
	api, err := lever.New(sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1, MaxRetryAfter: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, sim: sim, st: st, jobs: &jobs{}, tokens: &tokens{token: levertest.AccessToken(t, sim)},
		org: uuid.NewString(), connID: uuid.NewString()}
	w.conns = connections.New(st, w.jobs, connections.RateLimit{PerSecond: 10, Burst: 20}, nil)
	w.worker = connections.NewImportWorker(st, w.tokens, api, nil, nil)
	return w
}

// deliver applies identity's event in a transaction of its own, as the
// sink does.
func (w *world) deliver(status identityv1.ConnectionStatus, reason string, at time.Time) {
	w.t.Helper()
	payload, err := anypb.New(&identityv1.AtsConnectionChanged{ConnectionId: w.connID, Provider: "lever", Status: status, Reason: reason, ChangeTime: timestamppb.New(at)})
	if err != nil {
		w.t.Fatal(err)
	}
	ev := &eventsv1.Event{Id: uuid.NewString(), Type: connections.EventConnectionChanged, OrganizationId: w.org, AggregateId: w.connID, Payload: payload}
	if err := w.st.InTx(w.t.Context(), func(tx pgx.Tx) error { return w.conns.ApplyConnectionChanged(w.t.Context(), tx, ev) }); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) work(args connections.ImportArgs) error {
	return w.worker.Work(w.t.Context(), &river.Job[connections.ImportArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: args})
}

func (w *world) health() connections.Health {
	w.t.Helper()
	h, err := w.conns.Get(w.t.Context(), w.org)
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

func TestConnectImportsTheCatalog(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	if h := w.health(); h.Status != store.StatusDisconnected || h.ID != "" {
		t.Fatalf("before any connection: %+v", h)
	}
	at := time.Now()
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", at)
	if h := w.health(); h.Status != store.StatusSyncing || h.SyncStartedAt == nil || h.LastSyncAt != nil {
		t.Fatalf("while importing: %+v", h.Connection)
	}
	if err := w.work(w.jobs.last(t)); err != nil {
		t.Fatal(err)
	}
	acct, err := w.sim.Client().LeverAccount(ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	h := w.health()
	published := 0
	for _, p := range acct.Postings {
		if p.State == simclient.LeverPublished {
			published++
		}
	}
	if h.Status != store.StatusConnected || h.LastSyncAt == nil || h.LastSuccessAt == nil || h.Counts.Stages != len(acct.Stages) ||
		h.Counts.Postings != len(acct.Postings) || h.Counts.PublishedPostings != published || h.Counts.Users != len(acct.Users) ||
		h.Counts.ArchiveReasons != len(acct.ArchiveReasons) || h.Limit.PerSecond != 10 || h.Errors.Total != 0 {
		t.Fatalf("after the import: %+v (account: %d stages, %d postings, %d users)", h, len(acct.Stages), len(acct.Postings), len(acct.Users))
	}

	// Stages page through in Lever's order.
	var names []string
	for tok, pages := "", 0; ; pages++ {
		p, err := w.conns.Stages(ctx, w.org, 3, tok)
		if err != nil || pages > 20 {
			t.Fatal(err)
		}
		for _, s := range p.Stages {
			names = append(names, s.Name)
		}
		if tok = p.Next; tok == "" {
			break
		}
	}
	want := make([]string, len(acct.Stages))
	for i, s := range acct.Stages {
		want[i] = s.Text
	}
	if !slices.Equal(names, want) {
		t.Fatalf("stages %q, want %q", names, want)
	}
	pub, err := w.conns.Postings(ctx, w.org, true, 0, "")
	if err != nil || len(pub.Postings) != published || slices.ContainsFunc(pub.Postings, func(p store.Posting) bool { return !p.Published() }) {
		t.Fatalf("published postings: %+v, %v", pub, err)
	}
	users, err := w.conns.Users(ctx, w.org, 100, "")
	if err != nil || !slices.ContainsFunc(users.Users, func(u store.User) bool { return u.Email == providersim.DemoLeverSuperAdmin }) {
		t.Fatalf("users: %+v, %v", users, err)
	}
	if _, err := w.conns.Users(ctx, w.org, 10, "%%%"); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Fatalf("a made-up page token: %v", err)
	}

	// Another organization sees none of it.
	other := uuid.NewString()
	if h, err := w.conns.Get(ctx, other); err != nil || h.Status != store.StatusDisconnected || h.ID != "" {
		t.Fatalf("another organization's connection: %+v, %v", h, err)
	}
	if p, err := w.conns.Stages(ctx, other, 0, ""); err != nil || len(p.Stages) != 0 {
		t.Fatalf("another organization's stages: %+v, %v", p, err)
	}

	// An older event changes nothing; a newer one wins, and an import of
	// the generation before lands nothing.
	imported := w.jobs.last(t)
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED, "old news", at.Add(-time.Minute))
	if h := w.health(); h.Status != store.StatusConnected {
		t.Fatalf("an older event applied: %+v", h.Connection)
	}
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", at.Add(time.Minute))
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED, "disconnected by a Super Admin", at.Add(2*time.Minute))
	if err := w.work(imported); err != nil {
		t.Fatal(err)
	}
	if h := w.health(); h.Status != store.StatusDisconnected || h.Reason != "disconnected by a Super Admin" {
		t.Fatalf("after disconnecting: %+v", h.Connection)
	}
}

func TestRevokedTokenNeedsReconnect(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", time.Now())
	if _, err := w.sim.Client().RevokeLever(t.Context(), providersim.DemoLeverAccount, providersim.DefaultLeverClientID); err != nil {
		t.Fatal(err)
	}
	// Identity's refresh is refused too: Lever revoked the grant.
	w.tokens.refreshErr = status.Error(codes.FailedPrecondition, "the connection is reconnect required")
	if err := w.work(w.jobs.last(t)); err != nil {
		t.Fatal(err)
	}
	h := w.health()
	if h.Status != store.StatusReconnectRequired || h.Reason != grants.ReasonRefused || h.Errors.Total != 1 || h.Errors.Last == "" || h.Counts.Stages != 0 ||
		w.tokens.refreshes != 1 {
		t.Fatalf("after Lever refused the token (%d refreshes asked): %+v", w.tokens.refreshes, h)
	}
}

// A 401 of a token that merely went stale is not a revocation: identity
// refreshes it, the import goes again and lands; the connection never
// turns reconnect_required. Identity unable to refresh now is the same.
func TestAStaleTokenIsRefreshedNotRefused(t *testing.T) {
	t.Parallel()
	for name, refreshErr := range map[string]error{"refreshed": nil, "identity unavailable": status.Error(codes.Unavailable, "down")} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", time.Now())
			w.tokens.refreshErr = refreshErr
			if _, err := w.sim.Client().AddFault(t.Context(), simclient.Fault{Endpoint: "lever.listPostings", Status: 401, Count: 1}); err != nil {
				t.Fatal(err)
			}
			err := w.work(w.jobs.last(t))
			if err == nil || !errors.Is(err, lever.ErrUnauthorized) {
				t.Fatalf("a refused token should retry the import: %v", err)
			}
			if h := w.health(); h.Status != store.StatusSyncing || h.Errors.Total != 1 || w.tokens.refreshes != 1 {
				t.Fatalf("after one 401 (%d refreshes asked): %+v", w.tokens.refreshes, h)
			}
			if err := w.work(w.jobs.last(t)); err != nil {
				t.Fatal(err)
			}
			if h := w.health(); h.Status != store.StatusConnected || h.Counts.Postings == 0 {
				t.Fatalf("after the retry: %+v", h)
			}
		})
	}
}

func TestRateLimitSnoozes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", time.Now())
	if _, err := w.sim.Client().AddFault(t.Context(), simclient.Fault{Endpoint: "lever.listStages", Status: 429, RetryAfter: "7", Count: 1}); err != nil {
		t.Fatal(err)
	}
	err := w.work(w.jobs.last(t))
	var snooze *river.JobSnoozeError
	if !errors.As(err, &snooze) || snooze.Duration < time.Second {
		t.Fatalf("a 429 should snooze the import: %v", err)
	}
	if h := w.health(); h.Status != store.StatusSyncing || h.Errors.RateLimited != 1 {
		t.Fatalf("while rate limited: %+v", h)
	}
	// Lever's pause holds for the connection: run again before it ends,
	// the import snoozes without asking Lever again.
	calls, err := w.sim.Client().Counter(t.Context(), "lever.listStages")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.work(w.jobs.last(t)); !errors.As(err, &snooze) {
		t.Fatalf("inside Lever's pause: %v", err)
	}
	if again, err := w.sim.Client().Counter(t.Context(), "lever.listStages"); err != nil || again != calls {
		t.Fatalf("a call went to Lever inside its pause: %d -> %d, %v", calls, again, err)
	}
	// Once the pause is over (a client that never saw it stands for that),
	// the snoozed job finishes.
	api, err := lever.New(w.sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	w.worker = connections.NewImportWorker(w.st, w.tokens, api, nil, nil)
	if err := w.work(w.jobs.last(t)); err != nil {
		t.Fatal(err)
	}
	if h := w.health(); h.Status != store.StatusConnected || h.Counts.Stages == 0 {
		t.Fatalf("after the snooze: %+v", h)
	}
}

func TestNoTokenFromIdentity(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", time.Now())
	w.tokens.err = status.Error(codes.Unavailable, "down")
	if err := w.work(w.jobs.last(t)); err == nil {
		t.Fatal("identity down: the import should be retried")
	}
	w.tokens.err = status.Error(codes.FailedPrecondition, "the connection is reconnect required")
	if err := w.work(w.jobs.last(t)); err != nil {
		t.Fatal(err)
	}
	if h := w.health(); h.Status != store.StatusReconnectRequired || h.Reason != connections.ReasonNoToken || h.Errors.Total != 2 {
		t.Fatalf("without a token: %+v", h)
	}
	// Reconnected in identity: the import runs again, and lands.
	w.tokens.err = nil
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", time.Now().Add(time.Minute))
	if err := w.work(w.jobs.last(t)); err != nil {
		t.Fatal(err)
	}
	if h := w.health(); h.Status != store.StatusConnected || h.Reason != "" || h.Counts.Users == 0 {
		t.Fatalf("after reconnecting: %+v", h)
	}
}

func TestUnreadableEventsAreRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	payload, err := anypb.New(&identityv1.MailboxConnectionChanged{ConnectionId: w.connID})
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range map[string]*eventsv1.Event{
		"another payload": {Id: uuid.NewString(), Type: connections.EventConnectionChanged, OrganizationId: w.org, Payload: payload},
		"no status":       {Id: uuid.NewString(), Type: connections.EventConnectionChanged, OrganizationId: w.org, Payload: mustAny(t, &identityv1.AtsConnectionChanged{ConnectionId: w.connID, Provider: "lever"})},
	} {
		err := w.st.InTx(t.Context(), func(tx pgx.Tx) error { return w.conns.ApplyConnectionChanged(t.Context(), tx, ev) })
		if !errors.Is(err, apperr.ErrInvalidArgument) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if h := w.health(); h.ID != "" {
		t.Fatalf("an unreadable event recorded a connection: %+v", h)
	}
}

func mustAny(t *testing.T, m *identityv1.AtsConnectionChanged) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
