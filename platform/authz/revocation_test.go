package authz

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisRevocations(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	r := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	ctx := t.Context()

	if revoked, err := r.SessionRevoked(ctx, "ses_1"); err != nil || revoked {
		t.Fatalf("fresh session: revoked=%v err=%v", revoked, err)
	}
	until := time.Now().Add(15 * time.Minute)
	if err := r.Revoke(ctx, "ses_1", until); err != nil {
		t.Fatal(err)
	}
	if revoked, err := r.SessionRevoked(ctx, "ses_1"); err != nil || !revoked {
		t.Fatalf("after Revoke: revoked=%v err=%v", revoked, err)
	}
	if revoked, err := r.SessionRevoked(ctx, "ses_2"); err != nil || revoked {
		t.Fatalf("revoking one session revoked another (err %v)", err)
	}

	// The entry outlives the last token by the verifiers' leeway, and no
	// more: Redis keeps the set small by itself.
	key := r.Prefix + "shared:revoked-session:ses_1"
	at, err := rdb.PExpireTime(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := at.Milliseconds(), until.Add(MaxLeeway).UnixMilli(); got != want {
		t.Fatalf("entry expires at %d ms, want %d", got, want)
	}
}

func TestRedisRevocationsPrefixIsolates(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	a := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	b := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	if err := a.Revoke(t.Context(), "ses_1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if revoked, err := b.SessionRevoked(t.Context(), "ses_1"); err != nil || revoked {
		t.Fatalf("a revocation crossed prefixes (err %v)", err)
	}
}

func TestRedisRevocationsLongExpiredIsNotKept(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	r := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	// Tokens that expired long ago are refused by their exp: nothing to keep.
	if err := r.Revoke(t.Context(), "ses_old", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if revoked, err := r.SessionRevoked(t.Context(), "ses_old"); err != nil || revoked {
		t.Fatalf("revoked=%v err=%v, want the entry gone", revoked, err)
	}
}

func TestRedisRevocationsRefusesBadInput(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	r := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	if err := r.Revoke(t.Context(), "", time.Now().Add(time.Minute)); err == nil {
		t.Fatal("empty session id accepted")
	}
	if err := r.Revoke(t.Context(), "ses_1", time.Time{}); err == nil {
		t.Fatal("zero expiry accepted: the entry would never expire")
	}
}

func TestRedisRevocationsReportErrors(t *testing.T) {
	t.Parallel()
	// A closed client fails every command, as an unreachable Redis would.
	rdb := newRedis(t)
	closed := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr})
	_ = closed.Close()
	r := RedisRevocations{Client: closed, Prefix: "test:unused:"}
	if _, err := r.SessionRevoked(t.Context(), "ses_1"); err == nil || !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("err = %v, want the Redis error", err)
	}
}
