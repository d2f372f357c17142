package authz

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/platform/pgtest"
)

// record is identity's durable record of ended sessions, as a fake.
type record struct {
	revoked map[string]bool
	err     error
	asked   atomic.Int32
}

func (r *record) SessionRevoked(_ context.Context, id string) (bool, error) {
	r.asked.Add(1)
	return r.revoked[id], r.err
}

func TestDurableRevocationsAskTheRecordWhileTheSetIsIncomplete(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	ctx := t.Context()
	fast := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	rec := &record{revoked: map[string]bool{"ses_out": true}}
	d := DurableRevocations{Redis: fast, Record: rec}

	// No marker yet: Redis cannot say "not revoked", the record does.
	if revoked, err := d.SessionRevoked(ctx, "ses_out"); err != nil || !revoked {
		t.Fatalf("a session ended in the record, no marker: revoked=%v err=%v", revoked, err)
	}
	if revoked, err := d.SessionRevoked(ctx, "ses_live"); err != nil || revoked {
		t.Fatalf("a live session, no marker: revoked=%v err=%v", revoked, err)
	}
	if n := rec.asked.Load(); n != 2 {
		t.Fatalf("the record was asked %d times, want 2", n)
	}

	// Identity restores the set from its record: Redis answers alone.
	until := time.Now().Add(10 * time.Minute)
	if err := fast.Restore(ctx, []Revocation{{SessionID: "ses_out", Until: until}}, "test"); err != nil {
		t.Fatal(err)
	}
	rec.asked.Store(0)
	for id, want := range map[string]bool{"ses_out": true, "ses_live": false} {
		if revoked, err := d.SessionRevoked(ctx, id); err != nil || revoked != want {
			t.Fatalf("%s after Restore: revoked=%v err=%v, want %v", id, revoked, err, want)
		}
	}
	if n := rec.asked.Load(); n != 0 {
		t.Fatalf("a complete set still asked the record %d times", n)
	}

	// Redis loses everything: the marker goes with the set, and the
	// ended session stays ended.
	if _, err := pgtest.DeleteRedisPrefix(ctx, rdb, fast.Prefix); err != nil {
		t.Fatal(err)
	}
	if revoked, err := d.SessionRevoked(ctx, "ses_out"); err != nil || !revoked {
		t.Fatalf("after Redis lost its keys: revoked=%v err=%v, want revoked", revoked, err)
	}
	if n := rec.asked.Load(); n != 1 {
		t.Fatalf("after the loss the record was asked %d times, want 1", n)
	}
}

func TestDurableRevocationsFailClosed(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	fast := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	down := errors.New("identity unreachable")
	d := DurableRevocations{Redis: fast, Record: &record{err: down}}
	if _, err := d.SessionRevoked(t.Context(), "ses_1"); !errors.Is(err, down) {
		t.Fatalf("record down, no marker: err=%v, want the record's error", err)
	}
	if _, err := (DurableRevocations{Redis: fast}).SessionRevoked(t.Context(), "ses_1"); err == nil {
		t.Fatal("no marker and no record: want an error, not an answer")
	}
	// Through the Authenticator, that is Unavailable, not a way in.
	w := newWorld(t, d)
	_, err := w.auth.Authenticate(incoming("authorization", "Bearer "+w.session(t, RoleAdmin, "ses_1")), mRoles)
	if st, _ := grpcserver.ToStatus(err); st.Code() != codes.Unavailable {
		t.Fatalf("status = %v, want Unavailable", st.Code())
	}
}

func TestRestoreRefusesBadInput(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	fast := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	if err := fast.Restore(t.Context(), []Revocation{{SessionID: "ses_1"}}, "test"); err == nil {
		t.Fatal("a revocation without an expiry was restored")
	}
	if complete, err := fast.Complete(t.Context()); err != nil || complete {
		t.Fatalf("a refused Restore wrote the marker: complete=%v err=%v", complete, err)
	}
}
