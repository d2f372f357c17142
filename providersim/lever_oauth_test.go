package providersim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestLeverAuthorizeCodeFlowWithPKCE(t *testing.T) {
	e := start(t)
	b := e.leverBrowser()
	p := e.get(b, e.leverAuthorizeURL(leverScopes+" bogus:read:admin", nil))
	wantPage(t, p, "signin")
	p = e.submit(b, p, url.Values{"login": {providersim.DemoLeverSuperAdmin}}, "signin-submit")
	wantPage(t, p, "consent")
	scopes := p.Scopes()
	if !slices.Contains(scopes, "opportunities:write:admin") || slices.Contains(scopes, "bogus:read:admin") {
		t.Errorf("consent scopes %v", scopes)
	}
	q := wantRedirect(t, e.submit(b, p, nil, "accept"), leverCallback)
	code := q.Get("code")
	if code == "" || q.Get("state") != "lv-state" {
		t.Fatalf("redirect %v", q)
	}
	// The verifier is checked; a wrong one spends nothing.
	status, tr := e.leverTokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {leverCallback}, "code_verifier": {"wrong-verifier-wrong-verifier-wrong-verifier-00"}})
	if status != http.StatusForbidden || tr.Error != "invalid_grant" {
		t.Errorf("wrong verifier: %d %+v", status, tr)
	}
	p = e.get(b, e.leverAuthorizeURL(leverScopes, nil)) // signed in already: straight to consent
	wantPage(t, p, "consent")
	code = wantRedirect(t, e.submit(b, p, nil, "accept"), leverCallback).Get("code")
	tr = e.leverRedeem(code)
	if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.AccessToken == "" || tr.RefreshToken == "" {
		t.Errorf("token response %+v", tr)
	}
	if got := strings.Fields(tr.Scope); !slices.Contains(got, "offline_access") || slices.Contains(got, "bogus:read:admin") {
		t.Errorf("granted scopes %v", got)
	}
	// Codes are single use.
	status, tr2 := e.leverTokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {leverCallback}, "code_verifier": {testVerifier}})
	if status != http.StatusForbidden || tr2.Error != "invalid_grant" || tr2.Description == "" {
		t.Errorf("reused code: %d %+v", status, tr2)
	}
	body := e.leverJSON(http.MethodGet, "/v1/users?email="+url.QueryEscape(providersim.DemoLeverUser), tr.AccessToken, nil, http.StatusOK)
	if users := dataList(t, body); len(users) != 1 || users[0].(map[string]any)["email"] != providersim.DemoLeverUser {
		t.Errorf("users by email: %v", body)
	}
	grants, err := e.c.LeverGrants(e.ctx, providersim.DemoLeverAccount)
	if err != nil || len(grants) != 1 || grants[0].UserID != e.leverUserID(providersim.DemoLeverSuperAdmin) || grants[0].Revoked {
		t.Errorf("grants %+v %v", grants, err)
	}
}

func TestLeverAuthorizeErrors(t *testing.T) {
	e := start(t)
	b := e.leverBrowser()
	for name, extra := range map[string]url.Values{
		"unknown client":    {"client_id": {"nope"}},
		"redirect mismatch": {"redirect_uri": {"http://localhost:8080/elsewhere"}},
	} {
		p := e.get(b, e.leverAuthorizeURL(leverScopes, extra))
		wantPage(t, p, "error")
		if p.Status != http.StatusBadRequest || !p.Has("error-description") {
			t.Errorf("%s: status %d", name, p.Status)
		}
	}
	for name, c := range map[string]struct {
		extra     url.Values
		err, desc string
	}{
		"no audience":            {url.Values{"audience": {""}}, "invalid_request", "audience"},
		"audience without slash": {url.Values{"audience": {"https://api.lever.co/v1"}}, "access_denied", "Service not found: https://api.lever.co/v1"},
		"sandbox audience":       {url.Values{"audience": {"https://api.sandbox.lever.co/v1/"}}, "access_denied", "Service not found"},
		"implicit flow":          {url.Values{"response_type": {"token"}}, "unsupported_response_type", "token"},
		"unknown PKCE method":    {url.Values{"code_challenge_method": {"S512"}}, "invalid_request", "code_challenge_method"},
	} {
		q := wantRedirect(t, e.get(b, e.leverAuthorizeURL(leverScopes, c.extra)), leverCallback)
		if q.Get("error") != c.err || !strings.Contains(q.Get("error_description"), c.desc) || q.Get("state") != "lv-state" {
			t.Errorf("%s: %v", name, q)
		}
	}
	// Wrong address, then declining consent.
	p := e.get(b, e.leverAuthorizeURL(leverScopes, nil))
	p = e.submit(b, p, url.Values{"login": {"nobody@contoso.example"}}, "signin-submit")
	wantPage(t, p, "signin")
	if p.ErrorCode != "invalid_user_password" || !p.Has("error") {
		t.Errorf("unknown user: %q", p.ErrorCode)
	}
	p = e.submit(b, p, url.Values{"login": {providersim.DemoLeverSuperAdmin}}, "signin-submit")
	wantPage(t, p, "consent")
	q := wantRedirect(t, e.submit(b, p, nil, "cancel"), leverCallback)
	if q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Errorf("declined: %v", q)
	}
	// Token endpoint: bad client credentials, unknown grant type.
	status, tr := e.leverTokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_secret": {"wrong"}})
	if status != http.StatusUnauthorized || tr.Error != "access_denied" {
		t.Errorf("bad secret: %d %+v", status, tr)
	}
	status, tr = e.leverTokenRequest(url.Values{"grant_type": {"password"}})
	if status != http.StatusForbidden || tr.Error != "unsupported_grant_type" {
		t.Errorf("password grant: %d %+v", status, tr)
	}
	status, tr = e.leverTokenRequest(url.Values{"grant_type": {"authorization_code"}, "code": {"made-up"}, "redirect_uri": {leverCallback}})
	if status != http.StatusForbidden || tr.Error != "invalid_grant" {
		t.Errorf("made-up code: %d %+v", status, tr)
	}
}

func TestLeverOnlySuperAdminCanAuthorize(t *testing.T) {
	e := start(t)
	for _, who := range []string{providersim.DemoLeverUser, providersim.DemoLeverLimited} {
		b := e.leverBrowser()
		p := e.get(b, e.leverAuthorizeURL(leverScopes, nil))
		p = e.submit(b, p, url.Values{"login": {who}}, "signin-submit")
		wantPage(t, p, "not-super-admin")
		if p.Status != http.StatusForbidden || p.Form != nil || !strings.Contains(p.Body, "Super Admin") {
			t.Errorf("%s: refusal page status %d", who, p.Status)
		}
		q := wantRedirect(t, e.follow(b, p, "return-to-app"), leverCallback)
		if q.Get("error") != "access_denied" || q.Get("state") != "lv-state" || q.Get("code") != "" {
			t.Errorf("%s: back to the app with %v", who, q)
		}
	}
	if n, err := e.c.Counter(e.ctx, "lever.oauth.notSuperAdmin"); err != nil || n != 2 {
		t.Errorf("refusals counted %d (err %v)", n, err)
	}
	// A user made Super Admin later can authorize; with the setting, a
	// refusal goes straight back to the app.
	if _, err := e.c.SetLeverSettings(e.ctx, simclient.LeverSettings{NonAdminRedirect: true}); err != nil {
		t.Fatal(err)
	}
	b := e.leverBrowser()
	p := e.submit(b, e.get(b, e.leverAuthorizeURL(leverScopes, nil)), url.Values{"login": {providersim.DemoLeverUser}}, "signin-submit")
	if q := wantRedirect(t, p, leverCallback); q.Get("error") != "access_denied" {
		t.Errorf("redirected refusal %v", q)
	}
	if _, err := e.c.AddLeverUser(e.ctx, providersim.DemoLeverAccount, simclient.LeverUser{Name: "Nestor Wilke", Email: "nestor.wilke@contoso.example", AccessRole: simclient.LeverSuperAdmin}); err != nil {
		t.Fatal(err)
	}
	if tr := e.leverRedeem(e.leverCode(e.leverBrowser(), "nestor.wilke@contoso.example", leverScopes)); tr.AccessToken == "" {
		t.Error("second Super Admin got no token")
	}
	// Deactivated users cannot sign in at all.
	if _, err := e.c.AddLeverUser(e.ctx, providersim.DemoLeverAccount, simclient.LeverUser{Name: "Gone", Email: "gone@contoso.example", AccessRole: simclient.LeverSuperAdmin, Deactivated: true}); err != nil {
		t.Fatal(err)
	}
	b = e.leverBrowser()
	p = e.submit(b, e.get(b, e.leverAuthorizeURL(leverScopes, nil)), url.Values{"login": {"gone@contoso.example"}}, "signin-submit")
	wantPage(t, p, "signin")
}

func TestLeverRefreshTokensRotate(t *testing.T) {
	e := start(t)
	first := e.leverTokens(leverScopes)
	status, second := e.leverRefresh(first.RefreshToken)
	if status != http.StatusOK || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || second.ExpiresIn != 3600 {
		t.Fatalf("refresh: %d %+v", status, second)
	}
	// Both access tokens work until they expire.
	for _, at := range []string{first.AccessToken, second.AccessToken} {
		e.leverJSON(http.MethodGet, "/v1/stages", at, nil, http.StatusOK)
	}
	// Reusing the old refresh token is invalid_grant, and Auth0's reuse
	// detection revokes the family: the newest token dies too.
	status, tr := e.leverRefresh(first.RefreshToken)
	if status != http.StatusForbidden || tr.Error != "invalid_grant" {
		t.Errorf("reuse: %d %+v", status, tr)
	}
	status, tr = e.leverRefresh(second.RefreshToken)
	if status != http.StatusForbidden || tr.Error != "invalid_grant" {
		t.Errorf("newest after reuse: %d %+v", status, tr)
	}
	grants, err := e.c.LeverGrants(e.ctx, providersim.DemoLeverAccount)
	if err != nil || len(grants) != 1 || !grants[0].Revoked || grants[0].RevokedBy != "reuse" {
		t.Errorf("grants after reuse %+v %v", grants, err)
	}

	// Without reuse detection only the old token fails; RFC status on demand.
	if _, err := e.c.SetLeverSettings(e.ctx, simclient.LeverSettings{KeepFamilyOnReuse: true, InvalidGrantStatus: http.StatusBadRequest}); err != nil {
		t.Fatal(err)
	}
	a := e.leverTokens(leverScopes)
	_, b := e.leverRefresh(a.RefreshToken)
	if status, tr := e.leverRefresh(a.RefreshToken); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Errorf("reuse with the setting: %d %+v", status, tr)
	}
	if status, _ := e.leverRefresh(b.RefreshToken); status != http.StatusOK {
		t.Errorf("newest token died: %d", status)
	}

	// Access tokens last an hour on the simulated clock.
	fresh := e.leverTokens(leverScopes)
	if _, err := e.c.AdvanceClock(e.ctx, 61*time.Minute); err != nil {
		t.Fatal(err)
	}
	e.leverError(http.MethodGet, "/v1/stages", fresh.AccessToken, nil, http.StatusUnauthorized)
	status, renewed := e.leverRefresh(fresh.RefreshToken)
	if status != http.StatusOK || renewed.AccessToken == "" {
		t.Fatalf("refresh after expiry: %d %+v", status, renewed)
	}
	// A refresh within 90 days keeps the grant alive; 90 days without one
	// end it.
	if _, err := e.c.AdvanceClock(e.ctx, 89*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	status, renewed = e.leverRefresh(renewed.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh after 89 idle days: %d %+v", status, renewed)
	}
	if _, err := e.c.AdvanceClock(e.ctx, 91*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if status, c := e.leverRefresh(renewed.RefreshToken); status != http.StatusBadRequest || c.Error != "invalid_grant" { // the RFC status set above
		t.Errorf("refresh after 91 idle days: %d %+v", status, c)
	}
}

func TestLeverRevokeAccess(t *testing.T) {
	e := start(t)
	tr := e.leverTokens(leverScopes)
	e.leverJSON(http.MethodGet, "/v1/stages", tr.AccessToken, nil, http.StatusOK)
	n, err := e.c.RevokeLever(e.ctx, providersim.DemoLeverAccount, providersim.DefaultLeverClientID)
	if err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	e.leverError(http.MethodGet, "/v1/stages", tr.AccessToken, nil, http.StatusUnauthorized)
	if status, r := e.leverRefresh(tr.RefreshToken); status != http.StatusForbidden || r.Error != "invalid_grant" {
		t.Errorf("refresh after revoke: %d %+v", status, r)
	}
	// The other reading of the reference: JWTs stay valid until they expire.
	if _, err := e.c.SetLeverSettings(e.ctx, simclient.LeverSettings{AccessTokensSurviveRevoke: true}); err != nil {
		t.Fatal(err)
	}
	e.leverJSON(http.MethodGet, "/v1/stages", tr.AccessToken, nil, http.StatusOK)
	// Authorizing again makes a new, working grant.
	again := e.leverTokens(leverScopes)
	if status, _ := e.leverRefresh(again.RefreshToken); status != http.StatusOK {
		t.Errorf("new grant refresh: %d", status)
	}
	if _, err := e.c.RevokeLever(e.ctx, "no such account", providersim.DefaultLeverClientID); err == nil {
		t.Error("revoke in an unknown account succeeded")
	}
}

func TestLeverScopesArePerEndpoint(t *testing.T) {
	e := start(t)
	tr := e.leverTokens("stages:read:admin opportunities:read:admin")
	if strings.Contains(tr.Scope, "offline_access") || tr.RefreshToken != "" {
		t.Errorf("refresh token without offline_access: %+v", tr)
	}
	e.leverJSON(http.MethodGet, "/v1/stages", tr.AccessToken, nil, http.StatusOK)
	e.leverJSON(http.MethodGet, "/v1/opportunities", tr.AccessToken, nil, http.StatusOK)
	msg := e.leverError(http.MethodPost, "/v1/opportunities?perform_as=x", tr.AccessToken, map[string]any{"name": "X"}, http.StatusForbidden)
	if !strings.Contains(msg, "opportunities:write:admin") {
		t.Errorf("403 message %q", msg)
	}
	for _, path := range []string{"/v1/postings", "/v1/users", "/v1/sources", "/v1/tags", "/v1/archive_reasons", "/v1/webhooks"} {
		e.leverError(http.MethodGet, path, tr.AccessToken, nil, http.StatusForbidden)
	}
	// A write scope includes read.
	w := e.leverTokens("postings:write:admin")
	e.leverJSON(http.MethodGet, "/v1/postings", w.AccessToken, nil, http.StatusOK)
	// No token, a malformed header, an unknown token: 401.
	e.leverError(http.MethodGet, "/v1/stages", "", nil, http.StatusUnauthorized)
	e.leverError(http.MethodGet, "/v1/stages", "not-a-token", nil, http.StatusUnauthorized)
	// An app limited to some scopes gets only those.
	if _, err := e.c.CreateLeverClient(e.ctx, simclient.LeverClient{ClientID: "narrow", ClientSecret: "s", Name: "Narrow", RedirectURIs: []string{leverCallback}, Scopes: []string{"stages:read:admin"}}); err != nil {
		t.Fatal(err)
	}
	b := e.leverBrowser()
	p := e.get(b, e.leverAuthorizeURL(leverScopes, url.Values{"client_id": {"narrow"}}))
	p = e.submit(b, p, url.Values{"login": {providersim.DemoLeverSuperAdmin}}, "signin-submit")
	if got := p.Scopes(); len(got) != 1 || got[0] != "stages:read:admin" {
		t.Errorf("narrow app consent %v", got)
	}
}

func TestLeverRateLimitIsATokenBucketPerToken(t *testing.T) {
	e := start(t)
	one := e.leverTokens("stages:read:admin").AccessToken
	two := e.leverTokens("stages:read:admin").AccessToken
	// The bucket refills at 10 a second of (simulated, here real) time:
	// 20 of burst go through, plus what refilled while the loop ran.
	allowed := 0
	var header http.Header
	began := time.Now()
	for range 40 {
		status, h, _ := e.leverCall(http.MethodGet, "/v1/stages", one, nil)
		switch status {
		case http.StatusOK:
			allowed++
		case http.StatusTooManyRequests:
			header = h
		default:
			t.Fatalf("status %d", status)
		}
	}
	refill := int(time.Since(began).Seconds()*10) + 1
	if allowed < 20 || allowed > 20+refill {
		t.Errorf("allowed %d of 40 (refill up to %d)", allowed, refill)
	}
	if header == nil {
		t.Fatal("never limited")
	}
	if header.Get("Retry-After") != "" {
		t.Errorf("Retry-After sent by default: %q", header.Get("Retry-After"))
	}
	e.leverJSON(http.MethodGet, "/v1/stages", two, nil, http.StatusOK) // another token, another bucket
	if _, err := e.c.AdvanceClock(e.ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	e.leverJSON(http.MethodGet, "/v1/stages", one, nil, http.StatusOK) // refilled at 10/s
	if n, err := e.c.Counter(e.ctx, "lever.throttled/token="+simclient.LeverTokenFingerprint(one)); err != nil || n != int64(40-allowed) {
		t.Errorf("throttled counter %d (err %v)", n, err)
	}
	if n, err := e.c.Counter(e.ctx, "lever.listStages/token="+simclient.LeverTokenFingerprint(two)); err != nil || n != 1 {
		t.Errorf("per-token counter %d (err %v)", n, err)
	}
	if _, err := e.c.SetLeverSettings(e.ctx, simclient.LeverSettings{RetryAfter: true, RateLimitPerSecond: 1, RateLimitBurst: 1}); err != nil {
		t.Fatal(err)
	}
	e.leverJSON(http.MethodGet, "/v1/stages", one, nil, http.StatusOK)
	status, h, _ := e.leverCall(http.MethodGet, "/v1/stages", one, nil)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "1" {
		t.Errorf("with Retry-After: %d %q", status, h.Get("Retry-After"))
	}
}

// TestLeverOAuthWithGoOAuth2 connects as Tandem does: golang.org/x/oauth2
// with PKCE and the audience, a cookie-jar browser for the pages, and the
// token source's refresh, which must pick up the rotated refresh token.
func TestLeverOAuthWithGoOAuth2(t *testing.T) {
	e := start(t)
	conf := &oauth2.Config{
		ClientID: providersim.DefaultLeverClientID, ClientSecret: providersim.DefaultLeverClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL: e.sim.LeverOAuthURL() + "/authorize", TokenURL: e.sim.LeverOAuthURL() + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: leverCallback,
		Scopes:      strings.Fields(leverScopes),
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("tandem-state", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("audience", providersim.LeverAudience), oauth2.SetAuthURLParam("prompt", "consent"))
	b := e.leverBrowser()
	p := e.submit(b, e.get(b, authURL), url.Values{"login": {providersim.DemoLeverSuperAdmin}}, "signin-submit")
	q := wantRedirect(t, e.submit(b, p, nil, "accept"), leverCallback)
	if q.Get("state") != "tandem-state" {
		t.Fatalf("state %v", q)
	}
	tok, err := conf.Exchange(e.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || time.Until(tok.Expiry) < 59*time.Minute {
		t.Errorf("token %+v", tok)
	}
	hc := conf.Client(e.ctx, tok)
	resp, err := hc.Get(e.sim.LeverURL() + "/v1/postings?state=published")
	if err != nil {
		t.Fatal(err)
	}
	var postings struct {
		Data    []map[string]any `json:"data"`
		HasNext bool             `json:"hasNext"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&postings); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(postings.Data) != 2 || postings.HasNext {
		t.Errorf("postings: %d %+v", resp.StatusCode, postings)
	}
	// An expired token is refreshed, and the new refresh token replaces the old.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	src := conf.TokenSource(context.WithValue(e.ctx, oauth2.HTTPClient, leverHTTP), &old)
	fresh, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken || fresh.AccessToken == tok.AccessToken {
		t.Errorf("refresh did not rotate: %+v", fresh)
	}
	// The client secret may go in HTTP Basic instead of the form.
	basic := *conf
	basic.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	stale := *fresh
	stale.Expiry = time.Now().Add(-time.Minute)
	if fresh, err = basic.TokenSource(e.ctx, &stale).Token(); err != nil || fresh.AccessToken == "" {
		t.Fatalf("refresh with Basic: %v", err)
	}
	// Revoked: the refresh is a RetrieveError with invalid_grant.
	if _, err := e.c.RevokeLever(e.ctx, providersim.DemoLeverAccount, providersim.DefaultLeverClientID); err != nil {
		t.Fatal(err)
	}
	expired := *fresh
	expired.Expiry = time.Now().Add(-time.Minute)
	_, err = conf.TokenSource(e.ctx, &expired).Token()
	var re *oauth2.RetrieveError
	if !asRetrieveError(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh after revoke: %v", err)
	}
}

func asRetrieveError(err error, target **oauth2.RetrieveError) bool { return errors.As(err, target) }
