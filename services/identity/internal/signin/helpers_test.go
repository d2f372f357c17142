package signin_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/store/storetest"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

const (
	// publicURL is where the default app's redirect URIs point.
	publicURL   = "http://localhost:8080"
	frontendURL = "http://app.tandem.test"
)

// codeExchanger fits the token client to signin.CodeExchanger, as
// cmd/identity does.
type codeExchanger struct{ c *microsoft.TokenClient }

func (e codeExchanger) ExchangeCode(ctx context.Context, code, redirectURI, verifier string, scopes []string) (signin.Tokens, error) {
	now := time.Now()
	t, err := e.c.ExchangeCode(ctx, code, redirectURI, verifier, scopes)
	if err != nil {
		return signin.Tokens{}, err
	}
	return signin.Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, IDToken: t.IDToken, ExpiresAt: t.ExpiresAt(now), Scopes: t.Scopes}, nil
}

// vault remembers the tokens put in it.
type vault struct {
	mu   sync.Mutex
	puts map[string]signin.Tokens // by connection id
}

func (v *vault) Put(_ context.Context, _, connID string, t signin.Tokens) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.puts == nil {
		v.puts = map[string]signin.Tokens{}
	}
	v.puts[connID] = t
	return nil
}

func (v *vault) get(connID string) (signin.Tokens, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.puts[connID]
	return t, ok
}

// env is one test's world: a simulator, a database, a Redis prefix, and the
// flows over them.
type env struct {
	t     *testing.T
	sim   *providersim.Sim
	ctl   *simclient.Client
	store *store.Store
	flows *signin.Flows
	vault *vault
	// with builds Flows like the env's, with another configuration.
	with func(signin.Config) *signin.Flows
	// verifiers holds, per login code handed out, the verifier of the
	// browser it was handed to.
	mu        sync.Mutex
	verifiers map[string]string
}

// verifier is the one that redeems code: its browser's.
func (e *env) verifier(code string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.verifiers[code]
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sim := microsofttest.Start(t)
	pool := storetest.New(t)
	rdb := pgtest.NewRedis(t)
	prefix := pgtest.RedisPrefixCleaned(t, rdb)

	st := store.New(pool)
	v := &vault{}
	with := func(c signin.Config) *signin.Flows {
		verifier := signin.NewMicrosoftIDVerifier(sim.MicrosoftURL(), "organizations", providersim.DefaultClientID, nil)
		return signin.New(signin.Options{
			Config: c, Redis: rdb, Prefix: prefix, Store: st,
			Exchanger: codeExchanger{microsofttest.TokenClient(t, sim, microsofttest.HTTP(logging.Discard()))},
			Lever:     leverCodes{leverTokenClient(t, sim)},
			Verifier:  verifier, Addresses: verifier,
			Vault: v,
		})
	}
	flows := with(signin.Config{Authority: sim.MicrosoftURL(), Tenant: "organizations", ClientID: providersim.DefaultClientID,
		PublicURL: publicURL, FrontendURL: frontendURL,
		Lever: signin.LeverConfig{AuthorizeURL: sim.LeverOAuthURL() + "/authorize", ClientID: providersim.DefaultLeverClientID, Audience: providersim.LeverAudience}})
	return &env{t: t, sim: sim, ctl: sim.Client(), store: st, flows: flows, vault: v, with: with, verifiers: map[string]string{}}
}

// browser is a person's browser: the simulator's cookies and the binding
// value the gateway would have set (secret, whose SHA-256 is binding).
type browser struct {
	e       *env
	b       *simbrowser.Browser
	secret  string
	binding []byte
}

func (e *env) browser() *browser {
	e.t.Helper()
	b, err := simbrowser.New(e.sim.MicrosoftURL())
	if err != nil {
		e.t.Fatal(err)
	}
	secret := rand.Text()
	h := sha256.Sum256([]byte(secret))
	return &browser{e: e, b: b, secret: secret, binding: h[:]}
}

func newBinding(t *testing.T) []byte {
	t.Helper()
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}

// begin starts a flow in this browser and returns the provider URL.
func (br *browser) begin(r signin.BeginRequest) string {
	br.e.t.Helper()
	r.BindingHash = br.binding
	u, err := br.e.flows.Begin(br.e.t.Context(), r)
	if err != nil {
		br.e.t.Fatalf("Begin(%+v): %v", r, err)
	}
	return u
}

// who says how the person answers the simulator's pages.
type who struct {
	email          string
	declineConsent bool
	consentForOrg  bool // an admin ticks "Consent on behalf of your organization"
}

// walk loads rawURL and answers sign-in, account and consent pages until
// the simulator sends the browser back to Tandem, or stops on a page the
// person must act on.
func (br *browser) walk(rawURL string, as who) *simbrowser.Page {
	br.e.t.Helper()
	ctx := br.e.t.Context()
	p, err := br.b.Get(ctx, rawURL)
	for range 10 {
		if err != nil {
			br.e.t.Fatalf("simulator page: %v", err)
		}
		if p.Redirect != nil {
			return p
		}
		switch p.Name {
		case "signin", "pick-account":
			button := ""
			if p.Name == "signin" {
				button = "signin-submit"
			}
			p, err = br.b.Submit(ctx, p, url.Values{"login": {as.email}}, button)
		case "consent", "admin-consent":
			button := "accept"
			if as.declineConsent {
				button = "cancel"
			}
			vals := url.Values{}
			if as.consentForOrg && p.Has("consent-for-org") {
				vals.Set("consent_for_org", "true")
			}
			p, err = br.b.Submit(ctx, p, vals, button)
		default:
			return p
		}
	}
	br.e.t.Fatalf("the flow did not end; last page %q", p.Name)
	return nil
}

// callback is the request the gateway makes of the redirect back to it.
func (br *browser) callback(p *simbrowser.Page) signin.CompleteRequest {
	br.e.t.Helper()
	if p.Redirect == nil || !strings.HasPrefix(p.Redirect.String(), publicURL+"/oauth/microsoft/") {
		br.e.t.Fatalf("want a redirect back to Tandem, got page %q (%s) redirect %v", p.Name, p.ErrorCode, p.Redirect)
	}
	q := p.Redirect.Query()
	kind := "authorize"
	if strings.HasPrefix(p.Redirect.Path, "/oauth/microsoft/adminconsent/") {
		kind = "admin_consent"
	}
	return signin.CompleteRequest{Callback: kind, State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"),
		ErrorDescription: q.Get("error_description"), Tenant: q.Get("tenant"), BindingHash: br.binding}
}

// complete finishes a flow and returns where the browser goes next.
func (br *browser) complete(r signin.CompleteRequest) string {
	br.e.t.Helper()
	next, err := br.e.flows.Complete(br.e.t.Context(), r)
	if err != nil {
		br.e.t.Fatalf("Complete: %v", err)
	}
	if u, err := url.Parse(next); err == nil && u.Query().Get("code") != "" {
		br.e.mu.Lock()
		br.e.verifiers[u.Query().Get("code")] = br.secret
		br.e.mu.Unlock()
	}
	return next
}

// result redeems the one-time code of the frontend URL a flow ended on.
func (e *env) result(frontend string) signin.LoginResult {
	e.t.Helper()
	u, err := url.Parse(frontend)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.HasPrefix(frontend, frontendURL+"/auth/complete?") || len(u.Query()) != 1 || u.Query().Get("code") == "" {
		e.t.Fatalf("the flow should end on the frontend with only a code: %s", frontend)
	}
	code := u.Query().Get("code")
	res, err := e.flows.TakeLoginCode(e.t.Context(), code, e.verifier(code))
	if err != nil {
		e.t.Fatalf("TakeLoginCode: %v", err)
	}
	return res
}

// signIn runs a whole sign-in for as and returns its result.
func (e *env) signIn(br *browser, as who) signin.LoginResult {
	e.t.Helper()
	p := br.walk(br.begin(signin.BeginRequest{Flow: signin.FlowSignIn}), as)
	return e.result(br.complete(br.callback(p)))
}

func (e *env) counter(name string) int64 {
	e.t.Helper()
	n, err := e.ctl.Counter(e.t.Context(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func wantKind(t *testing.T, what string, err, kind error, field string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got %v, want %v", what, err, kind)
	}
	var ae *apperr.Error
	if field != "" && (!errors.As(err, &ae) || ae.Field != field) {
		t.Fatalf("%s: the error should name the field %s: %v", what, field, err)
	}
}
