package vault_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/logging/logtest"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"

	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
	"github.com/tandemhq/tandem/services/identity/internal/vault"
	"github.com/tandemhq/tandem/services/identity/internal/vault/vaulttest"
)

const (
	adele = providersim.DemoContosoUser
	megan = providersim.DemoContosoAdmin
)

// env is one test's world: a simulator, a Redis prefix, the data keys of
// the organizations, a sink, and a log that must never show a token.
type env struct {
	t      testing.TB
	sim    *providersim.Sim
	ctl    *simclient.Client
	tokens *microsoft.TokenClient
	prefix string
	ring   *envelope.KeyRing
	keys   *envelope.MemoryKeyStore
	sink   *fakeSink
	// kept is the replicas' shared system of record.
	kept *vaulttest.Memory
	logs *logtest.Buffer
	log  *slog.Logger

	mu      sync.Mutex
	secrets []string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	kek := make([]byte, envelope.KeySize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.NewKeyRing("k1", map[string][]byte{"k1": kek})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim := microsofttest.Start(t)
	e := &env{
		t: t, sim: sim, ctl: sim.Client(),
		tokens: microsofttest.TokenClient(t, sim, microsofttest.HTTP(log)),
		ring:   ring, keys: envelope.NewMemoryKeyStore(),
		sink: &fakeSink{}, kept: vaulttest.NewMemory(), logs: logs, log: log,
	}
	e.prefix = pgtest.RedisPrefixCleaned(t, e.redis())
	t.Cleanup(func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		out := logs.String()
		for _, s := range e.secrets {
			if strings.Contains(out, s) {
				t.Errorf("the log shows a token: %.200q", out)
				return
			}
		}
	})
	return e
}

// redis is a new client, as a replica of its own would have.
func (e *env) redis() *redis.Client {
	e.t.Helper()
	return pgtest.NewRedis(e.t)
}

// replica is a vault as one service replica has it: its own Redis client,
// its own envelope.Vault (sharing the key ring and the stored data keys),
// and the Microsoft refresher.
func (e *env) replica(opts ...func(*vault.Options)) *vault.Vault {
	e.t.Helper()
	o := vault.Options{
		Redis:     e.redis(),
		Prefix:    e.prefix,
		Durable:   e.kept,
		Sealer:    envelope.NewVault(e.ring, e.keys, envelope.VaultOptions{}),
		Refresher: e.tracking(vault.MicrosoftRefresher{Client: e.tokens}),
		Sink:      e.sink,
		Logger:    e.log,
	}
	for _, f := range opts {
		f(&o)
	}
	v, err := vault.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// connect signs upn in for real at the simulator and returns the
// credentials as the OAuth callback would Put them.
func (e *env) connect(upn string) vault.Credentials {
	e.t.Helper()
	now := time.Now()
	tr := microsofttest.SignIn(e.t, e.sim, e.tokens, upn, microsofttest.MailScopes)
	e.secret(tr.AccessToken, tr.RefreshToken, tr.IDToken)
	return vault.Credentials{
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		ExpiresAt:    tr.ExpiresAt(now),
		RefreshedAt:  now,
		Scopes:       microsofttest.MailScopes,
	}
}

// atExpiry makes c's access token expire now, an hour after it was issued.
func atExpiry(c vault.Credentials) vault.Credentials {
	now := time.Now()
	c.ExpiresAt, c.RefreshedAt = now, now.Add(-time.Hour)
	return c
}

func (e *env) put(v *vault.Vault, org, conn string, c vault.Credentials) {
	e.t.Helper()
	if err := v.Put(e.t.Context(), org, conn, c); err != nil {
		e.t.Fatal(err)
	}
}

// secret remembers token values that must not show in logs or errors.
func (e *env) secret(s ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range s {
		if x != "" {
			e.secrets = append(e.secrets, x)
		}
	}
}

// clean fails if err's text shows a token.
func (e *env) clean(err error) {
	e.t.Helper()
	if err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if strings.Contains(err.Error(), s) {
			e.t.Fatalf("error shows a token: %v", err)
		}
	}
}

func (e *env) counter(name string) int64 {
	e.t.Helper()
	n, err := e.ctl.Counter(e.t.Context(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// refreshGrants is how many refresh-token grants reached the simulator's
// token endpoint (injected faults answer before they are counted here).
func (e *env) refreshGrants() int64 { return e.counter("microsoft.token.refresh_token") }

func (e *env) fault(f simclient.Fault) string {
	e.t.Helper()
	got, err := e.ctl.AddFault(e.t.Context(), f)
	if err != nil {
		e.t.Fatal(err)
	}
	return got.ID
}

func (e *env) unfault(id string) {
	e.t.Helper()
	if err := e.ctl.RemoveFault(e.t.Context(), id); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) stored(v *vault.Vault, org, conn string) vault.Credentials {
	e.t.Helper()
	c, err := v.StoredCredentials(e.t.Context(), org, conn)
	if err != nil {
		e.t.Fatalf("stored credentials: %v", err)
	}
	return c
}

// refreshed waits until the stored access token of the connection is no
// longer old, and returns the stored credentials.
func (e *env) refreshed(v *vault.Vault, org, conn, old string) vault.Credentials {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := v.StoredCredentials(e.t.Context(), org, conn)
		if err == nil && c.AccessToken != old {
			return c
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("not refreshed in time (last error %v)", err)
		}
		<-tick.C
	}
}

// tracking records every token a refresher hands out as a secret.
func (e *env) tracking(r vault.Refresher) vault.Refresher {
	return refresherFunc(func(ctx context.Context, rt string, scopes []string) (vault.Credentials, error) {
		c, err := r.Refresh(ctx, rt, scopes)
		e.secret(c.AccessToken, c.RefreshToken)
		return c, err
	})
}

type refresherFunc func(ctx context.Context, rt string, scopes []string) (vault.Credentials, error)

func (f refresherFunc) Refresh(ctx context.Context, rt string, scopes []string) (vault.Credentials, error) {
	return f(ctx, rt, scopes)
}

// fakeSink records what the vault tells the system of record.
type fakeSink struct {
	mu         sync.Mutex
	reconnects []sinkCall
	refreshes  []sinkCall
	fail       error
}

type sinkCall struct {
	org, conn, reason string
	at                time.Time
}

func (s *fakeSink) MarkReconnectRequired(_ context.Context, org, conn, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.reconnects = append(s.reconnects, sinkCall{org: org, conn: conn, reason: reason})
	return nil
}

func (s *fakeSink) MarkRefreshed(_ context.Context, org, conn string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshes = append(s.refreshes, sinkCall{org: org, conn: conn, at: at})
	return nil
}

func (s *fakeSink) counts() (reconnects, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reconnects), len(s.refreshes)
}

func (s *fakeSink) lastReconnect() sinkCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reconnects) == 0 {
		return sinkCall{}
	}
	return s.reconnects[len(s.reconnects)-1]
}

// wantReconnect checks err says reconnect_required with reason.
func wantReconnect(t testing.TB, err error, reason string) {
	t.Helper()
	if !errors.Is(err, vault.ErrReconnectRequired) || !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("want reconnect_required, got %v", err)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Reason != "reconnect_required" || !strings.HasSuffix(ae.Public, reason) {
		t.Fatalf("apperr %+v, want reason reconnect_required and %q in the message", ae, reason)
	}
	if got, _ := vault.ReconnectReason(err); got != reason {
		t.Fatalf("ReconnectReason = %q, want %q", got, reason)
	}
}

func wantUnavailable(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, apperr.ErrUnavailable) || errors.Is(err, vault.ErrReconnectRequired) {
		t.Fatalf("want Unavailable, got %v", err)
	}
}
