package providersim_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func getJSON(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	resp, err := testClient.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestDiscoveryPerTenant(t *testing.T) {
	e := start(t)
	contoso := e.tenant(providersim.DemoContosoDomain)
	base := e.sim.MicrosoftURL()
	for _, tc := range []struct{ seg, issuer, endpointSeg string }{
		{"common", base + "/{tenantid}/v2.0", "common"},
		{"organizations", base + "/{tenantid}/v2.0", "organizations"},
		{contoso.ID, base + "/" + contoso.ID + "/v2.0", contoso.ID},
		{providersim.DemoContosoDomain, base + "/" + contoso.ID + "/v2.0", contoso.ID},
	} {
		status, doc := getJSON(t, base+"/"+tc.seg+"/v2.0/.well-known/openid-configuration")
		if status != http.StatusOK {
			t.Fatalf("%s: status %d", tc.seg, status)
		}
		if doc["issuer"] != tc.issuer {
			t.Errorf("%s: issuer %v, want %s", tc.seg, doc["issuer"], tc.issuer)
		}
		if want := base + "/" + tc.endpointSeg + "/oauth2/v2.0/token"; doc["token_endpoint"] != want {
			t.Errorf("%s: token_endpoint %v, want %s", tc.seg, doc["token_endpoint"], want)
		}
		if want := base + "/" + tc.endpointSeg + "/discovery/v2.0/keys"; doc["jwks_uri"] != want {
			t.Errorf("%s: jwks_uri %v", tc.seg, doc["jwks_uri"])
		}
		if doc["userinfo_endpoint"] != e.sim.GraphURL()+"/oidc/userinfo" {
			t.Errorf("%s: userinfo_endpoint %v", tc.seg, doc["userinfo_endpoint"])
		}
	}
	status, body := getJSON(t, base+"/no-such-tenant.example/v2.0/.well-known/openid-configuration")
	if status != http.StatusBadRequest || body["error"] != "invalid_tenant" || !strings.HasPrefix(body["error_description"].(string), "AADSTS90002") {
		t.Errorf("unknown tenant: %d %v", status, body)
	}
	status, keys := getJSON(t, base+"/"+contoso.ID+"/discovery/v2.0/keys")
	if status != http.StatusOK {
		t.Fatalf("keys: %d", status)
	}
	list := keys["keys"].([]any)
	if len(list) != 2 { // the current key and the next one, as Microsoft publishes several
		t.Fatalf("keys: %v", keys)
	}
	k := list[0].(map[string]any)
	for _, f := range []string{"kid", "x5t", "n", "e", "x5c"} {
		if k[f] == nil {
			t.Errorf("key has no %s: %v", f, k)
		}
	}
	if k["kty"] != "RSA" || k["use"] != "sig" || k["issuer"] != base+"/"+contoso.ID+"/v2.0" {
		t.Errorf("key: %v", k)
	}
}

func TestAuthorizeShowsErrorPagesInsteadOfRedirecting(t *testing.T) {
	e := start(t)
	b := e.browser()
	for _, tc := range []struct {
		name, tenant string
		extra        url.Values
		code         string
	}{
		{"unknown client", "organizations", url.Values{"client_id": {"nobody"}}, "AADSTS700016"},
		{"missing client", "organizations", url.Values{"client_id": {""}}, "AADSTS900144"},
		{"redirect URI mismatch", "organizations", url.Values{"redirect_uri": {"http://localhost:8080/evil"}}, "AADSTS50011"},
		{"redirect URI differs by a slash", "organizations", url.Values{"redirect_uri": {callback + "/"}}, "AADSTS50011"},
		{"unknown tenant", "nowhere.example", nil, "AADSTS90002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := e.get(b, e.authorizeURL(tc.tenant, signInScopes, tc.extra))
			wantPage(t, p, "error")
			if p.ErrorCode != tc.code || p.Status != http.StatusBadRequest {
				t.Errorf("error page %s (status %d), want %s", p.ErrorCode, p.Status, tc.code)
			}
		})
	}
}

func TestAuthorizeErrorsRedirectWithState(t *testing.T) {
	e := start(t)
	b := e.browser()
	for _, tc := range []struct {
		name      string
		scope     string
		extra     url.Values
		err, code string
	}{
		{"missing response_type", signInScopes, url.Values{"response_type": {""}}, "invalid_request", "AADSTS900144"},
		{"implicit flow", signInScopes, url.Values{"response_type": {"token"}}, "unsupported_response_type", "AADSTS700054"},
		{"missing scope", "", nil, "invalid_request", "AADSTS900144"},
		{"unknown scope", "openid Files.ReadWrite.All", nil, "invalid_scope", "AADSTS70011"},
		{"bad prompt", signInScopes, url.Values{"prompt": {"always"}}, "invalid_request", "AADSTS90004"},
		{"bad challenge method", signInScopes, url.Values{"code_challenge_method": {"S512"}}, "invalid_request", "AADSTS90004"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := url.Values{}
			for k, v := range tc.extra {
				extra[k] = v
			}
			if tc.scope == "" {
				extra.Set("scope", "")
			}
			q := wantRedirect(t, e.get(b, e.authorizeURL("organizations", tc.scope, extra)), callback)
			if q.Get("error") != tc.err || !strings.HasPrefix(q.Get("error_description"), tc.code+":") || q.Get("state") != "st-123" {
				t.Errorf("got %v", q)
			}
			for _, part := range []string{"\r\nTrace ID: ", "\r\nCorrelation ID: ", "\r\nTimestamp: "} {
				if !strings.Contains(q.Get("error_description"), part) {
					t.Errorf("error_description lacks %q: %q", part, q.Get("error_description"))
				}
			}
		})
	}
}

func TestSignInPageErrors(t *testing.T) {
	e := start(t)
	fabrikam := e.tenant(providersim.DemoFabrikamDomain)
	b := e.browser()
	p := e.get(b, e.authorizeURL(fabrikam.ID, signInScopes, nil))
	wantPage(t, p, "signin")

	p = e.submit(b, p, url.Values{"login": {"nobody@fabrikam.example"}}, "signin-submit")
	wantPage(t, p, "signin")
	if p.ErrorCode != "AADSTS50034" || !p.Has("error") {
		t.Errorf("unknown user: %q", p.ErrorCode)
	}
	p = e.submit(b, p, url.Values{"login": {providersim.DemoContosoUser}}, "signin-submit")
	if p.ErrorCode != "AADSTS50020" {
		t.Errorf("user of another tenant: %q", p.ErrorCode)
	}
	pw := "correct horse"
	if _, err := e.c.UpdateUser(e.ctx, providersim.DemoFabrikamAdmin, simclient.UserUpdate{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	p = e.submit(b, p, url.Values{"login": {providersim.DemoFabrikamAdmin}, "password": {"wrong"}}, "signin-submit")
	if p.ErrorCode != "AADSTS50126" || p.Form.Fields.Get("login") != providersim.DemoFabrikamAdmin {
		t.Errorf("wrong password: %q, login %q", p.ErrorCode, p.Form.Fields.Get("login"))
	}
	p = e.submit(b, p, url.Values{"login": {providersim.DemoFabrikamAdmin}, "password": {pw}}, "signin-submit")
	wantPage(t, p, "consent")
}

func TestUserConsentIsIncremental(t *testing.T) {
	e := start(t)
	contoso := e.tenant(providersim.DemoContosoDomain)
	b := e.browser()
	p := e.signIn(b, e.authorizeURL("organizations", signInScopes, nil), providersim.DemoContosoUser)
	wantPage(t, p, "consent")
	if got := p.Scopes(); !slices.Equal(got, []string{"openid", "profile", "email", "offline_access", "User.Read"}) {
		t.Errorf("first consent lists %v", got)
	}
	if p.Has("consent-for-org") {
		t.Error("a non-admin is offered to consent for the organization")
	}
	q := wantRedirect(t, e.submit(b, p, nil, "accept"), callback)
	if q.Get("code") == "" || q.Get("state") != "st-123" || q.Get("session_state") == "" {
		t.Fatalf("redirect %v", q)
	}

	// Connecting the mailbox: the same browser is signed in, and only the
	// new Mail scopes are asked for.
	p = e.get(b, e.authorizeURL("organizations", mailScopes, nil))
	wantPage(t, p, "consent")
	if got := p.Scopes(); !slices.Equal(got, []string{"Mail.Send", "Mail.ReadWrite", "Mail.Read"}) {
		t.Errorf("incremental consent lists %v", got)
	}
	wantRedirect(t, e.submit(b, p, nil, "accept"), callback)

	// Everything is granted now: straight back to the app.
	q = wantRedirect(t, e.get(b, e.authorizeURL("organizations", signInScopes+" Mail.Send", nil)), callback)
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	adele := e.user(providersim.DemoContosoUser)
	grants, err := e.c.Grants(e.ctx, providersim.DefaultClientID, contoso.ID, adele.ID)
	if err != nil || len(grants) != 1 || grants[0].UserID != adele.ID || len(grants[0].Scopes) != 8 {
		t.Fatalf("grants %+v %v", grants, err)
	}
}

func TestConsentCancel(t *testing.T) {
	e := start(t)
	b := e.browser()
	p := e.signIn(b, e.authorizeURL("organizations", signInScopes, nil), providersim.DemoContosoUser)
	q := wantRedirect(t, e.submit(b, p, nil, "cancel"), callback)
	if q.Get("error") != "access_denied" || q.Get("error_subcode") != "cancel" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65004:") || q.Get("state") != "st-123" {
		t.Errorf("cancel: %v", q)
	}
}

func TestAdminConsentsOnBehalfOfOrganization(t *testing.T) {
	e := start(t)
	fabrikam := e.tenant(providersim.DemoFabrikamDomain)
	b := e.browser()
	p := e.signIn(b, e.authorizeURL("organizations", signInScopes, nil), providersim.DemoFabrikamAdmin)
	wantPage(t, p, "consent")
	if !slices.Contains(p.Form.Boxes, "consent_for_org") || !p.Has("consent-for-org") {
		t.Fatal("an admin is not offered to consent for the organization")
	}
	wantRedirect(t, e.submit(b, p, url.Values{"consent_for_org": {"true"}}, "accept"), callback)
	grants, err := e.c.Grants(e.ctx, providersim.DefaultClientID, fabrikam.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 || grants[0].UserID != "" {
		t.Fatalf("want one tenant-wide grant, got %+v", grants)
	}
	// Every user of the tenant now signs in without a consent prompt.
	q := wantRedirect(t, e.signIn(e.browser(), e.authorizeURL("organizations", signInScopes, nil), providersim.DemoFabrikamUser), callback)
	if q.Get("code") == "" {
		t.Fatalf("non-admin after org consent: %v", q)
	}
}

func TestAdminSelfConsentDoesNotCoverOthers(t *testing.T) {
	e := start(t)
	b := e.browser()
	p := e.signIn(b, e.authorizeURL("organizations", signInScopes, nil), providersim.DemoFabrikamAdmin)
	wantRedirect(t, e.submit(b, p, nil, "accept"), callback)
	p = e.signIn(e.browser(), e.authorizeURL("organizations", signInScopes, nil), providersim.DemoFabrikamUser)
	wantPage(t, p, "admin-approval-needed")
}

func TestNeedAdminApproval(t *testing.T) {
	e := start(t)
	b := e.browser()
	p := e.signIn(b, e.authorizeURL("organizations", signInScopes, nil), providersim.DemoFabrikamUser)
	wantPage(t, p, "admin-approval-needed")
	if p.ErrorCode != "AADSTS90094" || p.Form != nil {
		t.Errorf("need admin approval page: code %q, form %v", p.ErrorCode, p.Form)
	}
	q := wantRedirect(t, e.follow(b, p, "return-to-app"), callback)
	if q.Get("error") != "access_denied" || !strings.HasPrefix(q.Get("error_description"), "AADSTS90094:") || q.Get("state") != "st-123" {
		t.Errorf("return to app: %v", q)
	}

	// "Have an admin account?" signs in someone else in the same request.
	p = e.signIn(e.browser(), e.authorizeURL("organizations", signInScopes, nil), providersim.DemoFabrikamUser)
	p = e.follow(b, p, "sign-in-as-admin")
	wantPage(t, p, "error") // the link belongs to the other browser's session
	b2 := e.browser()
	p = e.signIn(b2, e.authorizeURL("organizations", signInScopes, nil), providersim.DemoFabrikamUser)
	p = e.follow(b2, p, "sign-in-as-admin")
	wantPage(t, p, "signin")
	p = e.submit(b2, p, url.Values{"login": {providersim.DemoFabrikamAdmin}}, "signin-submit")
	wantPage(t, p, "consent")
}

func TestAdminConsentWorkflow(t *testing.T) {
	e := start(t)
	northwind := e.tenant(providersim.DemoNorthwindDomain)
	lynne := e.user(providersim.DemoNorthwindUser)
	b := e.browser()
	p := e.signIn(b, e.authorizeURL("organizations", signInScopes, nil), providersim.DemoNorthwindUser)
	wantPage(t, p, "approval-required")
	if p.ErrorCode != "AADSTS90095" || p.Form == nil || p.Form.ID != "approval-form" {
		t.Fatalf("approval required page: %q %+v", p.ErrorCode, p.Form)
	}
	p = e.submit(b, p, url.Values{"justification": {"I recruit for Northwind and need Tandem."}}, "request-approval")
	wantPage(t, p, "request-sent")
	if p.Form != nil || p.Redirect != nil {
		t.Fatal("the request-sent page must not lead anywhere")
	}
	reqs, err := e.c.ConsentRequests(e.ctx, simclient.RequestPending)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("pending requests %+v %v", reqs, err)
	}
	r := reqs[0]
	if r.UserID != lynne.ID || r.TenantID != northwind.ID || r.Justification != "I recruit for Northwind and need Tandem." || !slices.Contains(r.Scopes, "User.Read") {
		t.Errorf("request %+v", r)
	}
	// Until approved, the retry ends on the same page.
	wantPage(t, e.get(b, e.authorizeURL("organizations", signInScopes, nil)), "approval-required")
	if _, err := e.c.ApproveConsentRequest(e.ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ApproveConsentRequest(e.ctx, r.ID); err == nil {
		t.Error("approving twice succeeded")
	}
	q := wantRedirect(t, e.get(b, e.authorizeURL("organizations", signInScopes, nil)), callback)
	if q.Get("code") == "" {
		t.Fatalf("after approval: %v", q)
	}

	// The mailbox connection is a second request; this one is denied, and
	// the way back to the app carries AADSTS90095.
	p = e.get(b, e.authorizeURL("organizations", mailScopes, nil))
	wantPage(t, p, "approval-required")
	wantPage(t, e.submit(b, p, url.Values{"justification": {"mail"}}, "request-approval"), "request-sent")
	reqs, err = e.c.ConsentRequests(e.ctx, simclient.RequestPending)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || !slices.Contains(reqs[0].Scopes, "Mail.Send") {
		t.Fatalf("second request %+v", reqs)
	}
	if d, err := e.c.DenyConsentRequest(e.ctx, reqs[0].ID); err != nil || d.Status != simclient.RequestDenied {
		t.Fatalf("deny: %+v %v", d, err)
	}
	p = e.get(b, e.authorizeURL("organizations", mailScopes, nil))
	q = wantRedirect(t, e.follow(b, p, "return-to-app"), callback)
	if q.Get("error") != "access_denied" || !strings.HasPrefix(q.Get("error_description"), "AADSTS90095:") {
		t.Errorf("return after denial: %v", q)
	}
}

func TestPromptAndLoginHint(t *testing.T) {
	e := start(t)
	b := e.browser()
	none := url.Values{"prompt": {"none"}}
	q := wantRedirect(t, e.get(b, e.authorizeURL("organizations", signInScopes, none)), callback)
	if q.Get("error") != "login_required" || !strings.HasPrefix(q.Get("error_description"), "AADSTS50058") {
		t.Errorf("prompt=none without a session: %v", q)
	}
	e.code(b, "organizations", providersim.DemoContosoUser, signInScopes, false)

	q = wantRedirect(t, e.get(b, e.authorizeURL("organizations", signInScopes, none)), callback)
	if q.Get("code") == "" {
		t.Errorf("prompt=none with session and consent: %v", q)
	}
	q = wantRedirect(t, e.get(b, e.authorizeURL("organizations", mailScopes, none)), callback)
	if q.Get("error") != "consent_required" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65001") {
		t.Errorf("prompt=none without consent: %v", q)
	}
	p := e.get(b, e.authorizeURL("organizations", signInScopes, url.Values{"prompt": {"consent"}}))
	wantPage(t, p, "consent")
	if len(p.Scopes()) != 5 {
		t.Errorf("prompt=consent lists %v", p.Scopes())
	}
	wantPage(t, e.get(b, e.authorizeURL("organizations", signInScopes, url.Values{"prompt": {"login"}})), "signin")

	// A second account in the same browser: without a hint, pick one.
	e.code(b, "organizations", providersim.DemoContosoAdmin, signInScopes, false)
	q = wantRedirect(t, e.get(b, e.authorizeURL("organizations", signInScopes, none)), callback)
	if q.Get("error") != "interaction_required" {
		t.Errorf("prompt=none with two accounts: %v", q)
	}
	p = e.get(b, e.authorizeURL("organizations", signInScopes, nil))
	wantPage(t, p, "pick-account")
	if len(p.Form.Buttons) != 3 {
		t.Fatalf("picker buttons %+v", p.Form.Buttons)
	}
	q = wantRedirect(t, e.submit(b, p, url.Values{"login": {providersim.DemoContosoUser}}, ""), callback)
	if q.Get("code") == "" {
		t.Fatalf("picked account: %v", q)
	}
	tr := e.redeem("organizations", q.Get("code"))
	if claims := idClaims(t, tr.IDToken); claims["preferred_username"] != providersim.DemoContosoUser {
		t.Errorf("picked %v", claims["preferred_username"])
	} else if wids := fmt.Sprint(claims["wids"]); wids != "[b79fbf4d-3ef9-4689-8143-76b194e85509]" {
		t.Errorf("a user's wids %s, want only the User role", wids)
	}
	// login_hint selects the account without the picker.
	q = wantRedirect(t, e.get(b, e.authorizeURL("organizations", signInScopes, url.Values{"login_hint": {providersim.DemoContosoAdmin}})), callback)
	tr = e.redeem("organizations", q.Get("code"))
	if claims := idClaims(t, tr.IDToken); claims["preferred_username"] != providersim.DemoContosoAdmin {
		t.Errorf("login_hint gave %v", claims["preferred_username"])
	} else if wids := fmt.Sprint(claims["wids"]); !strings.Contains(wids, "62e90394-69f5-4237-9190-012177145e10") {
		t.Errorf("an admin's wids %s, want Global Administrator", wids)
	}
	wantPage(t, e.get(b, e.authorizeURL("organizations", signInScopes, url.Values{"prompt": {"select_account"}})), "pick-account")
	p = e.get(b, e.authorizeURL("organizations", signInScopes, url.Values{"login_hint": {"someone.else@contoso.example"}}))
	wantPage(t, p, "signin")
	if p.Form.Fields.Get("login") != "someone.else@contoso.example" {
		t.Errorf("login_hint not prefilled: %v", p.Form.Fields)
	}
}

func TestResponseModes(t *testing.T) {
	e := start(t)
	e.graphToken(providersim.DemoContosoUser) // consent, so no consent page
	b := e.browser()
	p := e.signIn(b, e.authorizeURL("organizations", signInScopes, url.Values{"response_mode": {"fragment"}}), providersim.DemoContosoUser)
	if p.Redirect == nil || p.Redirect.RawQuery != "" {
		t.Fatalf("fragment: %+v", p.Redirect)
	}
	if q := wantRedirect(t, p, callback); q.Get("code") == "" || q.Get("state") != "st-123" {
		t.Errorf("fragment: %v", q)
	}
	p = e.get(b, e.authorizeURL("organizations", signInScopes, url.Values{"response_mode": {"form_post"}}))
	wantPage(t, p, "form-post")
	if p.Form.Action != callback || p.Form.Fields.Get("code") == "" || p.Form.Fields.Get("state") != "st-123" {
		t.Errorf("form_post: %+v", p.Form)
	}
}

func adminConsentURL(e *env, tenant, scope, redirect string) string {
	return e.sim.MicrosoftURL() + "/" + tenant + "/v2.0/adminconsent?" + url.Values{
		"client_id": {providersim.DefaultClientID}, "scope": {scope},
		"redirect_uri": {redirect}, "state": {"ac-1"},
	}.Encode()
}

func TestAdminConsentEndpoint(t *testing.T) {
	e := start(t)
	fabrikam := e.tenant(providersim.DemoFabrikamDomain)
	scope := "https://graph.microsoft.com/Mail.Send https://graph.microsoft.com/User.Read"

	b := e.browser()
	p := e.signIn(b, adminConsentURL(e, fabrikam.ID, scope, consentCallback), providersim.DemoFabrikamAdmin)
	wantPage(t, p, "admin-consent")
	q := wantRedirect(t, e.submit(b, p, url.Values{"decision": {"cancel"}}, ""), consentCallback)
	if q.Get("admin_consent") != "True" || q.Get("error") != "consent_required" || !strings.HasPrefix(q.Get("error_description"), "AADSTS65004") || q.Get("state") != "ac-1" {
		t.Errorf("cancel: %v", q)
	}

	p = e.get(b, adminConsentURL(e, "organizations", scope, consentCallback))
	wantPage(t, p, "admin-consent")
	if !slices.Equal(p.Scopes(), []string{"Mail.Send", "User.Read"}) {
		t.Errorf("scopes %v", p.Scopes())
	}
	q = wantRedirect(t, e.submit(b, p, nil, "accept"), consentCallback)
	if q.Get("admin_consent") != "True" || q.Get("tenant") != fabrikam.ID || q.Get("scope") != scope || q.Get("state") != "ac-1" || q.Get("error") != "" {
		t.Errorf("success: %v", q)
	}
	if g, err := e.c.Grants(e.ctx, providersim.DefaultClientID, fabrikam.ID, ""); err != nil || len(g) != 1 || !slices.Equal(g[0].Scopes, []string{"Mail.Send", "User.Read"}) {
		t.Errorf("tenant grant %+v (err %v)", g, err)
	}

	// .default stands for the app's static permissions.
	p = e.get(b, adminConsentURL(e, fabrikam.ID, "https://graph.microsoft.com/.default", consentCallback))
	if got := p.Scopes(); !slices.Equal(got, []string{"User.Read", "Mail.Send", "Mail.ReadWrite", "Mail.Read"}) {
		t.Errorf(".default lists %v", got)
	}

	// A non-admin gets an error, with a way back that says so.
	b2 := e.browser()
	p = e.signIn(b2, adminConsentURL(e, fabrikam.ID, scope, consentCallback), providersim.DemoFabrikamUser)
	wantPage(t, p, "admin-approval-needed")
	q = wantRedirect(t, e.follow(b2, p, "return-to-app"), consentCallback)
	if q.Get("admin_consent") != "True" || q.Get("error") != "access_denied" || !strings.HasPrefix(q.Get("error_description"), "AADSTS90094") {
		t.Errorf("non-admin: %v", q)
	}

	// /common has no admin consent.
	q = wantRedirect(t, e.get(e.browser(), adminConsentURL(e, "common", scope, consentCallback)), consentCallback)
	if q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "'response_type'") {
		t.Errorf("common: %v", q)
	}
	// Unregistered redirect URIs get the error page.
	wantPage(t, e.get(e.browser(), adminConsentURL(e, fabrikam.ID, scope, "http://localhost:9999/cb")), "error")
}

func idClaims(t *testing.T, idToken string) map[string]any {
	t.Helper()
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", idToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestAuthorizationCodeGrant(t *testing.T) {
	e := start(t)
	contoso := e.tenant(providersim.DemoContosoDomain)
	adele := e.user(providersim.DemoContosoUser)
	code := e.code(e.browser(), "organizations", providersim.DemoContosoUser, signInScopes, false)

	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "code_verifier": {testVerifier}}
	}
	wantErr := func(name string, status int, tr tokenResponse, wantStatus int, oauthErr string, aadsts int) {
		t.Helper()
		if status != wantStatus || tr.Error != oauthErr || len(tr.Codes) != 1 || tr.Codes[0] != aadsts {
			t.Errorf("%s: %d %s %v %q", name, status, tr.Error, tr.Codes, tr.Description)
		}
	}
	bad := form(code)
	bad.Set("code_verifier", challenge(testVerifier)) // the "plain" method where S256 was used
	s, tr := e.tokenRequest("organizations", bad)
	wantErr("plain verifier for an S256 challenge", s, tr, 400, "invalid_grant", 501481)
	bad = form(code)
	bad.Del("code_verifier")
	s, tr = e.tokenRequest("organizations", bad)
	wantErr("missing verifier", s, tr, 400, "invalid_grant", 501481)
	bad = form(code)
	bad.Set("redirect_uri", consentCallback)
	s, tr = e.tokenRequest("organizations", bad)
	wantErr("other redirect URI", s, tr, 400, "invalid_grant", 500112)
	bad = form(code)
	bad.Del("redirect_uri")
	s, tr = e.tokenRequest("organizations", bad)
	wantErr("no redirect URI", s, tr, 400, "invalid_request", 900144)
	bad = form(code)
	bad.Set("client_secret", "guess")
	s, tr = e.tokenRequest("organizations", bad)
	wantErr("wrong secret", s, tr, 401, "invalid_client", 7000215)
	bad = form(code)
	bad.Set("client_secret", "")
	s, tr = e.tokenRequest("organizations", bad)
	wantErr("no secret", s, tr, 401, "invalid_client", 7000218)
	bad = form(code)
	bad.Set("client_id", "someone-else")
	s, tr = e.tokenRequest("organizations", bad)
	wantErr("unknown client", s, tr, 400, "unauthorized_client", 700016)
	fabrikam := e.tenant(providersim.DemoFabrikamDomain)
	s, tr = e.tokenRequest(fabrikam.ID, form(code))
	wantErr("code of another tenant", s, tr, 400, "invalid_grant", 700005)
	other := providersim.DefaultApp()
	other.ClientID, other.ClientSecret = "other-app", "other-secret"
	if _, err := e.c.CreateApp(e.ctx, other); err != nil {
		t.Fatal(err)
	}
	bad = form(code)
	bad.Set("client_id", "other-app")
	bad.Set("client_secret", "other-secret")
	s, tr = e.tokenRequest("organizations", bad)
	wantErr("code of another client", s, tr, 400, "invalid_grant", 70000)
	s, tr = e.tokenRequest("organizations", url.Values{"grant_type": {"client_credentials"}})
	wantErr("unsupported grant", s, tr, 400, "unsupported_grant_type", 70003)
	s, tr = e.tokenRequest("organizations", form("not-a-code"))
	wantErr("unknown code", s, tr, 400, "invalid_grant", 9002313)

	// Client credentials in HTTP Basic, form-urlencoded as RFC 6749 says.
	req, err := http.NewRequest(http.MethodPost, e.sim.MicrosoftURL()+"/"+contoso.ID+"/oauth2/v2.0/token", strings.NewReader(form(code).Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", "corr-1")
	req.SetBasicAuth(url.QueryEscape(providersim.DefaultClientID), url.QueryEscape(providersim.DefaultClientSecret))
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ok tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&ok); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || ok.TokenType != "Bearer" || ok.ExpiresIn != 3599 || ok.AccessToken == "" || ok.RefreshToken == "" || ok.IDToken == "" {
		t.Fatalf("redeem: %d %+v", resp.StatusCode, ok)
	}
	if ok.Scope != "User.Read openid profile email" {
		t.Errorf("scope %q", ok.Scope)
	}
	claims := idClaims(t, ok.IDToken)
	if claims["tid"] != contoso.ID || claims["oid"] != adele.ID || claims["aud"] != providersim.DefaultClientID ||
		claims["iss"] != e.sim.Issuer(contoso.ID) || claims["nonce"] != "n-456" || claims["email"] != providersim.DemoContosoUser ||
		claims["name"] != "Adele Vance" || claims["ver"] != "2.0" {
		t.Errorf("claims %v", claims)
	}

	// Codes are single use.
	req, err = http.NewRequest(http.MethodPost, e.sim.MicrosoftURL()+"/organizations/oauth2/v2.0/token", strings.NewReader(form(code).Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", "corr-2")
	req.SetBasicAuth(providersim.DefaultClientID, providersim.DefaultClientSecret)
	resp, err = testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var again tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&again); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantErr("second redemption", resp.StatusCode, again, 400, "invalid_grant", 54005)
	if again.Correlation != "corr-2" || again.TraceID == "" || again.Timestamp == "" ||
		!strings.Contains(again.Description, "Correlation ID: corr-2") || !strings.HasPrefix(again.Description, "AADSTS54005:") {
		t.Errorf("error body %+v", again)
	}

	// Codes expire after ten minutes.
	code = e.code(e.browser(), "organizations", providersim.DemoContosoUser, signInScopes, false)
	if _, err := e.c.AdvanceClock(e.ctx, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	s, tr = e.tokenRequest("organizations", form(code))
	wantErr("expired code", s, tr, 400, "invalid_grant", 70008)
}

func TestRefreshTokensRotateAndOldOnesKeepWorking(t *testing.T) {
	e := start(t)
	first := e.tokens(providersim.DemoContosoUser, signInScopes)
	s, second := e.refresh("organizations", first.RefreshToken, "")
	if s != 200 || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatalf("refresh: %d %+v", s, second)
	}
	if second.IDToken == "" {
		t.Error("refresh with openid returned no id_token")
	}
	s, third := e.refresh("organizations", first.RefreshToken, "User.Read")
	if s != 200 || third.RefreshToken == second.RefreshToken {
		t.Fatalf("old refresh token: %d %+v", s, third)
	}
	n, err := e.c.Counter(e.ctx, "microsoft.token.refresh_token/user="+providersim.DemoContosoUser)
	if err != nil || n != 2 {
		t.Errorf("refresh counter %d %v", n, err)
	}
}

func TestRefreshErrors(t *testing.T) {
	e := start(t)
	contoso := e.tenant(providersim.DemoContosoDomain)
	adele := e.user(providersim.DemoContosoUser)
	tok := e.tokens(providersim.DemoContosoUser, signInScopes)

	check := func(name string, scope string, wantErr, wantSub string, code int) {
		t.Helper()
		s, tr := e.refresh("organizations", tok.RefreshToken, scope)
		if s != 400 || tr.Error != wantErr || tr.Suberror != wantSub || len(tr.Codes) != 1 || tr.Codes[0] != code {
			t.Errorf("%s: %d %s/%s %v %s", name, s, tr.Error, tr.Suberror, tr.Codes, tr.Description)
		}
	}
	check("scopes never consented", "Mail.Send", "invalid_grant", "consent_required", 65001)
	for _, mode := range []string{simclient.MissingConsentInteractionRequired, simclient.MissingConsentConsentRequired} {
		if _, err := e.c.UpdateTenant(e.ctx, contoso.ID, simclient.TenantUpdate{MissingConsentError: &mode}); err != nil {
			t.Fatal(err)
		}
		sub := "consent_required"
		if mode == simclient.MissingConsentConsentRequired {
			sub = ""
		}
		check("missing consent as "+mode, "Mail.Send", mode, sub, 65001)
	}
	def := ""
	if _, err := e.c.UpdateTenant(e.ctx, contoso.ID, simclient.TenantUpdate{MissingConsentError: &def}); err != nil {
		t.Fatal(err)
	}

	mfa := true
	if _, err := e.c.UpdateUser(e.ctx, adele.ID, simclient.UserUpdate{RequireMFA: &mfa}); err != nil {
		t.Fatal(err)
	}
	check("MFA required", "", "interaction_required", "basic_action", 50076)
	mfa = false
	if _, err := e.c.UpdateUser(e.ctx, adele.ID, simclient.UserUpdate{RequireMFA: &mfa}); err != nil {
		t.Fatal(err)
	}

	if _, err := e.c.RevokeConsent(e.ctx, simclient.Grant{ClientID: providersim.DefaultClientID, UserID: adele.ID}); err != nil {
		t.Fatal(err)
	}
	check("consent revoked", "", "invalid_grant", "consent_required", 65001)
	// A tenant-wide grant covers the user again.
	if _, err := e.c.GrantConsent(e.ctx, simclient.Grant{ClientID: providersim.DefaultClientID, TenantID: contoso.ID, Scopes: strings.Fields(signInScopes)}); err != nil {
		t.Fatal(err)
	}
	if s, tr := e.refresh("organizations", tok.RefreshToken, ""); s != 200 {
		t.Fatalf("with tenant grant: %d %+v", s, tr)
	}

	if n, err := e.c.RevokeSessions(e.ctx, adele.UserPrincipalName); err != nil || n < 1 {
		t.Fatalf("revoke sessions: %d %v", n, err)
	}
	check("sessions revoked", "", "invalid_grant", "", 50173)

	// Expiry: by lifetime, and on demand.
	tok = e.tokens(providersim.DemoContosoAdmin, signInScopes)
	check2 := func(name string) {
		t.Helper()
		s, tr := e.refresh("organizations", tok.RefreshToken, "")
		if s != 400 || tr.Error != "invalid_grant" || tr.Codes[0] != 700082 {
			t.Errorf("%s: %d %+v", name, s, tr)
		}
	}
	if n, err := e.c.ExpireTokens(e.ctx, simclient.TokenFilter{UserID: providersim.DemoContosoAdmin, Kind: simclient.TokenRefresh}); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	check2("expired on demand")
	if err := e.c.SetLifetimes(e.ctx, simclient.Lifetimes{ClientID: providersim.DefaultClientID, TenantID: contoso.ID, AccessTokenSeconds: 300, RefreshTokenSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	tok = e.tokens(providersim.DemoContosoAdmin, signInScopes)
	if tok.ExpiresIn != 300 {
		t.Errorf("expires_in %d, want 300", tok.ExpiresIn)
	}
	if _, err := e.c.AdvanceClock(e.ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	check2("expired by lifetime")
}
