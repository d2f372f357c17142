// Package levertest connects to the simulator's Lever as Tandem does, for
// tests: a Super Admin's consent through Lever's pages, then the code
// exchange.
package levertest

import (
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"
	"github.com/tandemhq/tandem/services/identity/internal/lever"
)

// RedirectURI is the default app's redirect URI at the simulator.
const RedirectURI = providersim.DefaultLeverRedirectURI

// Scopes are what the tests ask for.
var Scopes = []string{"offline_access", "opportunities:write:admin", "stages:read:admin", "postings:read:admin", "users:read:admin", "archive_reasons:read:admin"}

// TokenClient is a token client of the simulator's default app.
func TokenClient(t testing.TB, sim *providersim.Sim, hc *providerhttp.Client) *lever.TokenClient {
	t.Helper()
	c, err := lever.NewTokenClient(lever.TokenClientOptions{TokenURL: sim.LeverOAuthURL() + "/oauth/token",
		ClientID: providersim.DefaultLeverClientID, ClientSecret: providersim.DefaultLeverClientSecret,
		Audience: providersim.LeverAudience, HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Code runs the demo account's Super Admin through Lever's consent and
// returns the authorization code and the PKCE verifier it was asked with.
func Code(t testing.TB, sim *providersim.Sim) (code, verifier string) {
	t.Helper()
	verifier = oauth2.GenerateVerifier()
	c := oauth2.Config{ClientID: providersim.DefaultLeverClientID, Endpoint: oauth2.Endpoint{AuthURL: sim.LeverOAuthURL() + "/authorize"},
		RedirectURL: RedirectURI, Scopes: Scopes}
	authorize := c.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("audience", providersim.LeverAudience))
	b, err := simbrowser.New(sim.LeverOAuthURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	p, err := b.Get(ctx, authorize)
	if err == nil && p.Name == "signin" {
		p, err = b.Submit(ctx, p, url.Values{"login": {providersim.DemoLeverSuperAdmin}}, "signin-submit")
	}
	if err == nil && p.Name == "consent" {
		p, err = b.Submit(ctx, p, url.Values{}, "accept")
	}
	if err != nil {
		t.Fatal(err)
	}
	if p.Redirect == nil || p.Redirect.Query().Get("code") == "" {
		t.Fatalf("Lever's consent did not end with a code: page %q redirect %v", p.Name, p.Redirect)
	}
	return p.Redirect.Query().Get("code"), verifier
}

// Connect returns the tokens of a fresh consent.
func Connect(t testing.TB, sim *providersim.Sim, c *lever.TokenClient) *lever.TokenResponse {
	t.Helper()
	code, verifier := Code(t, sim)
	tr, err := c.ExchangeCode(t.Context(), code, RedirectURI, verifier)
	if err != nil {
		t.Fatalf("exchange the code: %v", err)
	}
	return tr
}
