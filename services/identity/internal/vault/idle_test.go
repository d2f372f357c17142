package vault_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/apperr"

	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

type fakeIdle struct {
	refs   []vault.ConnectionRef
	err    error
	before time.Time
	limit  int
}

func (f *fakeIdle) ListIdle(_ context.Context, refreshedBefore time.Time, limit int) ([]vault.ConnectionRef, error) {
	f.before, f.limit = refreshedBefore, limit
	return f.refs, f.err
}

type fakeForce struct {
	mu      sync.Mutex
	results map[string]error
	called  []string
}

func (f *fakeForce) ForceRefresh(_ context.Context, org, conn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called = append(f.called, org+"/"+conn)
	return f.results[conn]
}

// job is what River hands the worker; the worker reads only the args.
func job(args vault.RefreshIdleArgs) *river.Job[vault.RefreshIdleArgs] {
	return &river.Job[vault.RefreshIdleArgs]{Args: args}
}

func TestRefreshIdleWorker(t *testing.T) {
	idle := &fakeIdle{refs: []vault.ConnectionRef{
		{OrgID: "o1", ConnectionID: "revoked"},
		{OrgID: "o1", ConnectionID: "ok-1"},
		{OrgID: "o2", ConnectionID: "down"},
		{OrgID: "o2", ConnectionID: "ok-2"},
	}}
	force := &fakeForce{results: map[string]error{
		"revoked": apperr.FailedPrecondition("reconnect_required", "x").Wrap(vault.ErrReconnectRequired),
		"down":    apperr.Unavailable("provider down", errors.New("503")),
	}}
	w := vault.NewRefreshIdleWorker(force, idle, nil)

	start := time.Now()
	if err := w.Work(t.Context(), job(vault.RefreshIdleArgs{})); err != nil {
		t.Fatalf("one bad connection failed the job: %v", err)
	}
	slices.Sort(force.called)
	if want := []string{"o1/ok-1", "o1/revoked", "o2/down", "o2/ok-2"}; !slices.Equal(force.called, want) {
		t.Fatalf("refreshed %v, want %v", force.called, want)
	}
	if idle.limit != vault.DefaultIdleBatch {
		t.Errorf("limit %d", idle.limit)
	}
	if want := start.Add(-vault.DefaultIdleFor); idle.before.Before(want.Add(-time.Second)) || idle.before.After(time.Now().Add(-vault.DefaultIdleFor)) {
		t.Errorf("refreshedBefore %s, want about %s", idle.before, want)
	}

	// Arguments are honoured.
	if err := w.Work(t.Context(), job(vault.RefreshIdleArgs{IdleFor: time.Hour, Limit: 7})); err != nil {
		t.Fatal(err)
	}
	if idle.limit != 7 || time.Since(idle.before) < time.Hour || time.Since(idle.before) > time.Hour+time.Minute {
		t.Errorf("limit %d, refreshedBefore %s ago", idle.limit, time.Since(idle.before))
	}

	// The list failing fails the job, for River to retry.
	idle.err = errors.New("postgres is down")
	if err := w.Work(t.Context(), job(vault.RefreshIdleArgs{})); err == nil {
		t.Fatal("a failed list did not fail the job")
	}

	// A cancelled job stops.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	idle.err = nil
	if err := w.Work(ctx, job(vault.RefreshIdleArgs{})); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled job: %v", err)
	}

	if w.Timeout(job(vault.RefreshIdleArgs{})) < 5*time.Minute {
		t.Error("a batch of provider round trips needs more than River's default minute")
	}
	if vault.RefreshIdlePeriodicJob(0, 0) == nil {
		t.Fatal("no periodic job")
	}
	if (vault.RefreshIdleArgs{}).Kind() != "vault_refresh_idle" {
		t.Fatal("kind changed: queued jobs would find no worker")
	}
}

// The worker against the real vault: a valid but idle token is refreshed,
// so its refresh token is renewed before it ages out.
func TestRefreshIdleWorkerRefreshesForReal(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	creds := e.connect(adele)
	e.put(v, "org-1", "conn-1", creds)
	before := e.refreshGrants()
	w := vault.NewRefreshIdleWorker(v, &fakeIdle{refs: []vault.ConnectionRef{{OrgID: "org-1", ConnectionID: "conn-1"}}}, e.log)
	if err := w.Work(t.Context(), job(vault.RefreshIdleArgs{})); err != nil {
		t.Fatal(err)
	}
	if n := e.refreshGrants() - before; n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	if got := e.stored(v, "org-1", "conn-1"); got.RefreshToken == creds.RefreshToken || !got.RefreshedAt.After(creds.RefreshedAt) {
		t.Fatal("the idle connection's refresh token was not renewed")
	}
	if _, refr := e.sink.counts(); refr != 1 {
		t.Fatalf("sink heard %d refreshes", refr)
	}
}
