package providersim_test

import (
	"bytes"
	"encoding/json"
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

// leverHTTP is the plain client the Lever tests call the simulator with: a
// stuck simulator fails the test instead of hanging it.
var leverHTTP = &http.Client{Timeout: 30 * time.Second}

const (
	leverCallback = providersim.DefaultLeverRedirectURI
	leverScopes   = "offline_access opportunities:write:admin notes:write:admin files:write:admin resumes:read:admin stages:read:admin postings:read:admin users:read:admin sources:read:admin tags:read:admin archive_reasons:read:admin webhooks:write:admin"
)

// startLever starts a simulator with Lever's rate limit out of the way of
// tests that make many calls.
func startLever(t testing.TB) *env {
	t.Helper()
	e := start(t)
	if _, err := e.c.SetLeverSettings(e.ctx, simclient.LeverSettings{RateLimitPerSecond: 1e6, RateLimitBurst: 1e6}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) leverAccount() simclient.LeverAccount {
	e.t.Helper()
	a, err := e.c.LeverAccount(e.ctx, providersim.DemoLeverAccount)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) leverUserID(email string) string {
	e.t.Helper()
	for _, u := range e.leverAccount().Users {
		if u.Email == email {
			return u.ID
		}
	}
	e.t.Fatalf("no Lever user %s", email)
	return ""
}

func (e *env) leverPostingID(text string) string {
	e.t.Helper()
	for _, p := range e.leverAccount().Postings {
		if p.Text == text {
			return p.ID
		}
	}
	e.t.Fatalf("no posting %s", text)
	return ""
}

func (e *env) leverBrowser() *simbrowser.Browser {
	e.t.Helper()
	b, err := simbrowser.New(e.sim.LeverOAuthURL())
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// leverAuthorizeURL builds an authorize request of the default Lever app;
// an extra value of "" removes the parameter.
func (e *env) leverAuthorizeURL(scope string, extra url.Values) string {
	q := url.Values{
		"client_id":             {providersim.DefaultLeverClientID},
		"response_type":         {"code"},
		"redirect_uri":          {leverCallback},
		"scope":                 {scope},
		"state":                 {"lv-state"},
		"audience":              {providersim.LeverAudience},
		"prompt":                {"consent"},
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
	return e.sim.LeverOAuthURL() + "/authorize?" + q.Encode()
}

// leverCode signs in as email, accepts consent and returns the code.
func (e *env) leverCode(b *simbrowser.Browser, email, scope string) string {
	e.t.Helper()
	p := e.get(b, e.leverAuthorizeURL(scope, nil))
	if p.Name == "signin" {
		p = e.submit(b, p, url.Values{"login": {email}}, "signin-submit")
	}
	wantPage(e.t, p, "consent")
	q := wantRedirect(e.t, e.submit(b, p, nil, "accept"), leverCallback)
	if q.Get("code") == "" || q.Get("state") != "lv-state" {
		e.t.Fatalf("redirect without code or state: %v", q)
	}
	return q.Get("code")
}

type leverTokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func (e *env) leverTokenRequest(form url.Values) (int, leverTokenResponse) {
	e.t.Helper()
	if _, ok := form["client_id"]; !ok {
		form.Set("client_id", providersim.DefaultLeverClientID)
	}
	if _, ok := form["client_secret"]; !ok {
		form.Set("client_secret", providersim.DefaultLeverClientSecret)
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.sim.LeverOAuthURL()+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := leverHTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr leverTokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, tr
}

func (e *env) leverRedeem(code string) leverTokenResponse {
	e.t.Helper()
	status, tr := e.leverTokenRequest(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {leverCallback}, "code_verifier": {testVerifier},
	})
	if status != http.StatusOK {
		e.t.Fatalf("redeem: %d %s %s", status, tr.Error, tr.Description)
	}
	return tr
}

func (e *env) leverRefresh(rt string) (int, leverTokenResponse) {
	e.t.Helper()
	return e.leverTokenRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// leverTokens authorizes the default app as the demo Super Admin.
func (e *env) leverTokens(scope string) leverTokenResponse {
	e.t.Helper()
	return e.leverRedeem(e.leverCode(e.leverBrowser(), providersim.DemoLeverSuperAdmin, scope))
}

// leverCall calls the Data API; body is JSON unless it is an io.Reader
// (then contentType applies).
func (e *env) leverCall(method, path, token string, body any, contentType ...string) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
		ct = contentType[0]
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.sim.LeverURL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := leverHTTP.Do(req)
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

// leverJSON calls the Data API, checks the status and decodes the body.
func (e *env) leverJSON(method, path, token string, body any, want int) map[string]any {
	e.t.Helper()
	status, _, raw := e.leverCall(method, path, token, body)
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

// leverError checks a Lever error answer: the status and {code, message}.
func (e *env) leverError(method, path, token string, body any, want int) string {
	e.t.Helper()
	status, _, raw := e.leverCall(method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, raw)
	}
	var out struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Code == "" || out.Message == "" {
		e.t.Fatalf("%s %s: not a Lever error body: %s", method, path, raw)
	}
	return out.Message
}

func data(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	d, ok := body["data"].(map[string]any)
	if !ok {
		t.Fatalf("no data object in %v", body)
	}
	return d
}

func dataList(t testing.TB, body map[string]any) []any {
	t.Helper()
	d, ok := body["data"].([]any)
	if !ok {
		t.Fatalf("no data list in %v", body)
	}
	return d
}

// listAll walks a Data API list to its last page and returns every item and
// the number of pages.
func (e *env) listAll(path, token string) ([]map[string]any, int) {
	e.t.Helper()
	var out []map[string]any
	pages := 0
	next := ""
	for {
		p := path
		if next != "" {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			p += sep + "offset=" + url.QueryEscape(next)
		}
		body := e.leverJSON(http.MethodGet, p, token, nil, http.StatusOK)
		pages++
		for _, it := range dataList(e.t, body) {
			out = append(out, it.(map[string]any))
		}
		if body["hasNext"] != true {
			if _, ok := body["next"]; ok {
				e.t.Fatalf("last page has a next: %v", body)
			}
			return out, pages
		}
		next = body["next"].(string)
		if pages > 1000 {
			e.t.Fatal("endless pagination")
		}
	}
}
