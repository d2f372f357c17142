package sessions

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

type fakeRecord struct {
	ended []store.RevokedSession
	err   error
	since time.Time
}

func (f *fakeRecord) SessionEnded(_ context.Context, id string) (bool, error) {
	for _, e := range f.ended {
		if e.ID == id {
			return true, nil
		}
	}
	return false, f.err
}

func (f *fakeRecord) SessionsRevokedSince(_ context.Context, since time.Time) ([]store.RevokedSession, error) {
	f.since = since
	return f.ended, f.err
}

// Identity writes the revocation set from Postgres, and writes it again
// after Redis lost it, so every service's verifier goes back to Redis alone
// (issue 16, item 1).
func TestRevocationsRestoreTheSet(t *testing.T) {
	t.Parallel()
	rdb := pgtest.NewRedis(t)
	fast := authz.RedisRevocations{Client: rdb, Prefix: pgtest.RedisPrefixCleaned(t, rdb)}
	now := time.Now()
	rec := &fakeRecord{ended: []store.RevokedSession{{ID: "s-out", RevokedAt: now.Add(-time.Minute)}}}
	r := NewRevocations(rec, fast, 10*time.Minute, nil)
	r.now = func() time.Time { return now }

	ctx := t.Context()
	if n, err := r.Restore(ctx); err != nil || n != 1 {
		t.Fatalf("restore: %d, %v", n, err)
	}
	if want := now.Add(-10*time.Minute - authz.MaxLeeway); !rec.since.Equal(want) {
		t.Fatalf("read sessions ended since %v, want %v", rec.since, want)
	}
	revoked, complete, err := fast.Lookup(ctx, "s-out")
	if err != nil || !revoked || !complete {
		t.Fatalf("after restore: revoked=%v complete=%v err=%v", revoked, complete, err)
	}
	at, err := rdb.PExpireTime(ctx, authz.RevokedSessionKeys(fast.Prefix).Key("s-out")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := at.Milliseconds(), now.Add(-time.Minute+10*time.Minute+authz.MaxLeeway).UnixMilli(); got != want {
		t.Fatalf("entry expires at %d, want %d: the last token's expiry plus leeway", got, want)
	}

	// Redis loses everything; the keeper writes the set back.
	r.now = time.Now
	keepCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.Keep(keepCtx, 50*time.Millisecond); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	if _, err := pgtest.DeleteRedisPrefix(ctx, rdb, fast.Prefix); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		revoked, complete, err := fast.Lookup(ctx, "s-out")
		if err != nil || !revoked || !complete {
			return errors.New("the set is not back yet")
		}
		return nil
	})
}

func TestRevocationsRestoreFailureWritesNoMarker(t *testing.T) {
	t.Parallel()
	rdb := pgtest.NewRedis(t)
	fast := authz.RedisRevocations{Client: rdb, Prefix: pgtest.RedisPrefixCleaned(t, rdb)}
	r := NewRevocations(&fakeRecord{err: errors.New("postgres down")}, fast, 0, nil)
	if _, err := r.Restore(t.Context()); err == nil {
		t.Fatal("restore without the record: want an error")
	}
	if complete, err := fast.Complete(t.Context()); err != nil || complete {
		t.Fatalf("a failed restore wrote the marker: complete=%v err=%v", complete, err)
	}
}
