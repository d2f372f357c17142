package lever

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// sessionCookie is Auth0's session cookie.
const sessionCookie = "auth0"

const codeLifetime = 10 * time.Minute

// Resources of Lever's scopes, <resource>:<read|write>:admin.
var scopeResources = []string{
	"applications", "archive_reasons", "audit_events", "confidential", "contact", "feedback", "feedback_templates",
	"files", "forms", "groups", "interviews", "notes", "offers", "opportunities", "panels", "postings",
	"referrals", "requisitions", "requisition_fields", "resumes", "sources", "stages", "tags", "tasks",
	"uploads", "users", "webhooks",
}

func knownScope(sc string) bool {
	if sc == "offline_access" {
		return true
	}
	res, rest, ok := strings.Cut(sc, ":")
	return ok && (rest == "read:admin" || rest == "write:admin") && slices.Contains(scopeResources, res)
}

type authFlow struct {
	id                    string
	clientID, redirectURI string
	state                 string
	scopes                []string
	challenge, method     string
	prompt                string
	created               time.Time
	userID                string // once signed in
}

type authCode struct {
	clientID, redirectURI string
	accountID, userID     string
	scopes                []string
	challenge, method     string
	expires               time.Time
	used                  bool
}

// grant is one authorization of an app for an account: the family of
// refresh tokens that rotate from it.
type grant struct {
	simclient.LeverGrant
	lastUsed time.Time
	issued   time.Time
}

type refreshToken struct {
	grantID    string
	superseded bool // rotated away: using it again is reuse
}

// accessToken is what a bearer token or an API key stands for.
type accessToken struct {
	grantID, accountID string
	userID             string
	scopes             []string
	everyEndpoint      bool // an API key without endpoint limits
	expires            time.Time
}

// CreateClient registers (or replaces) an OAuth app.
func (s *Service) CreateClient(c simclient.LeverClient) (simclient.LeverClient, error) {
	if c.ClientID == "" || c.ClientSecret == "" || len(c.RedirectURIs) == 0 {
		return simclient.LeverClient{}, invalid("clientId, clientSecret and redirectUris are required")
	}
	for _, sc := range c.Scopes {
		if !knownScope(sc) {
			return simclient.LeverClient{}, invalid("unknown scope %s", sc)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	s.clients[c.ClientID] = &c
	out := c
	out.ClientSecret = ""
	return out, nil
}

// Clients lists the OAuth apps without their secrets.
func (s *Service) Clients() []simclient.LeverClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []simclient.LeverClient{}
	for _, c := range s.clients {
		v := *c
		v.ClientSecret = ""
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b simclient.LeverClient) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out
}

// OAuthHandler serves auth.lever.co: /authorize with its pages and
// /oauth/token.
func (s *Service) OAuthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /u/login", s.login)
	mux.HandleFunc("POST /u/consent", s.consent)
	mux.HandleFunc("GET /u/refused", s.refused)
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		simcore.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "Not Found"})
	})
	return mux
}

func (s *Service) errorPage(w http.ResponseWriter, code, msg string) {
	s.counters.Inc("lever.oauth.authorize.error/" + code)
	s.render(w, http.StatusBadRequest, pageData{Page: "error", Title: "Oops!, something went wrong", ErrorCode: code, Error: msg})
}

// redirectError sends the browser back to the app with an OAuth error.
func (s *Service) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	s.counters.Inc("lever.oauth.authorize.error/" + code)
	u, err := url.Parse(redirectURI)
	if err != nil {
		s.errorPage(w, "invalid_request", "Invalid redirect_uri")
		return
	}
	q := u.Query()
	q.Set("error", code)
	q.Set("error_description", desc)
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Service) authorize(w http.ResponseWriter, r *http.Request) {
	s.counters.Inc("lever.oauth.authorize")
	if f := s.faults.Apply(r.Context(), "lever.oauth.authorize", ""); f != nil {
		s.errorPage(w, "server_error", "The service is temporarily unavailable")
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	client := s.clients[q.Get("client_id")]
	audience := s.settings.Audience
	s.mu.Unlock()
	if client == nil {
		s.errorPage(w, "invalid_request", "Unknown client: "+q.Get("client_id"))
		return
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirect) {
		s.errorPage(w, "invalid_request", "Callback URL mismatch. "+redirect+" is not in the list of allowed callback URLs")
		return
	}
	state := q.Get("state")
	if q.Get("response_type") != "code" {
		s.redirectError(w, r, redirect, state, "unsupported_response_type", "Unsupported response type: "+q.Get("response_type"))
		return
	}
	switch aud := q.Get("audience"); {
	case aud == "":
		// Without an audience Auth0 would issue a token for its own
		// userinfo only, which Lever's API refuses; the simulator refuses
		// at once so the mistake shows (UNCONFIRMED how Lever answers).
		s.redirectError(w, r, redirect, state, "invalid_request", "Parameter 'audience' is required")
		return
	case aud != audience:
		// Auth0's answer for an API identifier it does not know, such as
		// the audience without its trailing slash.
		s.redirectError(w, r, redirect, state, "access_denied", "Service not found: "+aud)
		return
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method == "" {
		method = "plain"
	}
	if method != "" && method != "S256" && method != "plain" {
		s.redirectError(w, r, redirect, state, "invalid_request", "Unsupported code_challenge_method")
		return
	}
	var scopes []string
	for _, sc := range strings.Fields(q.Get("scope")) {
		// Auth0 grants only scopes the API defines and the app may have.
		if knownScope(sc) && (client.Scopes == nil || slices.Contains(client.Scopes, sc)) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	s.mu.Lock()
	fl := &authFlow{
		id: s.ids.Token("lever-flow", 18), clientID: client.ClientID, redirectURI: redirect, state: state,
		scopes: scopes, challenge: q.Get("code_challenge"), method: method, prompt: q.Get("prompt"), created: s.clock.Now(),
	}
	s.flows[fl.id] = fl
	if c, err := r.Cookie(sessionCookie); err == nil {
		if uid, ok := s.sessions[c.Value]; ok {
			if u := s.users[uid]; u != nil && u.deactivatedAt == 0 {
				fl.userID = uid
			}
		}
	}
	s.mu.Unlock()
	if fl.userID == "" {
		s.render(w, http.StatusOK, pageData{Page: "signin", Title: "Log in", AppName: client.Name, Action: "/u/login", FlowID: fl.id, Login: q.Get("login_hint")})
		return
	}
	s.afterSignIn(w, r, fl)
}

func (s *Service) flow(r *http.Request) (*authFlow, *simclient.LeverClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fl := s.flows[r.FormValue("flow")]
	if fl == nil || s.clock.Now().Sub(fl.created) > time.Hour {
		return nil, nil
	}
	return fl, s.clients[fl.clientID]
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	fl, client := s.flow(r)
	if fl == nil || client == nil {
		s.errorPage(w, "invalid_request", "The login session has expired; start again from the app")
		return
	}
	login := strings.TrimSpace(r.PostFormValue("login"))
	s.mu.Lock()
	var u *user
	for _, x := range s.users {
		if strings.EqualFold(x.Email, login) {
			u = x
		}
	}
	ok := u != nil && u.deactivatedAt == 0 && (u.Password == "" || subtle.ConstantTimeCompare([]byte(u.Password), []byte(r.PostFormValue("password"))) == 1)
	var sid string
	if ok {
		sid = s.ids.Token("lever-session", 24)
		s.sessions[sid] = u.ID
		fl.userID = u.ID
	}
	s.mu.Unlock()
	if !ok {
		s.counters.Inc("lever.oauth.signin.failed")
		s.render(w, http.StatusOK, pageData{Page: "signin", Title: "Log in", AppName: client.Name, Action: "/u/login", FlowID: fl.id, Login: login,
			ErrorCode: "invalid_user_password", Error: "Wrong email or password."})
		return
	}
	s.counters.Inc("lever.oauth.signin")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s.afterSignIn(w, r, fl)
}

// afterSignIn applies Lever's rule (only a Super Admin of the account may
// authorize an app) and shows the consent page.
func (s *Service) afterSignIn(w http.ResponseWriter, r *http.Request, fl *authFlow) {
	s.mu.Lock()
	u := s.users[fl.userID]
	a := s.accounts[u.AccountID]
	client := s.clients[fl.clientID]
	nonAdminRedirect := s.settings.NonAdminRedirect
	s.mu.Unlock()
	if u.AccessRole != simclient.LeverSuperAdmin {
		s.counters.Inc("lever.oauth.notSuperAdmin")
		const msg = "Only Super Admins can authorize integrations. Ask a Super Admin of your Lever account to connect this app."
		if nonAdminRedirect {
			s.redirectError(w, r, fl.redirectURI, fl.state, "access_denied", msg)
			return
		}
		s.render(w, http.StatusForbidden, pageData{Page: "not-super-admin", Title: "You can't authorize this app", ErrorCode: "access_denied",
			Error: msg, AppName: client.Name, ReturnURL: "/u/refused?flow=" + url.QueryEscape(fl.id)})
		return
	}
	s.render(w, http.StatusOK, pageData{Page: "consent", Title: "Authorize " + client.Name, AppName: client.Name, AccountName: a.name,
		Action: "/u/consent", FlowID: fl.id, Scopes: fl.scopes})
}

func (s *Service) refused(w http.ResponseWriter, r *http.Request) {
	fl, _ := s.flow(r)
	if fl == nil {
		s.errorPage(w, "invalid_request", "The login session has expired; start again from the app")
		return
	}
	s.redirectError(w, r, fl.redirectURI, fl.state, "access_denied", "Only Super Admins can authorize integrations.")
}

func (s *Service) consent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	fl, client := s.flow(r)
	if fl == nil || client == nil || fl.userID == "" {
		s.errorPage(w, "invalid_request", "The login session has expired; start again from the app")
		return
	}
	s.mu.Lock()
	u := s.users[fl.userID]
	s.mu.Unlock()
	if u.AccessRole != simclient.LeverSuperAdmin {
		s.afterSignIn(w, r, fl)
		return
	}
	if r.PostFormValue("decision") != "accept" {
		s.counters.Inc("lever.oauth.consent.declined")
		s.redirectError(w, r, fl.redirectURI, fl.state, "access_denied", "User did not authorize the request")
		return
	}
	s.counters.Inc("lever.oauth.consent.accepted")
	s.mu.Lock()
	code := s.ids.Token("lever-code", 24)
	s.codes[code] = &authCode{
		clientID: fl.clientID, redirectURI: fl.redirectURI, accountID: u.AccountID, userID: u.ID,
		scopes: fl.scopes, challenge: fl.challenge, method: fl.method, expires: s.clock.Now().Add(codeLifetime),
	}
	delete(s.flows, fl.id)
	s.mu.Unlock()
	target, err := url.Parse(fl.redirectURI)
	if err != nil {
		s.errorPage(w, "invalid_request", "Invalid redirect_uri")
		return
	}
	q := target.Query()
	q.Set("code", code)
	if fl.state != "" {
		q.Set("state", fl.state)
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// tokenError is the token endpoint's Auth0-style error.
type tokenError struct {
	status            int
	code, description string
}

func (s *Service) writeTokenError(w http.ResponseWriter, e tokenError) {
	s.counters.Inc("lever.oauth.token.error", "lever.oauth.token.error/"+e.code)
	w.Header().Set("Cache-Control", "no-store")
	simcore.WriteJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// tokenForm reads the token request: form-encoded, or JSON as Auth0 also
// takes it.
func tokenForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	// A Content-Type that does not parse is not JSON: ParseForm, below,
	// refuses it.
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && ct == "application/json" {
		var m map[string]any
		if err := simcore.ReadJSON(r, &m); err != nil {
			return nil, err
		}
		v := url.Values{}
		for k, x := range m {
			switch t := x.(type) {
			case string:
				v.Set(k, t)
			case float64:
				v.Set(k, strconv.FormatFloat(t, 'f', -1, 64))
			}
		}
		return v, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

func (s *Service) token(w http.ResponseWriter, r *http.Request) {
	s.counters.Inc("lever.oauth.token")
	if f := s.faults.Apply(r.Context(), "lever.oauth.token", ""); f != nil {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		s.writeTokenError(w, tokenError{f.Status, "server_error", "The service is temporarily unavailable"})
		return
	}
	form, err := tokenForm(w, r)
	if err != nil {
		s.writeTokenError(w, tokenError{http.StatusBadRequest, "invalid_request", "Invalid request body"})
		return
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	client := s.clients[id]
	if client == nil || subtle.ConstantTimeCompare([]byte(client.ClientSecret), []byte(secret)) != 1 {
		s.writeTokenError(w, tokenError{http.StatusUnauthorized, "access_denied", "Unauthorized"})
		return
	}
	now := s.clock.Now()
	invalidGrant := func(desc string) {
		s.writeTokenError(w, tokenError{s.settings.InvalidGrantStatus, "invalid_grant", desc})
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		s.counters.Inc("lever.oauth.token.authorization_code")
		c := s.codes[form.Get("code")]
		switch {
		case form.Get("code") == "":
			s.writeTokenError(w, tokenError{http.StatusBadRequest, "invalid_request", "Missing required parameter: code"})
			return
		case c == nil || c.used || now.After(c.expires) || c.clientID != id:
			invalidGrant("Invalid authorization code")
			return
		case c.redirectURI != form.Get("redirect_uri"):
			invalidGrant("Invalid redirect_uri")
			return
		case !verifierMatches(c.challenge, c.method, form.Get("code_verifier")):
			invalidGrant("Failed to verify code verifier")
			return
		}
		c.used = true
		if aud := form.Get("audience"); aud != "" && aud != s.settings.Audience {
			s.writeTokenError(w, tokenError{http.StatusForbidden, "access_denied", "Service not found: " + aud})
			return
		}
		g := &grant{LeverGrant: simclient.LeverGrant{
			ID: s.ids.GUID("lever-grant"), AccountID: c.accountID, ClientID: id, UserID: c.userID,
			Scopes: slices.Clone(c.scopes), AuthorizedAt: ms(now),
		}, lastUsed: now, issued: now}
		s.grants[g.ID] = g
		s.issueLocked(w, g, now)
	case "refresh_token":
		s.counters.Inc("lever.oauth.token.refresh_token")
		raw := form.Get("refresh_token")
		if raw == "" {
			s.writeTokenError(w, tokenError{http.StatusBadRequest, "invalid_request", "Missing required parameter: refresh_token"})
			return
		}
		rt := s.refresh[raw]
		if rt == nil {
			invalidGrant("Unknown or invalid refresh token.")
			return
		}
		g := s.grants[rt.grantID]
		switch {
		case g.ClientID != id || g.Revoked:
			invalidGrant("Unknown or invalid refresh token.")
			return
		case rt.superseded:
			// Auth0's reuse detection: a rotated-away token used again
			// revokes the whole family, the newest token included.
			s.counters.Inc("lever.oauth.refreshReuse")
			if !s.settings.KeepFamilyOnReuse {
				g.Revoked, g.RevokedBy = true, "reuse"
			}
			invalidGrant("Unknown or invalid refresh token.")
			return
		case now.Sub(g.lastUsed) > time.Duration(s.settings.RefreshInactivityDays)*24*time.Hour,
			now.Sub(g.issued) > time.Duration(s.settings.RefreshLifetimeDays)*24*time.Hour:
			invalidGrant("Unknown or invalid refresh token.")
			return
		}
		rt.superseded = true
		g.lastUsed = now
		s.issueLocked(w, g, now)
	case "":
		s.writeTokenError(w, tokenError{http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type"})
	default:
		s.writeTokenError(w, tokenError{http.StatusForbidden, "unsupported_grant_type", "Unsupported grant type: " + form.Get("grant_type")})
	}
}

// issueLocked answers with a new access token and, with offline_access, a
// new refresh token of the grant's family.
func (s *Service) issueLocked(w http.ResponseWriter, g *grant, now time.Time) {
	life := time.Duration(s.settings.AccessTokenSeconds) * time.Second
	at := s.ids.Token("lever-access", 32)
	s.access[at] = &accessToken{grantID: g.ID, accountID: g.AccountID, userID: g.UserID, scopes: g.Scopes, expires: now.Add(life)}
	out := map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": int(life.Seconds()), "scope": strings.Join(g.Scopes, " "),
	}
	if slices.Contains(g.Scopes, "offline_access") {
		rt := s.ids.Token("lever-refresh", 32)
		s.refresh[rt] = &refreshToken{grantID: g.ID}
		out["refresh_token"] = rt
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	simcore.WriteJSON(w, http.StatusOK, out)
}

func verifierMatches(challenge, method, verifier string) bool {
	if challenge == "" {
		return true
	}
	if method == "plain" {
		return subtle.ConstantTimeCompare([]byte(challenge), []byte(verifier)) == 1
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// introspectLocked checks an access token for the Data API.
func (s *Service) introspectLocked(token string, now time.Time) (*accessToken, *apiError) {
	at := s.access[token]
	if at == nil {
		return nil, unauthorized("Invalid token")
	}
	if now.After(at.expires) {
		return nil, unauthorized("Token expired")
	}
	if g := s.grants[at.grantID]; g.Revoked && g.RevokedBy == "revoke" && !s.settings.AccessTokensSurviveRevoke {
		return nil, unauthorized("Access to this account has been revoked")
	}
	if s.accounts[at.accountID] == nil {
		return nil, unauthorized("Invalid token")
	}
	return at, nil
}

// Revoke is "Revoke Access" on the app in the account's Authorized Apps:
// every grant of the app for the account ends.
func (s *Service) Revoke(accountID, clientID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range s.grants {
		if g.AccountID == a.id && g.ClientID == clientID && (!g.Revoked || g.RevokedBy != "revoke") {
			g.Revoked, g.RevokedBy = true, "revoke"
			n++
		}
	}
	s.counters.Inc("lever.oauth.revoked")
	return n, nil
}

// Grants lists the authorizations of an account.
func (s *Service) Grants(accountID string) ([]simclient.LeverGrant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return nil, err
	}
	out := []simclient.LeverGrant{}
	for _, g := range s.grants {
		if g.AccountID == a.id {
			v := g.LeverGrant
			v.Scopes = slices.Clone(v.Scopes)
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(x, y simclient.LeverGrant) int {
		if x.AuthorizedAt != y.AuthorizedAt {
			return int(x.AuthorizedAt - y.AuthorizedAt)
		}
		return strings.Compare(x.ID, y.ID)
	})
	return out, nil
}
