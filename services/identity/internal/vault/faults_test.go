package vault_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/providersim/simclient"

	"github.com/tandemhq/tandem/services/identity/internal/store"
	"github.com/tandemhq/tandem/services/identity/internal/store/storetest"
	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// pgConnection makes an organization, a person and their mailbox
// connection in identity's Postgres, and returns the organization's and
// the connection's ids.
func pgConnection(t *testing.T, st *store.Store) (string, string) {
	t.Helper()
	org, user, _, err := st.SignInUser(t.Context(), store.SignIn{TenantID: "tenant-" + pgtest.RandomSuffix(), ObjectID: "oid-" + pgtest.RandomSuffix(),
		Email: adele, DisplayName: "Adele", OrgName: "Contoso"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.UpsertPersonalConnection(t.Context(), store.Connection{OrgID: org.ID, UserID: user.ID,
		Provider: store.ProviderMicrosoftMailbox, Status: store.StatusConnected})
	if err != nil {
		t.Fatal(err)
	}
	return org.ID, c.ID
}

// Issue 16, item 2 (DESIGN §2): Redis loses every key of the stack; two
// replicas keep serving the token with no reconnect and no call to the
// provider, and a refresh after another loss works from what Postgres kept,
// keeping the rotated refresh token there first.
func TestRedisLossCostsNoReconnect(t *testing.T) {
	e := newEnv(t)
	st := store.New(storetest.New(t))
	kept := st.SealedCredentials()
	org, conn := pgConnection(t, st)
	durable := func(o *vault.Options) { o.Durable = kept }
	a, b := e.replica(durable), e.replica(durable)
	rdb := e.redis()
	ctx := t.Context()
	creds := e.connect(adele)
	e.put(a, org, conn, creds)
	if _, err := a.AccessToken(ctx, org, conn); err != nil {
		t.Fatal(err)
	}
	before := e.refreshGrants()

	if n := pgtest.FlushPrefix(t, rdb, e.prefix); n == 0 {
		t.Fatal("nothing in Redis to lose")
	}
	var wg sync.WaitGroup
	var tokens [2]vault.Token
	var errs [2]error
	for i, v := range []*vault.Vault{a, b} {
		wg.Go(func() { tokens[i], errs[i] = v.AccessToken(ctx, org, conn) })
	}
	wg.Wait()
	for i := range tokens {
		if errs[i] != nil || tokens[i].Value != creds.AccessToken {
			e.clean(errs[i])
			t.Fatalf("replica %d after the loss: %v %v", i, tokens[i], errs[i])
		}
	}
	if n := e.refreshGrants() - before; n != 0 {
		t.Fatalf("%d refreshes to recover from a Redis loss", n)
	}
	if recon, _ := e.sink.counts(); recon != 0 {
		t.Fatal("a Redis loss made the connection reconnect_required")
	}
	if n, err := rdb.Exists(ctx, vault.CredentialKeys(e.prefix).Key(conn)).Result(); err != nil || n != 1 {
		t.Fatalf("the credentials are not back in Redis: %d %v", n, err)
	}

	// Lost again while the token has expired: the refresh runs on the
	// refresh token Postgres kept, and Postgres keeps the new one.
	e.put(a, org, conn, atExpiry(creds))
	pgtest.FlushPrefix(t, rdb, e.prefix)
	tok, err := b.AccessToken(ctx, org, conn)
	if err != nil || tok.Value == creds.AccessToken {
		t.Fatalf("expired token after a loss: %v %v", tok, err)
	}
	if n := e.refreshGrants() - before; n != 1 {
		t.Fatalf("%d refreshes, want 1", n)
	}
	k, err := kept.Get(ctx, conn)
	if err != nil || k.Version != 3 {
		t.Fatalf("kept version %d (%v), want 3: two connects and a refresh", k.Version, err)
	}
	// And lost once more: what comes back is the refreshed credentials,
	// with the rotated refresh token, which works.
	pgtest.FlushPrefix(t, rdb, e.prefix)
	stored := e.stored(a, org, conn)
	if stored.AccessToken != tok.Value || stored.RefreshToken == creds.RefreshToken {
		t.Fatal("Postgres does not hold the refreshed credentials")
	}
	if _, err := e.tokens.Refresh(ctx, stored.RefreshToken, nil); err != nil {
		t.Fatalf("the kept refresh token: %v", err)
	}
	if recon, _ := e.sink.counts(); recon != 0 {
		t.Fatal("false reconnect_required")
	}
}

// A refresh whose result the system of record cannot keep is not started,
// or, failing at the end, is dropped: Redis never holds a refresh token
// Postgres does not.
func TestRefreshKeptFirst(t *testing.T) {
	e := newEnv(t)
	down := errors.New("postgres is down")
	creds := e.connect(adele)

	t.Run("not started", func(t *testing.T) {
		v := e.replica()
		e.put(v, "org-1", "conn-1", atExpiry(creds))
		e.kept.SetFail(down)
		defer e.kept.SetFail(nil)
		before := e.refreshGrants()
		_, err := v.AccessToken(t.Context(), "org-1", "conn-1")
		wantUnavailable(t, err)
		if n := e.refreshGrants() - before; n != 0 {
			t.Fatalf("%d refreshes while the system of record was down", n)
		}
	})

	t.Run("dropped", func(t *testing.T) {
		v := e.replica(func(o *vault.Options) {
			inner := o.Refresher
			o.Refresher = refresherFunc(func(ctx context.Context, rt string, scopes []string) (vault.Credentials, error) {
				c, err := inner.Refresh(ctx, rt, scopes)
				e.kept.SetFail(down) // goes down while the provider answers
				return c, err
			})
		})
		e.put(v, "org-1", "conn-2", atExpiry(creds))
		_, err := v.AccessToken(t.Context(), "org-1", "conn-2")
		wantUnavailable(t, err)
		e.kept.SetFail(nil)
		if got := e.stored(v, "org-1", "conn-2"); got.RefreshToken != creds.RefreshToken || got.AccessToken != creds.AccessToken {
			t.Fatal("Redis took credentials the system of record did not keep")
		}
	})

	t.Run("Redis lost and Postgres down", func(t *testing.T) {
		v := e.replica()
		e.put(v, "org-1", "conn-3", creds)
		pgtest.FlushPrefix(t, e.redis(), e.prefix)
		e.kept.SetFail(down)
		defer e.kept.SetFail(nil)
		_, err := v.AccessToken(t.Context(), "org-1", "conn-3")
		wantUnavailable(t, err)
		if recon, _ := e.sink.counts(); recon != 0 {
			t.Fatal("credentials that are only out of reach were called lost")
		}
	})
}

// A refusal is kept too: after Redis loses it, the provider is not asked
// again.
func TestRefusalSurvivesRedisLoss(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	e.put(v, "org-1", "conn-1", atExpiry(e.connect(adele)))
	if _, err := e.ctl.RevokeSessions(t.Context(), adele); err != nil {
		t.Fatal(err)
	}
	_, err := v.AccessToken(t.Context(), "org-1", "conn-1")
	wantReconnect(t, err, "refresh token expired or revoked")
	before := e.refreshGrants()
	pgtest.FlushPrefix(t, e.redis(), e.prefix)
	for _, r := range []*vault.Vault{v, e.replica()} {
		_, err := r.AccessToken(t.Context(), "org-1", "conn-1")
		wantReconnect(t, err, "refresh token expired or revoked")
	}
	if n := e.refreshGrants() - before; n != 0 {
		t.Fatalf("%d refreshes of a refused grant after a Redis loss", n)
	}
	if recon, _ := e.sink.counts(); recon != 1 {
		t.Fatalf("sink told %d times", recon)
	}
}

// Issue 16, item 6: with Microsoft's token endpoint hanging, a token that
// is due for refresh but still valid is served at once, on every replica,
// while one refresh waits at the provider; only an expired token makes its
// caller wait, and no longer than the caller's deadline.
func TestValidTokenServedWhileRefreshHangs(t *testing.T) {
	e := newEnv(t)
	a, b := e.replica(), e.replica()
	rdb := e.redis()
	ctx := t.Context()
	creds := e.connect(adele)
	creds.RefreshedAt, creds.ExpiresAt = time.Now().Add(-58*time.Minute), time.Now().Add(2*time.Minute)
	e.put(a, "org-1", "conn-1", creds)
	expired := atExpiry(e.connect(megan))
	before := e.refreshGrants()
	hang := e.fault(simclient.Fault{Endpoint: "microsoft.token", Stall: true})

	for i := range 6 {
		v := a
		if i%2 == 1 {
			v = b
		}
		quick, cancel := context.WithTimeout(ctx, time.Second)
		tok, err := v.AccessToken(quick, "org-1", "conn-1")
		cancel()
		if err != nil || tok.Value != creds.AccessToken {
			t.Fatalf("call %d while the refresh hangs: %v %v", i, tok, err)
		}
	}
	// The refresh is in flight: a replica holds the lock.
	poll.Until(t, 10*time.Second, func() error {
		n, err := rdb.Exists(ctx, vault.LockKeys(e.prefix).Key("conn-1")).Result()
		if err != nil {
			return fmt.Errorf("no refresh started: reading the lock: %w", err)
		}
		if n == 0 {
			return errors.New("no refresh started: the lock is not held")
		}
		return nil
	})

	// An expired token: its caller waits, but only as long as it may.
	e.put(a, "org-1", "conn-2", expired)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := b.AccessToken(short, "org-1", "conn-2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired token while the endpoint hangs: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the caller waited %v past its deadline", took)
	}

	e.unfault(hang)
	got := e.refreshed(a, "org-1", "conn-1", creds.AccessToken)
	if tok, err := b.AccessToken(ctx, "org-1", "conn-1"); err != nil || tok.Value != got.AccessToken {
		t.Fatalf("after the refresh: %v %v", tok, err)
	}
	e.refreshed(a, "org-1", "conn-2", expired.AccessToken)
	if n := e.refreshGrants() - before; n != 2 {
		t.Fatalf("%d refreshes at the provider, want one per connection", n)
	}
}

// Credentials stored in Redis before Postgres kept them are kept on first
// use, and so survive a later Redis loss.
func TestCredentialsFromBeforeAreKept(t *testing.T) {
	e := newEnv(t)
	v := e.replica()
	rdb := e.redis()
	ctx := t.Context()
	creds := e.connect(adele)
	e.put(v, "org-1", "conn-1", creds)
	// As the record was before: Redis alone, with no version.
	if err := e.kept.Delete(ctx, "conn-1"); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HDel(ctx, vault.CredentialKeys(e.prefix).Key("conn-1"), "version").Err(); err != nil {
		t.Fatal(err)
	}
	fresh := e.replica()
	if tok, err := fresh.AccessToken(ctx, "org-1", "conn-1"); err != nil || tok.Value != creds.AccessToken {
		t.Fatalf("a record from before: %v %v", tok, err)
	}
	if k, err := e.kept.Get(ctx, "conn-1"); err != nil || k.Version != 1 || k.OrgID != "org-1" {
		t.Fatalf("kept %+v %v, want version 1 of org-1", k, err)
	}
	pgtest.FlushPrefix(t, rdb, e.prefix)
	if tok, err := e.replica().AccessToken(ctx, "org-1", "conn-1"); err != nil || tok.Value != creds.AccessToken {
		t.Fatalf("after a Redis loss: %v %v", tok, err)
	}
}
