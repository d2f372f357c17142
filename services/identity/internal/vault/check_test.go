package vault_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/pgtest"

	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// Issue 16, item 3: Check says whether a connection's credentials are
// really there, restores what Redis lost from the durable copy without a
// refresh, and turns a connection whose credentials are gone from both
// into reconnect_required.
func TestCheck(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	rdb := e.redis()
	ctx := t.Context()
	creds := e.connect(adele)
	e.put(v, "org-1", "conn-1", creds)
	before := e.refreshGrants()

	if err := v.Check(ctx, "org-1", "conn-1"); err != nil {
		t.Fatalf("credentials in place: %v", err)
	}
	// Redis lost them: they come back from the durable copy.
	pgtest.FlushPrefix(t, rdb, e.prefix)
	if err := v.Check(ctx, "org-1", "conn-1"); err != nil {
		t.Fatalf("after a Redis loss: %v", err)
	}
	if n, err := rdb.Exists(ctx, vault.CredentialKeys(e.prefix).Key("conn-1")).Result(); err != nil || n != 1 {
		t.Fatalf("not restored to Redis: %d %v", n, err)
	}
	if recon, _ := e.sink.counts(); recon != 0 || e.refreshGrants() != before {
		t.Fatalf("a check of a restorable connection: %d reconnects, %d refreshes", recon, e.refreshGrants()-before)
	}
	// Gone from both: reconnect_required, and the sink hears of it.
	if err := e.kept.Delete(ctx, "conn-1"); err != nil {
		t.Fatal(err)
	}
	pgtest.FlushPrefix(t, rdb, e.prefix)
	err := v.Check(ctx, "org-1", "conn-1")
	if reason, ok := vault.ReconnectReason(err); !ok || reason == "" || !errors.Is(err, vault.ErrReconnectRequired) {
		t.Fatalf("credentials gone for good: %v", err)
	}
	if recon, _ := e.sink.counts(); recon != 1 {
		t.Fatalf("sink told %d times, want 1", recon)
	}
	// Another organization's connection is not found.
	e.put(v, "org-1", "conn-2", creds)
	if err := v.Check(ctx, "org-2", "conn-2"); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("another organization's connection: %v", err)
	}
}

type fakeConnected struct {
	refs  []vault.ConnectionRef
	pages []string
	err   error
}

func (f *fakeConnected) ListConnected(_ context.Context, afterID string, limit int) ([]vault.ConnectionRef, error) {
	f.pages = append(f.pages, afterID)
	if f.err != nil {
		return nil, f.err
	}
	i, _ := slices.BinarySearchFunc(f.refs, afterID, func(r vault.ConnectionRef, id string) int {
		switch {
		case r.ConnectionID < id:
			return -1
		case r.ConnectionID > id:
			return 1
		}
		return 0
	})
	if i < len(f.refs) && f.refs[i].ConnectionID == afterID {
		i++
	}
	return f.refs[i:min(i+limit, len(f.refs))], nil
}

type fakeChecker struct {
	mu      sync.Mutex
	results map[string]error
	checked []string
}

func (f *fakeChecker) Check(_ context.Context, org, conn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked = append(f.checked, org+"/"+conn)
	return f.results[conn]
}

// The background check walks every connected connection, however many
// pages, idle or not; one that fails is counted and left for the next run.
func TestCheckConnectionsWorker(t *testing.T) {
	conns := &fakeConnected{}
	var want []string
	for i := range 1203 {
		id := string(rune('a'+i/676)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
		conns.refs = append(conns.refs, vault.ConnectionRef{OrgID: "o", ConnectionID: id})
		want = append(want, "o/"+id)
	}
	check := &fakeChecker{results: map[string]error{
		"aab": apperr.FailedPrecondition("reconnect_required", "x").Wrap(vault.ErrReconnectRequired),
		"aac": apperr.Unavailable("redis down", errors.New("dial")),
	}}
	w := vault.NewCheckConnectionsWorker(check, conns, nil)
	if err := w.Work(t.Context(), &river.Job[vault.CheckConnectionsArgs]{}); err != nil {
		t.Fatalf("one bad connection failed the job: %v", err)
	}
	slices.Sort(check.checked)
	if !slices.Equal(check.checked, want) {
		t.Fatalf("checked %d connections, want each of %d once", len(check.checked), len(want))
	}
	if len(conns.pages) != 3 || conns.pages[0] != "" {
		t.Fatalf("pages after %q, want three pages from the start", conns.pages)
	}

	// A list that cannot be read fails the job, for River to run again.
	if err := vault.NewCheckConnectionsWorker(check, &fakeConnected{err: errors.New("pg down")}, nil).
		Work(t.Context(), &river.Job[vault.CheckConnectionsArgs]{}); err == nil {
		t.Fatal("a failed list was not reported")
	}
}
