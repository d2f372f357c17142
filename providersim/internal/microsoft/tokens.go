package microsoft

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

const (
	codeLifetime           = 10 * time.Minute
	defaultAccessLifetime  = 3599 * time.Second
	defaultRefreshLifetime = 90 * 24 * time.Hour
	idTokenLifetime        = time.Hour
)

type authCode struct {
	code            string
	clientID        string
	tenantID        string
	userID          string
	scopes          []string
	redirectURI     string
	challenge       string
	challengeMethod string
	nonce           string
	sessionID       string
	issued          time.Time
	authTime        time.Time
	redeemed        bool
}

type refreshToken struct {
	token     string
	clientID  string
	tenantID  string
	userID    string
	scopes    []string // as requested when the grant began
	sessionID string
	authTime  time.Time
	issued    time.Time
	expires   time.Time
}

type accessToken struct {
	clientID string
	tenantID string
	userID   string
	scopes   []string
	expires  time.Time
}

func (p *Platform) issueCodeLocked(w http.ResponseWriter, f *flow, u *user, sess *session) {
	now := p.clock.Now()
	c := &authCode{
		code:            "1.A" + p.ids.Token("code", 96),
		clientID:        f.clientID,
		tenantID:        u.TenantID,
		userID:          u.ID,
		scopes:          slices.Clone(f.scopes),
		redirectURI:     f.redirectURI,
		challenge:       f.challenge,
		challengeMethod: f.challengeMethod,
		nonce:           f.nonce,
		sessionID:       sess.id,
		issued:          now,
		authTime:        now,
	}
	p.codes[c.code] = c
	p.counters.Inc("microsoft.authorize.code")
	v := url.Values{}
	v.Set("code", c.code)
	v.Set("session_state", sess.state)
	p.redirectLocked(w, f, v)
}

// lifetimesLocked returns the token lifetimes for an app in a tenant: the most
// specific setting wins.
func (p *Platform) lifetimesLocked(clientID, tenantID string) (access, refresh time.Duration) {
	access, refresh = defaultAccessLifetime, defaultRefreshLifetime
	best := -1
	for _, l := range p.lifetimes {
		if (l.ClientID != "" && l.ClientID != clientID) || (l.TenantID != "" && l.TenantID != tenantID) {
			continue
		}
		score := 0
		if l.ClientID != "" {
			score += 2
		}
		if l.TenantID != "" {
			score++
		}
		if score < best {
			continue
		}
		best = score
		access, refresh = defaultAccessLifetime, defaultRefreshLifetime
		if l.AccessTokenSeconds > 0 {
			access = time.Duration(l.AccessTokenSeconds) * time.Second
		}
		if l.RefreshTokenSeconds > 0 {
			refresh = time.Duration(l.RefreshTokenSeconds) * time.Second
		}
	}
	return access, refresh
}

// SetLifetimes sets token lifetimes for an app and/or tenant, replacing a
// setting for the same pair.
func (p *Platform) SetLifetimes(l simclient.Lifetimes) []simclient.Lifetimes {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := p.lookupTenantLocked(l.TenantID); t != nil {
		l.TenantID = t.ID
	}
	p.lifetimes = slices.DeleteFunc(p.lifetimes, func(x simclient.Lifetimes) bool {
		return x.ClientID == l.ClientID && x.TenantID == l.TenantID
	})
	p.lifetimes = append(p.lifetimes, l)
	return slices.Clone(p.lifetimes)
}

// Lifetimes lists the lifetime settings.
func (p *Platform) Lifetimes() []simclient.Lifetimes {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lifetimes)
}

func (p *Platform) tokenMatches(f simclient.TokenFilter, clientID, tenantID, userID string) bool {
	if f.UserID != "" {
		u := p.lookupUserLocked(f.UserID)
		if u == nil || u.ID != userID {
			return false
		}
	}
	if f.TenantID != "" {
		t := p.lookupTenantLocked(f.TenantID)
		if t == nil || t.ID != tenantID {
			return false
		}
	}
	return f.ClientID == "" || f.ClientID == clientID
}

// ExpireTokens makes matching access and/or refresh tokens expire now.
func (p *Platform) ExpireTokens(f simclient.TokenFilter) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	n := 0
	if f.Kind == "" || f.Kind == simclient.TokenAll || f.Kind == simclient.TokenAccess {
		for _, t := range p.accessTokens {
			if p.tokenMatches(f, t.clientID, t.tenantID, t.userID) && t.expires.After(now) {
				t.expires = now
				n++
			}
		}
	}
	if f.Kind == "" || f.Kind == simclient.TokenAll || f.Kind == simclient.TokenRefresh {
		for _, t := range p.refreshTokens {
			if p.tokenMatches(f, t.clientID, t.tenantID, t.userID) && t.expires.After(now) {
				t.expires = now
				n++
			}
		}
	}
	return n
}

// RevokeSessions revokes every refresh token of a user, as
// revokeSignInSessions or an admin password reset does.
func (p *Platform) RevokeSessions(userID string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.lookupUserLocked(userID)
	if u == nil {
		return 0, ErrNotFound
	}
	u.validFrom = p.clock.Now()
	n := 0
	for _, t := range p.refreshTokens {
		if t.userID == u.ID && t.issued.Before(u.validFrom) {
			n++
		}
	}
	for _, s := range p.sessions {
		s.users = slices.DeleteFunc(s.users, func(id string) bool { return id == u.ID })
	}
	return n, nil
}

// Introspect tells Graph what an access token stands for.
func (p *Platform) Introspect(token string) (simcore.Principal, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.accessTokens[token]
	if !ok {
		return simcore.Principal{}, simcore.ErrTokenUnknown
	}
	if !p.clock.Now().Before(t.expires) {
		return simcore.Principal{}, simcore.ErrTokenExpired
	}
	u := p.users[t.userID]
	if u == nil {
		return simcore.Principal{}, simcore.ErrTokenUnknown
	}
	return simcore.Principal{
		ClientID: t.clientID, TenantID: t.tenantID, UserID: t.userID,
		UserPrincipalName: u.UserPrincipalName, Scopes: slices.Clone(t.scopes),
	}, nil
}

func scopeString(scopes []string) string { return strings.Join(scopes, " ") }
