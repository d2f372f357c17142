package authz

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"
)

// go test -run '^$' -bench . -benchmem ./authz

func benchToken(b *testing.B) (SigningKey, string) {
	k := newKey(b, "k1")
	tok, err := newSigner(b, k).Sign(alice, 15*time.Minute, t0)
	if err != nil {
		b.Fatal(err)
	}
	return k, tok
}

func BenchmarkSign(b *testing.B) {
	s := newSigner(b, newKey(b, "k1"))
	for b.Loop() {
		if _, err := s.Sign(alice, 15*time.Minute, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k, tok := benchToken(b)
	v := NewVerifier(StaticKeys{"k1": k.Public()}, VerifierOptions{Now: fixedClock(t0)})
	ctx := b.Context()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedKeys is the verifier as other services run it.
func BenchmarkVerifyCachedKeys(b *testing.B) {
	k, tok := benchToken(b)
	cache := &CachedKeys{Now: fixedClock(t0), Fetch: func(context.Context) (map[string]ed25519.PublicKey, error) {
		return map[string]ed25519.PublicKey{"k1": k.Public()}, nil
	}}
	v := NewVerifier(cache, VerifierOptions{Now: fixedClock(t0)})
	ctx := b.Context()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchAuthenticate(b *testing.B, revocations RevocationChecker) {
	w := newWorld(b, revocations)
	ctx := incoming("authorization", "Bearer "+w.session(b, RoleRecruiter, "ses_bench"))
	for b.Loop() {
		if _, err := w.auth.Authenticate(ctx, mRoles); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateSession is the whole check of a session call, with
// an in-memory revocation list: the CPU cost authz adds to every RPC.
func BenchmarkAuthenticateSession(b *testing.B) { benchAuthenticate(b, notRevoked) }

// BenchmarkAuthenticateSessionRedis adds the revocation lookup in the
// local Redis: one EXISTS round trip.
func BenchmarkAuthenticateSessionRedis(b *testing.B) {
	rdb := newRedis(b)
	benchAuthenticate(b, RedisRevocations{Client: rdb, Prefix: testPrefix(b, rdb)})
}

func BenchmarkAuthenticateService(b *testing.B) {
	w := newWorld(b, notRevoked)
	ctx := incoming(ServiceTokenMetadata, secretB, ServiceNameMetadata, "outreach")
	for b.Loop() {
		if _, err := w.auth.Authenticate(ctx, mInternal); err != nil {
			b.Fatal(err)
		}
	}
}
