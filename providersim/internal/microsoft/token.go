package microsoft

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

func (p *Platform) serveToken(w http.ResponseWriter, r *http.Request) {
	p.counters.Inc("microsoft.token")
	if p.fault(w, r, "microsoft.token") {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, simcore.MaxBody)
	if err := r.ParseForm(); err != nil {
		p.writeTokenError(w, r, newAAD(http.StatusBadRequest, "invalid_request", 900144, "grant_type"))
		return
	}
	form := r.PostForm
	p.mu.Lock()
	defer p.mu.Unlock()
	pt, ok := p.resolveTenantLocked(r.PathValue("tenant"))
	if !ok {
		p.writeTokenError(w, r, newAAD(http.StatusBadRequest, "invalid_request", 90002, pt.seg))
		return
	}
	grant := form.Get("grant_type")
	switch grant {
	case "":
		p.writeTokenError(w, r, newAAD(http.StatusBadRequest, "invalid_request", 900144, "grant_type"))
		return
	case "authorization_code", "refresh_token":
		p.counters.Inc("microsoft.token." + grant)
	default:
		p.counters.Inc("microsoft.token.unsupported")
	}
	app, e := p.authenticateClientLocked(r, form, pt)
	if e != nil {
		p.writeTokenError(w, r, e)
		return
	}
	var resp tokenResponse
	switch grant {
	case "authorization_code":
		resp, e = p.redeemCodeLocked(form, pt, app)
	case "refresh_token":
		resp, e = p.redeemRefreshLocked(form, pt, app)
	default:
		e = newAAD(http.StatusBadRequest, "unsupported_grant_type", 70003, grant)
	}
	if e != nil {
		p.writeTokenError(w, r, e)
		return
	}
	p.counters.Inc("microsoft.token." + grant + ".issued")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	simcore.WriteJSON(w, http.StatusOK, resp)
}

// authenticateClientLocked checks client_id and client_secret, sent in the
// form or with HTTP Basic (form-urlencoded, as RFC 6749 says).
func (p *Platform) authenticateClientLocked(r *http.Request, form url.Values, pt pathTenant) (*simclient.App, *aadError) {
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		u, err1 := url.QueryUnescape(user)
		s, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, newAAD(http.StatusUnauthorized, "invalid_client", 7000215, user)
		}
		if clientID != "" && clientID != u {
			return nil, newAAD(http.StatusBadRequest, "invalid_request", 90004, clientID, "client_id")
		}
		clientID, secret = u, s
	}
	if clientID == "" {
		return nil, newAAD(http.StatusBadRequest, "invalid_request", 900144, "client_id")
	}
	app, ok := p.apps[clientID]
	if !ok {
		return nil, newAAD(http.StatusBadRequest, "unauthorized_client", 700016, clientID, pt.seg)
	}
	if form.Get("client_assertion") != "" {
		return nil, newAAD(http.StatusUnauthorized, "invalid_client", 700027)
	}
	if secret == "" {
		return nil, newAAD(http.StatusUnauthorized, "invalid_client", 7000218)
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(app.ClientSecret)) != 1 {
		return nil, newAAD(http.StatusUnauthorized, "invalid_client", 7000215, app.ClientID)
	}
	return app, nil
}

func (p *Platform) redeemCodeLocked(form url.Values, pt pathTenant, app *simclient.App) (tokenResponse, *aadError) {
	raw := form.Get("code")
	if raw == "" {
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_request", 900144, "code")
	}
	c, ok := p.codes[raw]
	if !ok {
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 9002313)
	}
	u := p.users[c.userID]
	if u != nil {
		p.counters.Inc("microsoft.token.authorization_code/user=" + u.UserPrincipalName)
	}
	switch {
	case c.clientID != app.ClientID || u == nil:
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 70000)
	case pt.tenant != nil && pt.tenant.ID != c.tenantID:
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 700005)
	case c.redeemed:
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 54005)
	case !p.clock.Now().Before(c.issued.Add(codeLifetime)):
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 70008)
	}
	redirect := form.Get("redirect_uri")
	if redirect == "" {
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_request", 900144, "redirect_uri")
	}
	if redirect != c.redirectURI {
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 500112, redirect, c.redirectURI)
	}
	if c.challenge != "" && !verifierMatches(c.challengeMethod, c.challenge, form.Get("code_verifier")) {
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 501481)
	}
	if s := form.Get("scope"); s != "" {
		if _, bad := parseScopes(s, app.StaticScopes); bad != "" {
			return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_scope", 70011, bad)
		}
	}
	c.redeemed = true
	return p.issueTokensLocked(app, u, c.scopes, c.nonce, c.sessionID, c.authTime, false)
}

func verifierMatches(method, challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		verifier = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(verifier), []byte(challenge)) == 1
}

func (p *Platform) redeemRefreshLocked(form url.Values, pt pathTenant, app *simclient.App) (tokenResponse, *aadError) {
	raw := form.Get("refresh_token")
	if raw == "" {
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_request", 900144, "refresh_token")
	}
	t, ok := p.refreshTokens[raw]
	if !ok {
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 9002313)
	}
	u := p.users[t.userID]
	if u != nil {
		p.counters.Inc("microsoft.token.refresh_token/user=" + u.UserPrincipalName)
	}
	now := p.clock.Now()
	switch {
	case t.clientID != app.ClientID || u == nil:
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 70000)
	case pt.tenant != nil && pt.tenant.ID != t.tenantID:
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 700005)
	case t.issued.Before(u.validFrom):
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 50173, formatTime(t.issued), formatTime(u.validFrom))
	case !now.Before(t.expires):
		return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 700082, formatTime(t.issued), now.Sub(t.issued).Round(time.Second).String())
	}
	requested := t.scopes
	if s := form.Get("scope"); s != "" {
		parsed, bad := parseScopes(s, app.StaticScopes)
		if bad != "" {
			return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_scope", 70011, bad)
		}
		requested = parsed
	}
	all, _ := p.consentedLocked(app.ClientID, u)
	if missing := minus(requested, all); len(missing) > 0 {
		t := p.tenants[u.TenantID]
		switch t.MissingConsentError {
		case simclient.MissingConsentInteractionRequired:
			return tokenResponse{}, newAAD(http.StatusBadRequest, "interaction_required", 65001, app.ClientID, app.DisplayName).withSuberror("consent_required")
		case simclient.MissingConsentConsentRequired:
			return tokenResponse{}, newAAD(http.StatusBadRequest, "consent_required", 65001, app.ClientID, app.DisplayName)
		default:
			return tokenResponse{}, newAAD(http.StatusBadRequest, "invalid_grant", 65001, app.ClientID, app.DisplayName).withSuberror("consent_required")
		}
	}
	if u.RequireMFA {
		return tokenResponse{}, newAAD(http.StatusBadRequest, "interaction_required", 50076, "00000003-0000-0000-c000-000000000000").withSuberror("basic_action")
	}
	return p.issueTokensLocked(app, u, requested, "", t.sessionID, t.authTime, true)
}

// issueTokensLocked mints the access token (for Graph, carrying every Graph
// scope the user has consented to, as Microsoft's do), a refresh token when
// offline_access was asked for (always on a refresh), and an ID token when
// openid was.
func (p *Platform) issueTokensLocked(app *simclient.App, u *user, requested []string, nonce, sessionID string, authTime time.Time, refresh bool) (tokenResponse, *aadError) {
	now := p.clock.Now()
	accessLife, refreshLife := p.lifetimesLocked(app.ClientID, u.TenantID)
	all, _ := p.consentedLocked(app.ClientID, u)
	var scopes []string
	for _, s := range graphScopes {
		if all[s] {
			scopes = append(scopes, s)
		}
	}
	for _, s := range []string{"openid", "profile", "email"} {
		if slices.Contains(requested, s) {
			scopes = append(scopes, s)
		}
	}
	access := "EwB" + p.ids.Token("access-token", 90)
	p.accessTokens[access] = &accessToken{
		clientID: app.ClientID, tenantID: u.TenantID, userID: u.ID,
		scopes: scopes, expires: now.Add(accessLife),
	}
	resp := tokenResponse{
		TokenType:    "Bearer",
		Scope:        scopeString(scopes),
		ExpiresIn:    int64(accessLife / time.Second),
		ExtExpiresIn: int64(accessLife / time.Second),
		AccessToken:  access,
	}
	if refresh || slices.Contains(requested, "offline_access") {
		rt := &refreshToken{
			token:     "1.A" + p.ids.Token("refresh-token", 160),
			clientID:  app.ClientID,
			tenantID:  u.TenantID,
			userID:    u.ID,
			scopes:    slices.Clone(requested),
			sessionID: sessionID,
			authTime:  authTime,
			issued:    now,
			expires:   now.Add(refreshLife),
		}
		p.refreshTokens[rt.token] = rt
		resp.RefreshToken = rt.token
	}
	if slices.Contains(requested, "openid") {
		sid := ""
		if s := p.sessions[sessionID]; s != nil {
			sid = s.state
		}
		claims := map[string]any{
			"aud": app.ClientID,
			"iss": p.Issuer(u.TenantID),
			"iat": now.Unix(),
			"nbf": now.Unix(),
			"exp": now.Add(idTokenLifetime).Unix(),
			"aio": p.ids.Token("aio", 48),
			"oid": u.ID,
			"rh":  "1.A" + p.ids.Token("rh", 36) + ".",
			"sub": simcore.PairwiseSubject(app.ClientID, u.ID),
			"tid": u.TenantID,
			"uti": p.ids.Token("uti", 16),
			"ver": "2.0",
		}
		if sid != "" {
			claims["sid"] = sid
		}
		if slices.Contains(requested, "profile") {
			claims["name"] = u.DisplayName
			claims["preferred_username"] = u.UserPrincipalName
		}
		if slices.Contains(requested, "email") && !u.OmitEmailClaim && u.Mail != "" {
			claims["email"] = u.Mail
		}
		if nonce != "" {
			claims["nonce"] = nonce
		}
		if emitsDirectoryRoles(app) {
			claims["wids"] = directoryRoles(u)
		}
		idt, err := p.sign(claims)
		if err != nil {
			return tokenResponse{}, newAAD(http.StatusInternalServerError, "server_error", 90033)
		}
		resp.IDToken = idt
	}
	return resp, nil
}

// Directory role template ids, as the wids claim carries them.
const (
	roleGlobalAdministrator = "62e90394-69f5-4237-9190-012177145e10"
	roleUser                = "b79fbf4d-3ef9-4689-8143-76b194e85509"
)

// emitsDirectoryRoles reports whether ID tokens for the app carry wids:
// Microsoft adds it only when the registration's groupMembershipClaims is
// DirectoryRole or All.
func emitsDirectoryRoles(app *simclient.App) bool {
	switch strings.ToLower(app.GroupMembershipClaims) {
	case "directoryrole", "all":
		return true
	}
	return false
}

// directoryRoles is the wids claim of a user; a seeded admin is a Global
// Administrator.
func directoryRoles(u *user) []string {
	if u.Admin {
		return []string{roleGlobalAdministrator, roleUser}
	}
	return []string{roleUser}
}
