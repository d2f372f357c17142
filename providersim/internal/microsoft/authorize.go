package microsoft

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// The authorize endpoint is a little state machine: a flow remembers the
// request, the sim's session cookie remembers who signed in, and each page
// posts back to one of the authorize/... paths with the flow id.

type flowKind int

const (
	flowAuthorize flowKind = iota
	flowAdminConsent
)

const (
	sessionCookie = "SIMESTSAUTH"
	flowLifetime  = time.Hour
)

type flow struct {
	id              string
	sessionID       string
	kind            flowKind
	pathTenant      string // {tenant} as written in the URL
	tenantID        string // set when the URL named a tenant
	clientID        string
	redirectURI     string
	responseMode    string
	state           string
	nonce           string
	scopes          []string
	prompt          string
	loginHint       string
	challenge       string
	challengeMethod string
	userID          string
	forceLogin      bool
	signedIn        bool     // the user typed their credentials in this flow
	consentShown    bool     // prompt=consent has been honoured
	pending         []string // scopes on the consent page
	returnCode      int      // AADSTS code of the "Return to the application" link
	expires         time.Time
}

type session struct {
	id    string
	users []string // object ids, most recent first
	state string   // session_state
}

func (s *session) add(userID string) {
	s.users = slices.DeleteFunc(s.users, func(id string) bool { return id == userID })
	s.users = append([]string{userID}, s.users...)
}

func (p *Platform) sessionLocked(w http.ResponseWriter, r *http.Request) *session {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if s, ok := p.sessions[c.Value]; ok {
			return s
		}
	}
	s := &session{id: p.ids.Token("session", 32), state: p.ids.GUID("session-state")}
	p.sessions[s.id] = s
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return s
}

func (p *Platform) errorPage(w http.ResponseWriter, status int, code int, args ...any) {
	e := newAAD(status, "", code, args...)
	renderPage(w, status, pageData{
		Page: "error", Title: "Sorry, but we're having trouble signing you in.",
		ErrorCode: fmt.Sprintf("AADSTS%d", code), Error: e.headline(),
	})
}

func (p *Platform) simErrorPage(w http.ResponseWriter, status int, msg string) {
	renderPage(w, status, pageData{
		Page: "error", Title: "Sorry, but we're having trouble signing you in.",
		ErrorCode: "invalid_flow", Error: msg,
	})
}

func (p *Platform) faultPage(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	f := p.faults.Apply(r.Context(), endpoint, "")
	if f == nil {
		return false
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	p.errorPage(w, f.Status, 90033)
	return true
}

// validateClientLocked checks the parts of a request that Microsoft answers
// with an error page rather than a redirect: tenant, client and redirect URI.
func (p *Platform) validateClientLocked(w http.ResponseWriter, r *http.Request, q url.Values) (pathTenant, bool) {
	pt, ok := p.resolveTenantLocked(r.PathValue("tenant"))
	if !ok {
		p.errorPage(w, http.StatusBadRequest, 90002, pt.seg)
		return pt, false
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		p.errorPage(w, http.StatusBadRequest, 900144, "client_id")
		return pt, false
	}
	app, ok := p.apps[clientID]
	if !ok {
		p.errorPage(w, http.StatusBadRequest, 700016, clientID, pt.seg)
		return pt, false
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		p.errorPage(w, http.StatusBadRequest, 900144, "redirect_uri")
		return pt, false
	}
	if !slices.Contains(app.RedirectURIs, redirect) {
		p.errorPage(w, http.StatusBadRequest, 50011, redirect, clientID)
		return pt, false
	}
	return pt, true
}

func (p *Platform) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	p.counters.Inc("microsoft.authorize")
	if p.faultPage(w, r, "microsoft.authorize") {
		return
	}
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	pt, ok := p.validateClientLocked(w, r, q)
	if !ok {
		return
	}
	app := p.apps[q.Get("client_id")]
	f := &flow{
		kind:         flowAuthorize,
		pathTenant:   pt.seg,
		clientID:     app.ClientID,
		redirectURI:  q.Get("redirect_uri"),
		responseMode: q.Get("response_mode"),
		state:        q.Get("state"),
		nonce:        q.Get("nonce"),
		prompt:       q.Get("prompt"),
		loginHint:    q.Get("login_hint"),
		challenge:    q.Get("code_challenge"),
	}
	if pt.tenant != nil {
		f.tenantID = pt.tenant.ID
	}
	switch f.responseMode {
	case "":
		f.responseMode = "query"
	case "query", "fragment", "form_post":
	default:
		f.responseMode = "query"
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_request", 90004, q.Get("response_mode"), "response_mode"))
		return
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_request", 900144, "response_type"))
		return
	default:
		p.redirectErrorLocked(w, r, f, newAAD(0, "unsupported_response_type", 700054, rt))
		return
	}
	if q.Get("scope") == "" {
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_request", 900144, "scope"))
		return
	}
	scopes, bad := parseScopes(q.Get("scope"), app.StaticScopes)
	if bad != "" || len(scopes) == 0 {
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_scope", 70011, bad))
		return
	}
	f.scopes = scopes
	method := q.Get("code_challenge_method")
	switch {
	case f.challenge == "" && method != "":
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_request", 900144, "code_challenge"))
		return
	case f.challenge == "":
	case method == "" || method == "plain":
		f.challengeMethod = "plain"
	case method == "S256":
		f.challengeMethod = "S256"
	default:
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_request", 90004, method, "code_challenge_method"))
		return
	}
	switch f.prompt {
	case "", "login", "none", "consent", "select_account":
	default:
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_request", 90004, f.prompt, "prompt"))
		return
	}
	sess := p.sessionLocked(w, r)
	p.startFlowLocked(f, sess)
	p.continueLocked(w, r, f, sess)
}

func (p *Platform) startFlowLocked(f *flow, sess *session) {
	now := p.clock.Now()
	if len(p.flows) > 1000 { // forget abandoned sign-ins
		for id, old := range p.flows {
			if now.After(old.expires) {
				delete(p.flows, id)
			}
		}
	}
	f.id = p.ids.Token("flow", 24)
	f.sessionID = sess.id
	f.expires = now.Add(flowLifetime)
	p.flows[f.id] = f
}

// continueLocked moves a flow to its next step: a page, or a redirect back to
// the application.
func (p *Platform) continueLocked(w http.ResponseWriter, r *http.Request, f *flow, sess *session) {
	if f.userID == "" && !p.identifyLocked(w, r, f, sess) {
		return
	}
	u := p.users[f.userID]
	if u == nil {
		p.simErrorPage(w, http.StatusBadRequest, "The signed-in user no longer exists.")
		return
	}
	t := p.tenants[u.TenantID]
	app := p.apps[f.clientID]
	if f.kind == flowAdminConsent {
		if !u.Admin {
			p.needApprovalLocked(w, f, u, app, 90094, false)
			return
		}
		p.consentPageLocked(w, f, u, t, app, f.scopes, false, true)
		return
	}
	all, tenantWide := p.consentedLocked(f.clientID, u)
	missing := minus(f.scopes, all)
	if f.prompt == "consent" && !f.consentShown {
		missing = f.scopes
	}
	if len(missing) == 0 {
		p.issueCodeLocked(w, f, u, sess)
		return
	}
	if f.prompt == "none" {
		p.redirectErrorLocked(w, r, f, newAAD(0, "consent_required", 65001, app.ClientID, app.DisplayName))
		return
	}
	if !u.Admin {
		adminOnly := t.adminOnlyScopes()
		blocked := slices.ContainsFunc(missing, func(s string) bool { return adminOnly[s] && !tenantWide[s] })
		if blocked {
			if t.AdminConsentWorkflow {
				p.needApprovalLocked(w, f, u, app, 90095, true)
			} else {
				p.needApprovalLocked(w, f, u, app, 90094, false)
			}
			return
		}
	}
	p.consentPageLocked(w, f, u, t, app, missing, u.Admin, false)
}

// identifyLocked settles who signs in; it renders a page (or redirects with
// an error) and returns false when it cannot decide without the user.
func (p *Platform) identifyLocked(w http.ResponseWriter, r *http.Request, f *flow, sess *session) bool {
	var cands []*user
	for _, id := range sess.users {
		if u := p.users[id]; u != nil && (f.tenantID == "" || u.TenantID == f.tenantID) {
			cands = append(cands, u)
		}
	}
	if f.forceLogin || (f.prompt == "login" && !f.signedIn) {
		p.signInPageLocked(w, f, f.loginHint, "", 0)
		return false
	}
	if f.loginHint != "" {
		for _, u := range cands {
			if strings.EqualFold(u.UserPrincipalName, f.loginHint) {
				f.userID = u.ID
				return true
			}
		}
		if f.prompt == "none" {
			p.redirectErrorLocked(w, r, f, newAAD(0, "login_required", 50058))
			return false
		}
		p.signInPageLocked(w, f, f.loginHint, "", 0)
		return false
	}
	if f.prompt == "select_account" && len(cands) > 0 {
		p.pickPageLocked(w, f, cands)
		return false
	}
	switch len(cands) {
	case 0:
		if f.prompt == "none" {
			p.redirectErrorLocked(w, r, f, newAAD(0, "login_required", 50058))
			return false
		}
		p.signInPageLocked(w, f, "", "", 0)
		return false
	case 1:
		f.userID = cands[0].ID
		return true
	default:
		if f.prompt == "none" {
			p.redirectErrorLocked(w, r, f, newAAD(0, "interaction_required", 16000))
			return false
		}
		p.pickPageLocked(w, f, cands)
		return false
	}
}

func (p *Platform) flowPath(f *flow, step string) string {
	return "/" + f.pathTenant + "/oauth2/v2.0/authorize/" + step
}

func (p *Platform) signInPageLocked(w http.ResponseWriter, f *flow, login, msg string, code int) {
	app := p.apps[f.clientID]
	d := pageData{
		Page: "signin", Title: "Sign in", Action: p.flowPath(f, "signin"), FlowID: f.id,
		AppName: app.DisplayName, Login: login,
	}
	if code != 0 {
		d.ErrorCode, d.Error = fmt.Sprintf("AADSTS%d", code), msg
	}
	renderPage(w, http.StatusOK, d)
}

func (p *Platform) pickPageLocked(w http.ResponseWriter, f *flow, cands []*user) {
	d := pageData{
		Page: "pick-account", Title: "Pick an account", Action: p.flowPath(f, "pick"), FlowID: f.id,
		AppName: p.apps[f.clientID].DisplayName,
	}
	for _, u := range cands {
		d.Accounts = append(d.Accounts, accountChoice{UPN: u.UserPrincipalName, Name: u.DisplayName})
	}
	renderPage(w, http.StatusOK, d)
}

func (p *Platform) consentPageLocked(w http.ResponseWriter, f *flow, u *user, t *tenant, app *simclient.App, scopes []string, orgCheckbox, adminConsent bool) {
	f.pending = slices.Clone(scopes)
	d := pageData{
		Page: "consent", Title: "Permissions requested", Action: p.flowPath(f, "consent"), FlowID: f.id,
		AppName: app.DisplayName, UserUPN: u.UserPrincipalName, TenantName: t.DisplayName,
		OrgCheckbox: orgCheckbox, AdminConsent: adminConsent,
	}
	if adminConsent {
		d.Page, d.Title = "admin-consent", "Permissions requested: Accept for your organization"
	}
	for _, s := range scopes {
		d.Scopes = append(d.Scopes, scopeLine{Scope: s, Description: scopeDescriptions[s]})
	}
	renderPage(w, http.StatusOK, d)
}

func (p *Platform) needApprovalLocked(w http.ResponseWriter, f *flow, u *user, app *simclient.App, code int, workflow bool) {
	f.returnCode = code
	d := pageData{
		Page: "admin-approval-needed", Title: "Need admin approval", FlowID: f.id,
		ErrorCode: fmt.Sprintf("AADSTS%d", code),
		AppName:   app.DisplayName, UserUPN: u.UserPrincipalName,
		ReturnURL: p.flowPath(f, "return") + "?flow=" + url.QueryEscape(f.id),
		SwitchURL: p.flowPath(f, "switch") + "?flow=" + url.QueryEscape(f.id),
	}
	if workflow {
		d.Page, d.Title, d.Action = "approval-required", "Approval required", p.flowPath(f, "request-approval")
	}
	renderPage(w, http.StatusOK, d)
}

// flowFromRequestLocked finds the flow a page submitted, and checks it belongs
// to this browser's session.
func (p *Platform) flowFromRequestLocked(w http.ResponseWriter, r *http.Request, id string) (*flow, *session, bool) {
	f, ok := p.flows[id]
	if !ok || p.clock.Now().After(f.expires) {
		p.simErrorPage(w, http.StatusBadRequest, "This sign-in request has expired or is unknown. Go back to the application and try again.")
		return nil, nil, false
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value != f.sessionID || p.sessions[f.sessionID] == nil {
		p.simErrorPage(w, http.StatusBadRequest, "This sign-in request belongs to another browser session.")
		return nil, nil, false
	}
	return f, p.sessions[f.sessionID], true
}

func (p *Platform) serveSignIn(w http.ResponseWriter, r *http.Request) {
	p.counters.Inc("microsoft.signin")
	if err := r.ParseForm(); err != nil {
		p.simErrorPage(w, http.StatusBadRequest, "Malformed form.")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f, sess, ok := p.flowFromRequestLocked(w, r, r.PostForm.Get("flow"))
	if !ok {
		return
	}
	login := strings.TrimSpace(r.PostForm.Get("login"))
	u := p.lookupUserLocked(login)
	if login == "" || u == nil {
		where := "organizations"
		if f.tenantID != "" {
			where = p.tenants[f.tenantID].DisplayName
		}
		p.signInPageLocked(w, f, login, newAAD(0, "", 50034, login, where).message, 50034)
		return
	}
	if f.tenantID != "" && u.TenantID != f.tenantID {
		t := p.tenants[f.tenantID]
		p.signInPageLocked(w, f, login, newAAD(0, "", 50020, login, u.TenantID, t.ID, p.apps[f.clientID].DisplayName).message, 50020)
		return
	}
	if u.Password != "" && r.PostForm.Get("password") != u.Password {
		p.signInPageLocked(w, f, login, newAAD(0, "", 50126).message, 50126)
		return
	}
	sess.add(u.ID)
	f.userID, f.forceLogin, f.signedIn = u.ID, false, true
	p.continueLocked(w, r, f, sess)
}

func (p *Platform) servePick(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		p.simErrorPage(w, http.StatusBadRequest, "Malformed form.")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f, sess, ok := p.flowFromRequestLocked(w, r, r.PostForm.Get("flow"))
	if !ok {
		return
	}
	login := r.PostForm.Get("login")
	if login == "" {
		f.forceLogin = true
		p.signInPageLocked(w, f, "", "", 0)
		return
	}
	for _, id := range sess.users {
		if u := p.users[id]; u != nil && strings.EqualFold(u.UserPrincipalName, login) && (f.tenantID == "" || u.TenantID == f.tenantID) {
			f.userID = u.ID
			sess.add(u.ID)
			p.continueLocked(w, r, f, sess)
			return
		}
	}
	f.forceLogin = true
	p.signInPageLocked(w, f, login, "", 0)
}

func (p *Platform) serveConsent(w http.ResponseWriter, r *http.Request) {
	p.counters.Inc("microsoft.consent")
	if err := r.ParseForm(); err != nil {
		p.simErrorPage(w, http.StatusBadRequest, "Malformed form.")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f, sess, ok := p.flowFromRequestLocked(w, r, r.PostForm.Get("flow"))
	if !ok {
		return
	}
	u := p.users[f.userID]
	if u == nil || f.pending == nil {
		p.simErrorPage(w, http.StatusBadRequest, "There is no consent to give in this sign-in request.")
		return
	}
	switch r.PostForm.Get("decision") {
	case "accept":
	case "cancel":
		p.counters.Inc("microsoft.consent.declined")
		if f.kind == flowAdminConsent {
			p.redirectErrorLocked(w, r, f, newAAD(0, "consent_required", 65004))
			return
		}
		p.redirectErrorLocked(w, r, f, newAAD(0, "access_denied", 65004).withSuberror("cancel"))
		return
	default:
		p.simErrorPage(w, http.StatusBadRequest, "The form needs decision=accept or decision=cancel.")
		return
	}
	p.counters.Inc("microsoft.consent.accepted")
	if f.kind == flowAdminConsent {
		p.grantLocked(grantKey{f.clientID, u.TenantID}, true, f.scopes)
		granted := make([]string, len(f.scopes))
		for i, s := range f.scopes {
			granted[i] = qualified(s)
		}
		v := url.Values{}
		v.Set("admin_consent", "True")
		v.Set("tenant", u.TenantID)
		v.Set("scope", strings.Join(granted, " "))
		p.redirectLocked(w, f, v)
		return
	}
	if u.Admin && r.PostForm.Get("consent_for_org") == "true" {
		p.grantLocked(grantKey{f.clientID, u.TenantID}, true, f.scopes)
	} else {
		p.grantLocked(grantKey{f.clientID, u.ID}, false, f.pending)
	}
	f.pending = nil
	f.consentShown = true
	p.continueLocked(w, r, f, sess)
}

func (p *Platform) serveRequestApproval(w http.ResponseWriter, r *http.Request) {
	p.counters.Inc("microsoft.consent.request")
	if err := r.ParseForm(); err != nil {
		p.simErrorPage(w, http.StatusBadRequest, "Malformed form.")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f, _, ok := p.flowFromRequestLocked(w, r, r.PostForm.Get("flow"))
	if !ok {
		return
	}
	u := p.users[f.userID]
	if u == nil || f.returnCode != 90095 {
		p.simErrorPage(w, http.StatusBadRequest, "There is no approval to request in this sign-in request.")
		return
	}
	all, _ := p.consentedLocked(f.clientID, u)
	p.requestApprovalLocked(f.clientID, u, minus(f.scopes, all), r.PostForm.Get("justification"))
	delete(p.flows, f.id)
	renderPage(w, http.StatusOK, pageData{Page: "request-sent", Title: "Request sent"})
}

func (p *Platform) serveReturn(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, _, ok := p.flowFromRequestLocked(w, r, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	if f.returnCode == 0 {
		p.simErrorPage(w, http.StatusBadRequest, "Nothing to return from in this sign-in request.")
		return
	}
	p.redirectErrorLocked(w, r, f, newAAD(0, "access_denied", f.returnCode))
}

func (p *Platform) serveSwitch(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, _, ok := p.flowFromRequestLocked(w, r, r.URL.Query().Get("flow"))
	if !ok {
		return
	}
	f.userID, f.forceLogin, f.returnCode, f.pending = "", true, 0, nil
	p.signInPageLocked(w, f, "", "", 0)
}

// redirectErrorLocked sends the browser back to the app with an error.
func (p *Platform) redirectErrorLocked(w http.ResponseWriter, r *http.Request, f *flow, e *aadError) {
	p.counters.Inc("microsoft.authorize.error/" + e.err)
	v := p.errorParams(r, e)
	if f.kind == flowAdminConsent {
		v.Set("admin_consent", "True")
	}
	p.redirectLocked(w, f, v)
}

// redirectLocked ends the flow and returns to the redirect URI in the
// flow's response mode.
func (p *Platform) redirectLocked(w http.ResponseWriter, f *flow, v url.Values) {
	if f.state != "" {
		v.Set("state", f.state)
	}
	delete(p.flows, f.id)
	target, err := url.Parse(f.redirectURI)
	if err != nil {
		p.simErrorPage(w, http.StatusBadRequest, "The redirect URI cannot be parsed.")
		return
	}
	switch f.responseMode {
	case "fragment":
		target.Fragment = v.Encode()
		target.RawFragment = v.Encode()
	case "form_post":
		d := pageData{Page: "form-post", FormAction: f.redirectURI}
		for _, k := range sortedKeys(v) {
			d.Fields = append(d.Fields, field{Name: k, Value: v.Get(k)})
		}
		renderPage(w, http.StatusOK, d)
		return
	default:
		q := target.Query()
		for k, vs := range v {
			q[k] = vs
		}
		target.RawQuery = q.Encode()
	}
	w.Header().Set("Location", target.String())
	w.WriteHeader(http.StatusFound)
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (p *Platform) serveAdminConsent(w http.ResponseWriter, r *http.Request) {
	p.counters.Inc("microsoft.adminconsent")
	if p.faultPage(w, r, "microsoft.adminconsent") {
		return
	}
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	pt, ok := p.validateClientLocked(w, r, q)
	if !ok {
		return
	}
	app := p.apps[q.Get("client_id")]
	f := &flow{
		kind:         flowAdminConsent,
		pathTenant:   pt.seg,
		clientID:     app.ClientID,
		redirectURI:  q.Get("redirect_uri"),
		responseMode: "query",
		state:        q.Get("state"),
	}
	if pt.kind == "common" {
		// Microsoft has no tenant-less admin consent: /common answers as if
		// the request were a malformed authorize request.
		v := p.errorParams(r, newAAD(0, "invalid_request", 900144, "response_type"))
		p.redirectLocked(w, f, v)
		return
	}
	if pt.tenant != nil {
		f.tenantID = pt.tenant.ID
	}
	if q.Get("scope") == "" {
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_request", 900144, "scope"))
		return
	}
	scopes, bad := parseScopes(q.Get("scope"), app.StaticScopes)
	if bad != "" || len(scopes) == 0 {
		p.redirectErrorLocked(w, r, f, newAAD(0, "invalid_scope", 70011, bad))
		return
	}
	f.scopes = scopes
	sess := p.sessionLocked(w, r)
	p.startFlowLocked(f, sess)
	p.continueLocked(w, r, f, sess)
}
