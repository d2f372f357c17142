package vault_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/logging/logtest"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/providersim/simclient"

	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// Issue 4's acceptance: 100 concurrent callers on two replicas at expiry
// make exactly one refresh at the provider, all get the same new token,
// and the rotated refresh token is what is stored.
func TestConcurrentCallersAtExpiryRefreshOnce(t *testing.T) {
	e := newEnv(t)
	a, b := e.replica(), e.replica()
	creds := e.connect(adele)
	e.put(a, "org-1", "conn-1", atExpiry(creds))
	// A slow token endpoint keeps the refresh in flight while every caller
	// of both replicas arrives.
	slow := e.fault(simclient.Fault{Endpoint: "microsoft.token", LatencyMs: 150})
	before := e.refreshGrants()

	const callers = 100
	tokens := make([]vault.Token, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		v := a
		if i%2 == 1 {
			v = b
		}
		wg.Go(func() {
			<-start
			tokens[i], errs[i] = v.AccessToken(t.Context(), "org-1", "conn-1")
		})
	}
	close(start)
	wg.Wait()
	e.unfault(slow)

	if n := e.refreshGrants() - before; n != 1 {
		t.Fatalf("%d refresh grants at the provider, want exactly 1", n)
	}
	for i := range callers {
		if errs[i] != nil {
			e.clean(errs[i])
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if tokens[i].Value != tokens[0].Value {
			t.Fatalf("caller %d got another token than caller 0", i)
		}
	}
	if tokens[0].Value == creds.AccessToken || !tokens[0].ExpiresAt.After(time.Now().Add(50*time.Minute)) {
		t.Fatalf("callers got the old or a short-lived token: %v", tokens[0])
	}
	stored := e.stored(b, "org-1", "conn-1")
	if stored.RefreshToken == creds.RefreshToken || stored.AccessToken != tokens[0].Value {
		t.Fatal("the rotated refresh token is not what is stored")
	}
	// The stored refresh token is one the provider issued, and works.
	if _, err := e.tokens.Refresh(t.Context(), stored.RefreshToken, nil); err != nil {
		t.Fatalf("stored refresh token: %v", err)
	}
	if recon, refr := e.sink.counts(); recon != 0 || refr != 1 {
		t.Fatalf("sink heard %d reconnects and %d refreshes, want 0 and 1", recon, refr)
	}
}

func TestValidTokenIsServedAsIs(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	creds := e.connect(adele)
	e.put(v, "org-1", "conn-1", creds)
	before := e.refreshGrants()
	for range 3 {
		tok, err := v.AccessToken(t.Context(), "org-1", "conn-1")
		if err != nil {
			t.Fatal(err)
		}
		if tok.Value != creds.AccessToken || !tok.ExpiresAt.Equal(creds.ExpiresAt) {
			t.Fatalf("got %v, want the stored token", tok)
		}
	}
	if n := e.refreshGrants() - before; n != 0 {
		t.Fatalf("%d refreshes of a valid token", n)
	}
	// Short-lived tokens are refreshed at half their life at the
	// earliest, not on every call: 3 of 4 minutes left is not due, even
	// inside RefreshBefore (5 minutes).
	short := creds
	short.RefreshedAt, short.ExpiresAt = time.Now().Add(-time.Minute), time.Now().Add(3*time.Minute)
	e.put(v, "org-1", "conn-2", short)
	if tok, err := v.AccessToken(t.Context(), "org-1", "conn-2"); err != nil || tok.Value != creds.AccessToken {
		t.Fatalf("short-lived token: %v %v", tok, err)
	}
	if n := e.refreshGrants() - before; n != 0 {
		t.Fatalf("%d refreshes of a short-lived token in its first half", n)
	}
}

func TestRefreshAhead(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	creds := e.connect(adele)
	// Three minutes left of an hour: inside RefreshBefore.
	creds.RefreshedAt, creds.ExpiresAt = time.Now().Add(-57*time.Minute), time.Now().Add(3*time.Minute)
	e.put(v, "org-1", "conn-1", creds)
	before := e.refreshGrants()
	// Still valid: served at once, and refreshed in the background.
	if tok, err := v.AccessToken(t.Context(), "org-1", "conn-1"); err != nil || tok.Value != creds.AccessToken {
		t.Fatalf("a valid token inside RefreshBefore: %v %v", tok, err)
	}
	stored := e.refreshed(v, "org-1", "conn-1", creds.AccessToken)
	if e.refreshGrants()-before != 1 {
		t.Fatal("a token inside RefreshBefore was not refreshed once")
	}
	// The new one is served as is.
	again, err := v.AccessToken(t.Context(), "org-1", "conn-1")
	if err != nil || again.Value != stored.AccessToken || e.refreshGrants()-before != 1 {
		t.Fatalf("after the refresh: %v %v", again, err)
	}
	if len(stored.Scopes) != len(creds.Scopes) || stored.RefreshedAt.Before(creds.RefreshedAt) {
		t.Fatalf("stored %v", stored)
	}
	// A refresher that returns no refresh token keeps the old one.
	keep := e.replica(func(o *vault.Options) {
		o.Refresher = refresherFunc(func(context.Context, string, []string) (vault.Credentials, error) {
			return vault.Credentials{AccessToken: "at-without-rt", ExpiresAt: time.Now().Add(time.Hour)}, nil
		})
	})
	e.secret("at-without-rt")
	if err := keep.ForceRefresh(t.Context(), "org-1", "conn-1"); err != nil {
		t.Fatal(err)
	}
	if got := e.stored(v, "org-1", "conn-1"); got.AccessToken != "at-without-rt" || got.RefreshToken != stored.RefreshToken {
		t.Fatal("a refresh without a refresh token lost the stored one")
	}
}

func TestRevokedGrantNeedsReconnect(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		revoke       func(e *env)
	}{
		{"sessions revoked", "refresh token expired or revoked", func(e *env) {
			if _, err := e.ctl.RevokeSessions(e.t.Context(), adele); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"consent withdrawn", "consent was withdrawn or never given", func(e *env) {
			u, err := e.ctl.User(e.t.Context(), adele)
			if err != nil {
				e.t.Fatal(err)
			}
			if _, err := e.ctl.RevokeConsent(e.t.Context(), simclient.Grant{ClientID: "tandem-local", TenantID: u.TenantID, UserID: u.ID}); err != nil {
				e.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			v := e.replica()
			e.put(v, "org-1", "conn-1", atExpiry(e.connect(adele)))
			tc.revoke(e)
			before := e.refreshGrants()

			_, err := v.AccessToken(t.Context(), "org-1", "conn-1")
			e.clean(err)
			wantReconnect(t, err, tc.reason)
			if got := e.sink.lastReconnect(); got.org != "org-1" || got.conn != "conn-1" || got.reason != tc.reason {
				t.Fatalf("sink heard %+v", got)
			}
			// Later calls, on any replica, fail at once: the provider
			// is not asked again, nor the sink told again.
			other := e.replica()
			for _, call := range []func() error{
				func() error { _, err := v.AccessToken(t.Context(), "org-1", "conn-1"); return err },
				func() error { _, err := other.AccessToken(t.Context(), "org-1", "conn-1"); return err },
				func() error { return other.ForceRefresh(t.Context(), "org-1", "conn-1") },
			} {
				wantReconnect(t, call(), tc.reason)
			}
			if n := e.refreshGrants() - before; n != 1 {
				t.Fatalf("%d refresh grants, want 1", n)
			}
			if recon, _ := e.sink.counts(); recon != 1 {
				t.Fatalf("sink told %d times", recon)
			}
			// Reconnecting (a new sign-in, Put) brings the connection back.
			fresh := e.connect(adele)
			e.put(v, "org-1", "conn-1", fresh)
			if tok, err := other.AccessToken(t.Context(), "org-1", "conn-1"); err != nil || tok.Value != fresh.AccessToken {
				t.Fatalf("after reconnecting: %v %v", tok, err)
			}
		})
	}
}

// If the sink cannot record the refusal, nothing is remembered, so the
// next call tries again and the refusal is not lost.
func TestRefusalNotRememberedUnlessRecorded(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	e.put(v, "org-1", "conn-1", atExpiry(e.connect(adele)))
	if _, err := e.ctl.RevokeSessions(t.Context(), adele); err != nil {
		t.Fatal(err)
	}
	e.sink.mu.Lock()
	e.sink.fail = errors.New("postgres is down")
	e.sink.mu.Unlock()
	before := e.refreshGrants()
	_, err := v.AccessToken(t.Context(), "org-1", "conn-1")
	wantReconnect(t, err, "refresh token expired or revoked")
	e.sink.mu.Lock()
	e.sink.fail = nil
	e.sink.mu.Unlock()
	_, err = v.AccessToken(t.Context(), "org-1", "conn-1")
	wantReconnect(t, err, "refresh token expired or revoked")
	if n := e.refreshGrants() - before; n != 2 {
		t.Fatalf("%d refresh grants, want 2 (the second to record the refusal)", n)
	}
	if recon, _ := e.sink.counts(); recon != 1 {
		t.Fatalf("sink recorded %d refusals, want 1", recon)
	}
}

// rotating makes the simulator behave like Lever: a refresh token dies when
// it is used. Refresh tokens it has seen used are refused with
// invalid_grant, as Auth0 does.
type rotating struct {
	inner vault.Refresher
	mu    sync.Mutex
	used  map[string]bool
	// before runs once, before the first refresh, with its refresh token.
	before func(rt string)
}

func (r *rotating) Refresh(ctx context.Context, rt string, scopes []string) (vault.Credentials, error) {
	r.mu.Lock()
	hook := r.before
	r.before = nil
	r.mu.Unlock()
	if hook != nil {
		hook(rt)
	}
	r.mu.Lock()
	dead := r.used[rt]
	r.used[rt] = true
	r.mu.Unlock()
	if dead {
		return vault.Credentials{}, rotatedAway{}
	}
	return r.inner.Refresh(ctx, rt, scopes)
}

type rotatedAway struct{}

func (rotatedAway) Error() string   { return "invalid_grant: refresh token already used" }
func (rotatedAway) Permanent() bool { return true }
func (rotatedAway) Reason() string  { return "refresh token expired or revoked" }

// Another replica rotates the refresh token between our read and our
// refresh (its lock expired ours, say): our refresh is refused, and the
// vault must notice the newer token instead of giving the connection up.
func TestRotatedByAnotherReplicaMeanwhile(t *testing.T) {
	t.Run("its fresh token is taken", func(t *testing.T) {
		e := newEnv(t)
		provider := &rotating{inner: e.tracking(vault.MicrosoftRefresher{Client: e.tokens}), used: map[string]bool{}}
		a := e.replica(func(o *vault.Options) { o.Refresher = provider })
		b := e.replica(func(o *vault.Options) { o.Refresher = provider })
		creds := e.connect(adele)
		e.put(a, "org-1", "conn-1", atExpiry(creds))
		rdb := e.redis()
		provider.before = func(string) {
			// A holds the lock with the old refresh token in hand. Its
			// lock vanishes, and B refreshes in full.
			if err := rdb.Del(t.Context(), vault.LockKeys(e.prefix).Key("conn-1")).Err(); err != nil {
				t.Error(err)
			}
			if err := b.ForceRefresh(t.Context(), "org-1", "conn-1"); err != nil {
				t.Errorf("B's refresh: %v", err)
			}
		}
		before := e.refreshGrants()
		tok, err := a.AccessToken(t.Context(), "org-1", "conn-1")
		if err != nil {
			t.Fatalf("A: %v", err)
		}
		stored := e.stored(a, "org-1", "conn-1")
		if tok.Value != stored.AccessToken || stored.RefreshToken == creds.RefreshToken {
			t.Fatal("A did not return B's refreshed token")
		}
		if n := e.refreshGrants() - before; n != 1 {
			t.Fatalf("%d refresh grants at the provider, want B's only", n)
		}
		if recon, _ := e.sink.counts(); recon != 0 {
			t.Fatal("false reconnect_required")
		}
	})

	t.Run("its refresh token is retried once", func(t *testing.T) {
		e := newEnv(t)
		provider := &rotating{inner: e.tracking(vault.MicrosoftRefresher{Client: e.tokens}), used: map[string]bool{}}
		a := e.replica(func(o *vault.Options) { o.Refresher = provider })
		b := e.replica()
		first := e.connect(adele)
		e.put(a, "org-1", "conn-1", atExpiry(first))
		second := e.connect(adele)
		provider.before = func(rt string) {
			// B stored a newer refresh token, without an access token,
			// and A's is already spent.
			provider.mu.Lock()
			provider.used[rt] = true
			provider.mu.Unlock()
			if err := b.Put(t.Context(), "org-1", "conn-1", vault.Credentials{RefreshToken: second.RefreshToken, Scopes: second.Scopes}); err != nil {
				t.Error(err)
			}
		}
		before := e.refreshGrants()
		tok, err := a.AccessToken(t.Context(), "org-1", "conn-1")
		if err != nil {
			t.Fatalf("A: %v", err)
		}
		stored := e.stored(a, "org-1", "conn-1")
		if tok.Value != stored.AccessToken || stored.RefreshToken == second.RefreshToken || stored.RefreshToken == first.RefreshToken {
			t.Fatal("A did not refresh with B's refresh token and keep the newest")
		}
		if n := e.refreshGrants() - before; n != 1 {
			t.Fatalf("%d refresh grants at the provider, want 1", n)
		}
		if recon, _ := e.sink.counts(); recon != 0 {
			t.Fatal("false reconnect_required")
		}
	})
}

func TestProviderUnavailable(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	creds := e.connect(adele)
	e.put(v, "org-1", "conn-1", atExpiry(creds))

	for _, f := range []simclient.Fault{
		{Endpoint: "microsoft.token", Status: http.StatusServiceUnavailable},
		{Endpoint: "microsoft.token", Status: http.StatusTooManyRequests, RetryAfter: "0.01"},
	} {
		t.Run(fmt.Sprint(f.Status), func(t *testing.T) {
			id := e.fault(f)
			_, err := v.AccessToken(t.Context(), "org-1", "conn-1")
			e.clean(err)
			wantUnavailable(t, err)
			var ra *providerhttp.RetryAfterError
			if !errors.As(err, &ra) {
				t.Errorf("the provider's wait is lost from %v", err)
			}
			wantUnavailable(t, v.ForceRefresh(t.Context(), "org-1", "conn-1"))
			e.unfault(id)
			if got := e.stored(v, "org-1", "conn-1"); got.RefreshToken != creds.RefreshToken {
				t.Fatal("stored credentials changed")
			}
		})
	}
	if recon, refr := e.sink.counts(); recon != 0 || refr != 0 {
		t.Fatalf("sink heard %d reconnects, %d refreshes", recon, refr)
	}
	tok, err := v.AccessToken(t.Context(), "org-1", "conn-1")
	if err != nil || tok.Value == creds.AccessToken {
		t.Fatalf("after the outage: %v %v", tok, err)
	}

	// A token due for refresh but not expired is still served when the
	// refresh fails.
	ahead := e.connect(megan)
	ahead.RefreshedAt, ahead.ExpiresAt = time.Now().Add(-58*time.Minute), time.Now().Add(2*time.Minute)
	e.put(v, "org-1", "conn-2", ahead)
	id := e.fault(simclient.Fault{Endpoint: "microsoft.token", Status: http.StatusServiceUnavailable})
	defer e.unfault(id)
	if tok, err := v.AccessToken(t.Context(), "org-1", "conn-2"); err != nil || tok.Value != ahead.AccessToken {
		t.Fatalf("valid token during an outage: %v %v", tok, err)
	}
}

// Our own client secret being refused is an outage for the operator to
// fix, not a reason to make every user reconnect.
func TestClientRejectedKeepsConnections(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	e.put(v, "org-1", "conn-1", atExpiry(e.connect(adele)))
	if _, err := e.ctl.CreateApp(t.Context(), simclient.App{
		ClientID: "tandem-local", DisplayName: "Tandem (local)", ClientSecret: "rotated-secret",
		RedirectURIs: []string{"http://localhost:8080/oauth/microsoft/callback"},
	}); err != nil {
		t.Fatal(err)
	}
	_, err := v.AccessToken(t.Context(), "org-1", "conn-1")
	wantUnavailable(t, err)
	if recon, _ := e.sink.counts(); recon != 0 {
		t.Fatal("connection marked reconnect_required for our own configuration error")
	}
}

func TestLostCredentials(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	creds := e.connect(adele)
	e.put(v, "org-1", "conn-1", creds)
	if _, err := v.AccessToken(t.Context(), "org-1", "conn-1"); err != nil {
		t.Fatal(err)
	}
	// Redis lost its data: the system of record still has it.
	if err := e.redis().Del(t.Context(), vault.CredentialKeys(e.prefix).Key("conn-1")).Err(); err != nil {
		t.Fatal(err)
	}
	if tok, err := v.AccessToken(t.Context(), "org-1", "conn-1"); err != nil || tok.Value != creds.AccessToken {
		t.Fatalf("after Redis lost the credentials: %v %v", tok, err)
	}
	if recon, _ := e.sink.counts(); recon != 0 {
		t.Fatal("a Redis loss made a connection reconnect_required")
	}
	// Both copies lost: the credentials cannot be recovered.
	if err := e.kept.Delete(t.Context(), "conn-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.redis().Del(t.Context(), vault.CredentialKeys(e.prefix).Key("conn-1")).Err(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err := v.AccessToken(t.Context(), "org-1", "conn-1")
		wantReconnect(t, err, vault.ReasonLost)
	}
	wantReconnect(t, v.ForceRefresh(t.Context(), "org-1", "conn-1"), vault.ReasonLost)
	if got := e.sink.lastReconnect(); got.reason != vault.ReasonLost || got.org != "org-1" || got.conn != "conn-1" {
		t.Fatalf("sink heard %+v", got)
	}
	if recon, _ := e.sink.counts(); recon != 1 {
		t.Fatalf("sink told %d times in a minute, want once", recon)
	}
	e.put(v, "org-1", "conn-1", creds)
	if tok, err := v.AccessToken(t.Context(), "org-1", "conn-1"); err != nil || tok.Value != creds.AccessToken {
		t.Fatalf("after Put: %v %v", tok, err)
	}
	// Deleted on purpose: the same answer, nothing panics.
	if err := v.Delete(t.Context(), "conn-1"); err != nil {
		t.Fatal(err)
	}
	_, err := v.AccessToken(t.Context(), "org-1", "conn-1")
	wantReconnect(t, err, vault.ReasonLost)
}

func TestBindings(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	creds := e.connect(adele)
	e.put(v, "org-1", "conn-1", creds)
	ctx := t.Context()

	// Another organization asking: NotFound, and nothing changes.
	if _, err := v.AccessToken(ctx, "org-2", "conn-1"); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("other organization: %v", err)
	}
	if err := v.ForceRefresh(ctx, "org-2", "conn-1"); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("other organization: %v", err)
	}
	if err := v.Put(ctx, "org-2", "conn-1", creds); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("other organization's Put: %v", err)
	}
	if tok, err := v.AccessToken(ctx, "org-1", "conn-1"); err != nil || tok.Value != creds.AccessToken {
		t.Fatalf("owner after another organization's calls: %v %v", tok, err)
	}

	rdb := e.redis()
	sealed, err := rdb.HGet(ctx, vault.CredentialKeys(e.prefix).Key("conn-1"), "sealed").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Sealed for org-1, the value does not open for org-2 even when the
	// record is relabelled (org-2 has a data key of its own) ...
	if _, err := envelope.NewVault(e.ring, e.keys, envelope.VaultOptions{}).Seal(ctx, "org-2", []byte("x"), "k"); err != nil {
		t.Fatal(err)
	}
	rdb.HSet(ctx, vault.CredentialKeys(e.prefix).Key("conn-1"), "org", "org-2")
	_, err = v.AccessToken(ctx, "org-2", "conn-1")
	e.clean(err)
	wantReconnect(t, err, vault.ReasonUndecryptable)
	// ... and copied to another connection of org-1, it does not open
	// either: the connection id is bound too.
	rdb.HSet(ctx, vault.CredentialKeys(e.prefix).Key("conn-2"), "org", "org-1", "sealed", sealed)
	_, err = v.AccessToken(ctx, "org-1", "conn-2")
	wantReconnect(t, err, vault.ReasonUndecryptable)
	// A value that is not ours at all.
	rdb.HSet(ctx, vault.CredentialKeys(e.prefix).Key("conn-3"), "org", "org-1", "sealed", "garbage")
	_, err = v.AccessToken(ctx, "org-1", "conn-3")
	wantReconnect(t, err, vault.ReasonUndecryptable)
	if _, err := rdb.HGet(ctx, vault.CredentialKeys(e.prefix).Key("conn-1"), "sealed").Result(); err != nil {
		t.Fatal("an unreadable value was dropped: it may be a configuration problem, keep it")
	}
}

func TestRedisUnavailable(t *testing.T) {
	e := newEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	down := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	v := e.replica(func(o *vault.Options) { o.Redis = down })

	_, err = v.AccessToken(t.Context(), "org-1", "conn-1")
	wantUnavailable(t, err)
	wantUnavailable(t, v.ForceRefresh(t.Context(), "org-1", "conn-1"))
	wantUnavailable(t, v.Put(t.Context(), "org-1", "conn-1", vault.Credentials{AccessToken: "at", ExpiresAt: time.Now().Add(time.Hour)}))
	wantUnavailable(t, v.Delete(t.Context(), "conn-1"))
	if recon, _ := e.sink.counts(); recon != 0 {
		t.Fatal("an unreachable Redis marked a connection reconnect_required")
	}
}

// Another replica holds the lock: a token that has not expired is served
// at once; an expired one is waited for; a dead holder's lock expires.
func TestLockHeldElsewhere(t *testing.T) {
	e := newEnv(t)
	v := e.replica(func(o *vault.Options) { o.LockTTL = time.Second })
	rdb := e.redis()
	ctx := t.Context()
	creds := e.connect(adele)
	before := e.refreshGrants()

	due := creds
	due.RefreshedAt, due.ExpiresAt = time.Now().Add(-58*time.Minute), time.Now().Add(2*time.Minute)
	e.put(v, "org-1", "conn-1", due)
	rdb.Set(ctx, vault.LockKeys(e.prefix).Key("conn-1"), "another-replica", time.Minute)
	quick, cancelQuick := context.WithTimeout(ctx, 2*time.Second)
	defer cancelQuick()
	if tok, err := v.AccessToken(quick, "org-1", "conn-1"); err != nil || tok.Value != creds.AccessToken {
		t.Fatalf("valid token while another replica refreshes: %v %v", tok, err)
	}

	// Expired, and the holder never finishes: the caller's deadline ends
	// the wait.
	e.put(v, "org-1", "conn-1", atExpiry(creds))
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := v.AccessToken(short, "org-1", "conn-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting past the deadline: %v", err)
	}
	if n := e.refreshGrants() - before; n != 0 {
		t.Fatalf("%d refreshes while another replica held the lock", n)
	}

	// The holder died: its lock expires, and the waiting caller refreshes.
	rdb.Set(ctx, vault.LockKeys(e.prefix).Key("conn-1"), "dead-replica", 300*time.Millisecond)
	tok, err := v.AccessToken(ctx, "org-1", "conn-1")
	if err != nil || tok.Value == creds.AccessToken {
		t.Fatalf("after the dead holder's lock expired: %v %v", tok, err)
	}
	if n := e.refreshGrants() - before; n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	if got, err := rdb.Get(ctx, vault.LockKeys(e.prefix).Key("conn-1")).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("lock left behind: %q (err %v)", got, err)
	}
}

// A refresh slower than the lock's TTL keeps the lock: no second replica
// refreshes meanwhile.
func TestSlowRefreshKeepsTheLock(t *testing.T) {
	e := newEnv(t)
	ttl := func(o *vault.Options) { o.LockTTL = 150 * time.Millisecond }
	a, b := e.replica(ttl), e.replica(ttl)
	creds := e.connect(adele)
	e.put(a, "org-1", "conn-1", atExpiry(creds))
	slow := e.fault(simclient.Fault{Endpoint: "microsoft.token", LatencyMs: 600})
	defer e.unfault(slow)
	before := e.refreshGrants()
	var wg sync.WaitGroup
	var ta, tb vault.Token
	var ea, eb error
	wg.Go(func() { ta, ea = a.AccessToken(t.Context(), "org-1", "conn-1") })
	wg.Go(func() { tb, eb = b.AccessToken(t.Context(), "org-1", "conn-1") })
	wg.Wait()
	if ea != nil || eb != nil || ta.Value != tb.Value {
		t.Fatalf("a: %v, b: %v, same token %t", ea, eb, ta.Value == tb.Value)
	}
	if n := e.refreshGrants() - before; n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
}

// A reconnect (Put) during a refresh wins: the refresh of the old grant
// does not overwrite it.
func TestPutDuringRefreshWins(t *testing.T) {
	e := newEnv(t)
	old := e.connect(adele)
	reconnected := e.connect(adele)
	var v *vault.Vault
	v = e.replica(func(o *vault.Options) {
		inner := o.Refresher
		o.Refresher = refresherFunc(func(ctx context.Context, rt string, scopes []string) (vault.Credentials, error) {
			if err := v.Put(ctx, "org-1", "conn-1", reconnected); err != nil {
				t.Error(err)
			}
			return inner.Refresh(ctx, rt, scopes)
		})
	})
	e.put(v, "org-1", "conn-1", atExpiry(old))
	tok, err := v.AccessToken(t.Context(), "org-1", "conn-1")
	if err != nil || tok.Value != reconnected.AccessToken {
		t.Fatalf("got %v %v, want the reconnected token", tok, err)
	}
	if got := e.stored(v, "org-1", "conn-1"); got.RefreshToken != reconnected.RefreshToken {
		t.Fatal("the refresh overwrote the reconnect")
	}
}

func TestPrintingRedacts(t *testing.T) {
	c := vault.Credentials{AccessToken: "at-secret", RefreshToken: "rt-secret", ExpiresAt: time.Now(), Scopes: []string{"Mail.Send"}}
	tok := vault.Token{Value: "at-secret", ExpiresAt: time.Now()}
	var buf logtest.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "c", c, "t", tok, "cp", &c, "tp", &tok)
	out := fmt.Sprintf("%v %+v %#v %s %q %x %v %v", c, c, c, c, c, c, tok, &tok) + buf.String()
	for _, s := range []string{"at-secret", "rt-secret"} {
		if strings.Contains(out, s) {
			t.Fatalf("printed a token: %s", out)
		}
	}
	if !strings.Contains(out, "Mail.Send") {
		t.Fatalf("printed nothing useful: %s", out)
	}
}

func TestInputsChecked(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	ctx := t.Context()
	for name, err := range map[string]error{
		"AccessToken without org":  func() error { _, err := v.AccessToken(ctx, "", "c"); return err }(),
		"AccessToken without conn": func() error { _, err := v.AccessToken(ctx, "o", ""); return err }(),
		"ForceRefresh without org": v.ForceRefresh(ctx, "", "c"),
		"Put without tokens":       v.Put(ctx, "o", "c", vault.Credentials{Scopes: []string{"x"}}),
		"Delete without conn":      v.Delete(ctx, ""),
	} {
		if !errors.Is(err, apperr.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := vault.New(vault.Options{}); err == nil {
		t.Error("New without Redis and friends")
	}
}
