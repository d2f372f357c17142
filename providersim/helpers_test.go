package providersim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"
	"github.com/tandemhq/tandem/providersim/simclient"
)

const (
	callback        = "http://localhost:8080/oauth/microsoft/callback"
	consentCallback = "http://localhost:8080/oauth/microsoft/adminconsent/callback"
	signInScopes    = "openid profile email offline_access User.Read"
	mailScopes      = "offline_access https://graph.microsoft.com/Mail.Send https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/Mail.Read"
	testVerifier    = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-this-is-a-test-verifier"
)

// env is one simulator started for one test.
type env struct {
	t   testing.TB
	ctx context.Context
	sim *providersim.Sim
	c   *simclient.Client
}

// testClient is the tests' HTTP client: a simulator that hangs fails the
// test instead of holding it until the test binary's timeout.
var testClient = &http.Client{Timeout: 30 * time.Second}

func start(t testing.TB, opts ...func(*providersim.Options)) *env {
	t.Helper()
	var o providersim.Options
	o.Seed = 42
	o.AllowHTTPLoopbackNotifications = true // the test receivers are httptest servers
	for _, f := range opts {
		f(&o)
	}
	sim, err := providersim.Start(t.Context(), o)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, ctx: t.Context(), sim: sim, c: sim.Client()}
}

func (e *env) tenant(domain string) simclient.Tenant {
	e.t.Helper()
	tn, err := e.c.Tenant(e.ctx, domain)
	if err != nil {
		e.t.Fatalf("tenant %s: %v", domain, err)
	}
	return tn
}

func (e *env) user(upn string) simclient.User {
	e.t.Helper()
	u, err := e.c.User(e.ctx, upn)
	if err != nil {
		e.t.Fatalf("user %s: %v", upn, err)
	}
	return u
}

func (e *env) browser() *simbrowser.Browser {
	e.t.Helper()
	b, err := simbrowser.New(e.sim.MicrosoftURL())
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL builds an authorize request for the default app.
func (e *env) authorizeURL(tenant, scope string, extra url.Values) string {
	q := url.Values{
		"client_id":             {providersim.DefaultClientID},
		"response_type":         {"code"},
		"redirect_uri":          {callback},
		"scope":                 {scope},
		"state":                 {"st-123"},
		"nonce":                 {"n-456"},
		"code_challenge":        {challenge(testVerifier)},
		"code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		if len(v) == 1 && v[0] == "" {
			q.Del(k)
			continue
		}
		q[k] = v
	}
	return e.sim.MicrosoftURL() + "/" + tenant + "/oauth2/v2.0/authorize?" + q.Encode()
}

func (e *env) get(b *simbrowser.Browser, u string) *simbrowser.Page {
	e.t.Helper()
	p, err := b.Get(e.ctx, u)
	if err != nil {
		e.t.Fatalf("GET %s: %v", u, err)
	}
	return p
}

func (e *env) submit(b *simbrowser.Browser, p *simbrowser.Page, values url.Values, button string) *simbrowser.Page {
	e.t.Helper()
	next, err := b.Submit(e.ctx, p, values, button)
	if err != nil {
		e.t.Fatalf("submit %s: %v", p.Name, err)
	}
	return next
}

func (e *env) follow(b *simbrowser.Browser, p *simbrowser.Page, link string) *simbrowser.Page {
	e.t.Helper()
	next, err := b.Follow(e.ctx, p, link)
	if err != nil {
		e.t.Fatalf("follow %s: %v", link, err)
	}
	return next
}

func wantPage(t testing.TB, p *simbrowser.Page, name string) {
	t.Helper()
	if p.Redirect != nil {
		t.Fatalf("want page %q, got a redirect to %s", name, p.Redirect)
	}
	if p.Name != name {
		t.Fatalf("want page %q, got %q (status %d): %s", name, p.Name, p.Status, p.Body)
	}
}

// wantRedirect checks the browser ended on the app's redirect URI and returns
// its parameters (query, or fragment).
func wantRedirect(t testing.TB, p *simbrowser.Page, prefix string) url.Values {
	t.Helper()
	if p.Redirect == nil {
		t.Fatalf("want a redirect to %s, got page %q (status %d): %s", prefix, p.Name, p.Status, p.Body)
	}
	if !strings.HasPrefix(p.Redirect.String(), prefix) {
		t.Fatalf("redirect to %s, want %s", p.Redirect, prefix)
	}
	if p.Redirect.Fragment != "" {
		v, err := url.ParseQuery(p.Redirect.Fragment)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return p.Redirect.Query()
}

// signIn goes from an authorize URL through the sign-in page as upn.
func (e *env) signIn(b *simbrowser.Browser, authURL, upn string) *simbrowser.Page {
	e.t.Helper()
	p := e.get(b, authURL)
	if p.Name == "signin" {
		p = e.submit(b, p, url.Values{"login": {upn}}, "signin-submit")
	}
	return p
}

// code runs an authorize request for upn through sign-in and consent
// (accepting, for the organisation when org is true) and returns the code.
func (e *env) code(b *simbrowser.Browser, tenant, upn, scope string, org bool) string {
	e.t.Helper()
	p := e.signIn(b, e.authorizeURL(tenant, scope, url.Values{"login_hint": {upn}}), upn)
	if p.Name == "consent" {
		v := url.Values{}
		if org {
			v.Set("consent_for_org", "true")
		}
		p = e.submit(b, p, v, "accept")
	}
	q := wantRedirect(e.t, p, callback)
	if q.Get("code") == "" {
		e.t.Fatalf("no code in redirect: %v", q)
	}
	return q.Get("code")
}

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int64  `json:"expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`

	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
	Suberror    string `json:"suberror"`
	TraceID     string `json:"trace_id"`
	Correlation string `json:"correlation_id"`
	Timestamp   string `json:"timestamp"`
}

// tokenRequest posts form to the token endpoint of tenant with the default
// app's credentials in the form (unless form has them already).
func (e *env) tokenRequest(tenant string, form url.Values) (int, tokenResponse) {
	e.t.Helper()
	if _, ok := form["client_id"]; !ok {
		form.Set("client_id", providersim.DefaultClientID)
	}
	if _, ok := form["client_secret"]; !ok {
		form.Set("client_secret", providersim.DefaultClientSecret)
	}
	for k, v := range form {
		if len(v) == 1 && v[0] == "" {
			delete(form, k)
		}
	}
	resp, err := testClient.PostForm(e.sim.MicrosoftURL()+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, tr
}

func (e *env) redeem(tenant, code string) tokenResponse {
	e.t.Helper()
	status, tr := e.tokenRequest(tenant, url.Values{
		"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {callback}, "code_verifier": {testVerifier},
	})
	if status != http.StatusOK {
		e.t.Fatalf("redeem: %d %s %s", status, tr.Error, tr.Description)
	}
	return tr
}

func (e *env) refresh(tenant, refreshToken, scope string) (int, tokenResponse) {
	e.t.Helper()
	return e.tokenRequest(tenant, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "scope": {scope},
	})
}

// tokens signs upn in with scopes (consenting as needed) and returns the
// token response.
func (e *env) tokens(upn, scope string) tokenResponse {
	e.t.Helper()
	u := e.user(upn)
	return e.redeem(u.TenantID, e.code(e.browser(), u.TenantID, upn, scope, false))
}

// graphToken returns an access token for upn with Mail scopes, granting
// consent through the control API first.
func (e *env) graphToken(upn string, scopes ...string) string {
	e.t.Helper()
	u := e.user(upn)
	if len(scopes) == 0 {
		scopes = []string{"Mail.Send", "Mail.ReadWrite", "Mail.Read", "User.Read"}
	}
	all := append([]string{"openid", "profile", "email", "offline_access"}, scopes...)
	if _, err := e.c.GrantConsent(e.ctx, simclient.Grant{ClientID: providersim.DefaultClientID, UserID: u.ID, Scopes: all}); err != nil {
		e.t.Fatal(err)
	}
	return e.tokens(upn, strings.Join(all, " ")).AccessToken
}

// graphCall calls Graph and returns status, headers and body.
func (e *env) graphCall(method, path, token string, body any, headers ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = e.sim.GraphURL() + path
	}
	req, err := http.NewRequestWithContext(e.ctx, method, target, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}

// graphJSON calls Graph, checks the status and decodes the body.
func (e *env) graphJSON(method, path, token string, body any, want int, headers ...string) map[string]any {
	e.t.Helper()
	status, _, raw := e.graphCall(method, path, token, body, headers...)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, raw)
	}
	if len(raw) == 0 {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	return out
}

// graphErrorCode returns error.code of a Graph error body.
func graphErrorCode(t testing.TB, raw []byte) string {
	t.Helper()
	var body struct {
		Error struct {
			Code       string         `json:"code"`
			Message    string         `json:"message"`
			InnerError map[string]any `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("not a Graph error: %s", raw)
	}
	if body.Error.InnerError == nil || body.Error.Message == "" {
		t.Fatalf("Graph error without message or innerError: %s", raw)
	}
	return body.Error.Code
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mail(to ...string) map[string]any {
	var rcpts []map[string]any
	for _, a := range to {
		rcpts = append(rcpts, map[string]any{"emailAddress": map[string]any{"address": a, "name": strings.Split(a, "@")[0]}})
	}
	return map[string]any{
		"subject":      "Senior Go engineer at Contoso",
		"body":         map[string]any{"contentType": "Text", "content": "Hi, would you like to talk?"},
		"toRecipients": rcpts,
	}
}

func asError(err error, target **simclient.Error) bool { return errors.As(err, target) }
