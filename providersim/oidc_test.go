package providersim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/tandemhq/tandem/providersim"
)

// TestOffTheShelfClientSignIn signs in with golang.org/x/oauth2 and
// github.com/coreos/go-oidc/v3 pointed at the simulator, as Tandem will.
func TestOffTheShelfClientSignIn(t *testing.T) {
	e := start(t)
	ctx := e.ctx
	contoso := e.tenant(providersim.DemoContosoDomain)
	adele := e.user(providersim.DemoContosoUser)

	provider, err := oidc.NewProvider(ctx, e.sim.Issuer(contoso.ID))
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := oauth2.Config{
		ClientID:     providersim.DefaultClientID,
		ClientSecret: providersim.DefaultClientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  providersim.DefaultRedirectURIs[0],
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess, "User.Read"},
	}
	verifier := oauth2.GenerateVerifier()
	const state, nonce = "state-7f3a", "nonce-91bc"
	authURL := cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("login_hint", providersim.DemoContosoUser))

	b := e.browser()
	p := e.get(b, authURL)
	wantPage(t, p, "signin")
	if p.Form.Fields.Get("login") != providersim.DemoContosoUser {
		t.Errorf("login_hint not prefilled: %q", p.Form.Fields.Get("login"))
	}
	p = e.submit(b, p, nil, "signin-submit")
	wantPage(t, p, "consent")
	q := wantRedirect(t, e.submit(b, p, nil, "accept"), providersim.DefaultRedirectURIs[0])
	if q.Get("state") != state {
		t.Fatalf("state %q", q.Get("state"))
	}

	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idToken.Nonce != nonce {
		t.Errorf("nonce %q, want %q", idToken.Nonce, nonce)
	}
	var claims struct {
		TID               string `json:"tid"`
		OID               string `json:"oid"`
		PreferredUsername string `json:"preferred_username"`
		Email             string `json:"email"`
		Name              string `json:"name"`
	}
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.TID != contoso.ID || claims.OID != adele.ID || claims.PreferredUsername != adele.UserPrincipalName ||
		claims.Email != adele.UserPrincipalName || claims.Name != "Adele Vance" {
		t.Errorf("claims %+v", claims)
	}
	// A token from another issuer fails verification: the key is the same,
	// the issuer is not.
	fabrikam := e.tenant(providersim.DemoFabrikamDomain)
	other, err := oidc.NewProvider(ctx, e.sim.Issuer(fabrikam.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, rawID); err == nil {
		t.Error("an ID token of Contoso verified against Fabrikam's issuer")
	}

	// The access token works on Graph, and the oauth2 client refreshes it
	// once it has expired.
	client := cfg.Client(ctx, tok)
	me := func() map[string]any {
		resp, err := client.Get(e.sim.GraphURL() + "/v1.0/me")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /me: %d %s", resp.StatusCode, body)
		}
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := me(); got["userPrincipalName"] != adele.UserPrincipalName || got["id"] != adele.ID {
		t.Errorf("/me %v", got)
	}
	expired := *tok
	expired.Expiry = expired.Expiry.Add(-2 * 3600e9)
	client = cfg.Client(ctx, &expired)
	me()
	n, err := e.c.Counter(ctx, "microsoft.token.refresh_token/user="+adele.UserPrincipalName)
	if err != nil || n != 1 {
		t.Errorf("refresh grants %d %v", n, err)
	}

	// Discovery for organizations keeps Microsoft's {tenantid} placeholder,
	// which is why clients verify against the tenant-specific issuer.
	if _, err := oidc.NewProvider(ctx, e.sim.MicrosoftURL()+"/organizations/v2.0"); err == nil {
		t.Error("organizations discovery verified its issuer; Microsoft's does not")
	}
	// The userinfo endpoint named in discovery answers with the same subject.
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != idToken.Subject || info.Email != adele.UserPrincipalName {
		t.Errorf("userinfo %+v, id token sub %s", info, idToken.Subject)
	}
}
