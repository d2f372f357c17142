// Package levertest gets an access token of the simulator's demo Lever
// account the way identity does: the Super Admin's consent through
// Lever's pages, then the code exchange at the token endpoint.
package levertest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"
)

// Scopes are what the import needs.
var Scopes = []string{"offline_access", "stages:read:admin", "postings:read:admin", "users:read:admin", "archive_reasons:read:admin"}

// AccessToken returns a fresh access token of the demo account, granted
// scopes.
func AccessToken(t testing.TB, sim *providersim.Sim, scopes ...string) string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = Scopes
	}
	ctx := t.Context()
	verifier := oauth2.GenerateVerifier()
	c := oauth2.Config{ClientID: providersim.DefaultLeverClientID, ClientSecret: providersim.DefaultLeverClientSecret,
		Endpoint:    oauth2.Endpoint{AuthURL: sim.LeverOAuthURL() + "/authorize", TokenURL: sim.LeverOAuthURL() + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: providersim.DefaultLeverRedirectURI, Scopes: scopes}
	b, err := simbrowser.New(sim.LeverOAuthURL())
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Get(ctx, c.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("audience", providersim.LeverAudience)))
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
		t.Fatalf("Lever's consent did not end with a code: page %q", p.Name)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {p.Redirect.Query().Get("code")}, "redirect_uri": {providersim.DefaultLeverRedirectURI},
		"code_verifier": {verifier}, "client_id": {providersim.DefaultLeverClientID}, "client_secret": {providersim.DefaultLeverClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sim.LeverOAuthURL()+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token exchange: %d, %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}
