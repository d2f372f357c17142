package vault_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/services/identity/internal/lever/levertest"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// leverWorld is a Lever connection in the vault of two replicas that share
// a clock the test moves.
type leverWorld struct {
	*env
	a, b   *vault.Vault
	offset atomic.Int64
	base   time.Time
}

func (w *leverWorld) now() time.Time { return w.base.Add(time.Duration(w.offset.Load())) }

func newLeverWorld(t *testing.T) *leverWorld {
	t.Helper()
	w := &leverWorld{env: newEnv(t), base: time.Now()}
	client := levertest.TokenClient(t, w.sim, microsofttest.HTTP(w.log))
	refresher := w.tracking(vault.LeverRefresher{Client: client, Now: w.now})
	msCalled := refresherFunc(func(context.Context, string, []string) (vault.Credentials, error) {
		t.Error("a Lever connection was refreshed at Microsoft")
		return vault.Credentials{}, errors.New("not Microsoft's")
	})
	replica := func() *vault.Vault {
		return w.replica(func(o *vault.Options) {
			o.Refresher = msCalled
			o.Refreshers = map[string]vault.Refresher{vault.ProviderLever: refresher}
			o.Clock = w.now
		})
	}
	w.a, w.b = replica(), replica()
	tr := levertest.Connect(t, w.sim, client)
	w.secret(tr.AccessToken, tr.RefreshToken)
	if err := w.a.Put(t.Context(), "org-1", "conn-lever", vault.Credentials{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken,
		ExpiresAt: tr.ExpiresAt(w.now()), RefreshedAt: w.now(), Scopes: tr.Scopes, Provider: vault.ProviderLever}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *leverWorld) refreshes() int64 {
	w.t.Helper()
	n, err := w.ctl.Counter(w.t.Context(), "lever.oauth.token.refresh_token")
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// Lever rotates refresh tokens and kills the old one on reuse: callers of
// two replicas racing an expired token make one refresh at Lever, and the
// rotated token is what is kept (the next refresh, from a third replica,
// works and Lever sees no reuse).
func TestLeverRefreshRotates(t *testing.T) {
	t.Parallel()
	w := newLeverWorld(t)
	ctx := t.Context()
	first, err := w.a.AccessToken(ctx, "org-1", "conn-lever")
	if err != nil || w.refreshes() != 0 {
		t.Fatalf("a fresh token: %v, %v, refreshes %d", first, err, w.refreshes())
	}

	w.offset.Store(int64(2 * time.Hour)) // the token has expired
	var wg sync.WaitGroup
	got := make([]vault.Token, 16)
	errs := make([]error, len(got))
	for i := range got {
		v := w.a
		if i%2 == 1 {
			v = w.b
		}
		wg.Go(func() { got[i], errs[i] = v.AccessToken(ctx, "org-1", "conn-lever") })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i].Value == "" || got[i].Value != got[0].Value || got[i].Value == first.Value {
			t.Fatalf("caller %d: %v, %v (first caller %v)", i, got[i], errs[i], got[0])
		}
	}
	if n := w.refreshes(); n != 1 {
		t.Fatalf("Lever saw %d refreshes, want 1", n)
	}

	w.offset.Store(int64(4 * time.Hour))
	third := w.replica(func(o *vault.Options) {
		o.Refreshers = map[string]vault.Refresher{vault.ProviderLever: vault.LeverRefresher{Client: levertest.TokenClient(t, w.sim, microsofttest.HTTP(w.log)), Now: w.now}}
		o.Clock = w.now
	})
	again, err := third.AccessToken(ctx, "org-1", "conn-lever")
	if err != nil || again.Value == got[0].Value {
		t.Fatalf("a refresh with the kept (rotated) token: %v, %v", again, err)
	}
	w.secret(again.Value)
	reuse, err := w.ctl.Counter(ctx, "lever.oauth.refreshReuse")
	if err != nil || reuse != 0 || w.refreshes() != 2 {
		t.Fatalf("Lever saw a reused refresh token (%d, %v) or %d refreshes", reuse, err, w.refreshes())
	}
}

// A Super Admin revoking Tandem in Lever turns the next refresh into
// reconnect_required with Lever's reason, told to the system of record
// once, and later calls fail at once without asking Lever.
func TestLeverRevokedIsReconnectRequired(t *testing.T) {
	t.Parallel()
	w := newLeverWorld(t)
	ctx := t.Context()
	if _, err := w.ctl.RevokeLever(ctx, providersim.DemoLeverAccount, providersim.DefaultLeverClientID); err != nil {
		t.Fatal(err)
	}
	const reason = "Lever no longer accepts the authorization (access was revoked in Lever, or it expired); a Super Admin must connect Lever again"
	err := w.a.ForceRefresh(ctx, "org-1", "conn-lever")
	wantReconnect(t, err, reason)
	if rc, _ := w.sink.counts(); rc != 1 || w.sink.lastReconnect().conn != "conn-lever" {
		t.Fatalf("the sink should hear of it once: %d %+v", rc, w.sink.lastReconnect())
	}
	before := w.refreshes()
	w.offset.Store(int64(2 * time.Hour))
	_, err = w.b.AccessToken(ctx, "org-1", "conn-lever")
	wantReconnect(t, err, reason)
	if w.refreshes() != before {
		t.Fatal("a refused grant was sent to Lever again")
	}
}

// A deployment without Lever's Refresher never sends a Lever refresh token
// elsewhere: the refresh is Unavailable and the connection kept.
func TestNoRefresherForTheProvider(t *testing.T) {
	t.Parallel()
	w := newLeverWorld(t)
	plain := w.replica(func(o *vault.Options) {
		o.Refresher = refresherFunc(func(context.Context, string, []string) (vault.Credentials, error) {
			t.Error("a Lever refresh token went to the default Refresher")
			return vault.Credentials{}, errors.New("wrong provider")
		})
		o.Clock = w.now
	})
	w.offset.Store(int64(2 * time.Hour))
	_, err := plain.AccessToken(t.Context(), "org-1", "conn-lever")
	wantUnavailable(t, err)
	if rc, _ := w.sink.counts(); rc != 0 || w.refreshes() != 0 {
		t.Fatalf("the connection was given up (%d) or refreshed (%d)", rc, w.refreshes())
	}
}
