// Package microsofttest gets real codes and tokens from an in-process
// providersim for tests: it signs a demo user in through the simulator's
// pages with simbrowser, consenting when asked, as a browser would.
package microsofttest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"

	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
)

// RedirectURI is the default app's registered sign-in callback.
var RedirectURI = providersim.DefaultRedirectURIs[0]

// MailScopes are what connecting a mailbox asks for.
var MailScopes = []string{
	"openid", "offline_access",
	"https://graph.microsoft.com/Mail.Send",
	"https://graph.microsoft.com/Mail.ReadWrite",
}

// Start starts a simulator that stops with the test.
func Start(t testing.TB) *providersim.Sim {
	t.Helper()
	sim, err := providersim.Start(t.Context(), providersim.Options{})
	if err != nil {
		t.Fatalf("microsofttest: start providersim: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// HTTP is a provider client for tests: quick retries, logging to log.
func HTTP(log *slog.Logger) *providerhttp.Client {
	return providerhttp.New(providerhttp.Options{
		Provider:    "msidentity",
		MaxAttempts: 3,
		Backoff:     providerhttp.Backoff{Base: time.Millisecond, Cap: 5 * time.Millisecond},
		Logger:      log,
	})
}

// TokenClient returns a client of the simulator's default app.
func TokenClient(t testing.TB, sim *providersim.Sim, hc *providerhttp.Client) *microsoft.TokenClient {
	t.Helper()
	c, err := microsoft.NewTokenClient(microsoft.TokenClientOptions{
		Authority:    sim.MicrosoftURL(),
		ClientID:     providersim.DefaultClientID,
		ClientSecret: providersim.DefaultClientSecret,
		HTTP:         hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// AuthorizationCode signs upn in at the organizations endpoint with PKCE
// (S256), accepts the consent page if one is shown, and returns the code
// from the redirect and the verifier that redeems it.
func AuthorizationCode(t testing.TB, sim *providersim.Sim, upn string, scopes []string) (code, verifier string) {
	t.Helper()
	ctx := t.Context()
	verifier = newVerifier(t)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id":             {providersim.DefaultClientID},
		"response_type":         {"code"},
		"redirect_uri":          {RedirectURI},
		"scope":                 {strings.Join(scopes, " ")},
		"state":                 {"microsofttest-state"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"login_hint":            {upn},
	}
	b, err := simbrowser.New(sim.MicrosoftURL())
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Get(ctx, sim.MicrosoftURL()+"/"+microsoft.DefaultTenant+"/oauth2/v2.0/authorize?"+q.Encode())
	if err != nil {
		t.Fatalf("microsofttest: authorize: %v", err)
	}
	if p.Name == "signin" {
		if p, err = b.Submit(ctx, p, url.Values{"login": {upn}}, "signin-submit"); err != nil {
			t.Fatalf("microsofttest: sign in: %v", err)
		}
	}
	if p.Name == "consent" {
		if p, err = b.Submit(ctx, p, nil, "accept"); err != nil {
			t.Fatalf("microsofttest: consent: %v", err)
		}
	}
	if p.Redirect == nil {
		t.Fatalf("microsofttest: ended on page %q (%s), not on the redirect", p.Name, p.ErrorCode)
	}
	got := p.Redirect.Query()
	if got.Get("error") != "" || got.Get("code") == "" {
		t.Fatalf("microsofttest: redirect without a code: error=%q", got.Get("error"))
	}
	if got.Get("state") != "microsofttest-state" {
		t.Fatalf("microsofttest: state %q came back", got.Get("state"))
	}
	return got.Get("code"), verifier
}

// SignIn runs AuthorizationCode and redeems the code with c.
func SignIn(t testing.TB, sim *providersim.Sim, c *microsoft.TokenClient, upn string, scopes []string) *microsoft.TokenResponse {
	t.Helper()
	code, verifier := AuthorizationCode(t, sim, upn, scopes)
	tr, err := c.ExchangeCode(t.Context(), code, RedirectURI, verifier, scopes)
	if err != nil {
		t.Fatalf("microsofttest: exchange code: %v", err)
	}
	if tr.RefreshToken == "" {
		t.Fatal("microsofttest: no refresh token; ask for offline_access")
	}
	return tr
}

func newVerifier(t testing.TB) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
