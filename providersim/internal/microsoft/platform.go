// Package microsoft simulates the Microsoft identity platform (v2.0): OIDC
// discovery and keys, the authorize endpoint as HTML pages, the token
// endpoint, the admin-consent endpoint, tenants with consent policies, users,
// app registrations and consent grants.
package microsoft

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Errors of the directory operations.
var (
	ErrNotFound = simcore.ErrNotFound
	ErrConflict = simcore.ErrConflict
	ErrInvalid  = simcore.ErrInvalid
)

// Config wires a Platform.
type Config struct {
	Clock    *simcore.Clock
	IDs      *simcore.IDs
	Counters *simcore.Counters
	Faults   *simcore.Faults
	Logger   *slog.Logger
	// BaseURL is where the platform is reached ("http://127.0.0.1:9201");
	// issuers and endpoints in discovery are built from it.
	BaseURL string
	// GraphURL is the simulated Graph's base URL, for userinfo_endpoint.
	GraphURL string
	// SigningKey signs ID tokens (RS256).
	SigningKey *rsa.PrivateKey
	// NextSigningKey is published beside it from the start, as Microsoft
	// always publishes more than one key; nil publishes only SigningKey.
	NextSigningKey *rsa.PrivateKey
	// GenerateKey makes the key a rollover publishes; nil means a new
	// 2048-bit RSA key.
	GenerateKey func() (*rsa.PrivateKey, error)
}

// Platform is the simulated identity platform. It is safe for concurrent use.
type Platform struct {
	clock    *simcore.Clock
	ids      *simcore.IDs
	counters *simcore.Counters
	faults   *simcore.Faults
	log      *slog.Logger
	base     string
	graph    string

	initialKeys []*rsa.PrivateKey
	generateKey func() (*rsa.PrivateKey, error)

	mu            sync.Mutex
	tenants       map[string]*tenant // by id
	domains       map[string]string  // lower-case domain -> tenant id
	users         map[string]*user   // by object id
	upns          map[string]string  // lower-case UPN -> object id
	addresses     map[string]string  // lower-case SMTP address -> object id
	apps          map[string]*simclient.App
	userGrants    map[grantKey]scopeSet // (client, user id)
	tenantGrants  map[grantKey]scopeSet // (client, tenant id)
	requests      []*simclient.ConsentRequest
	sessions      map[string]*session
	flows         map[string]*flow
	codes         map[string]*authCode
	refreshTokens map[string]*refreshToken
	accessTokens  map[string]*accessToken
	lifetimes     []simclient.Lifetimes
	keys          []*signingKey
}

type grantKey struct{ client, principal string }

type tenant struct {
	simclient.Tenant
}

type user struct {
	simclient.User
	// validFrom is the TokensValidFrom of the user: refresh tokens issued before
	// it were revoked.
	validFrom time.Time
}

// New returns a platform with an empty directory.
func New(cfg Config) (*Platform, error) {
	if cfg.SigningKey == nil {
		return nil, errors.New("microsoft: a signing key is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Platform{
		clock:       cfg.Clock,
		ids:         cfg.IDs,
		counters:    cfg.Counters,
		faults:      cfg.Faults,
		log:         log,
		base:        cfg.BaseURL,
		graph:       cfg.GraphURL,
		initialKeys: []*rsa.PrivateKey{cfg.SigningKey},
		generateKey: cfg.GenerateKey,
	}
	if cfg.NextSigningKey != nil {
		p.initialKeys = append(p.initialKeys, cfg.NextSigningKey)
	}
	if p.generateKey == nil {
		p.generateKey = func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }
	}
	if err := p.Reset(); err != nil {
		return nil, err
	}
	return p, nil
}

// Reset forgets every tenant, user, app, grant, session and token, and
// goes back to the initial signing keys.
func (p *Platform) Reset() error {
	p.resetDirectory()
	return p.initKeys()
}

func (p *Platform) resetDirectory() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tenants = map[string]*tenant{}
	p.domains = map[string]string{}
	p.users = map[string]*user{}
	p.upns = map[string]string{}
	p.addresses = map[string]string{}
	p.apps = map[string]*simclient.App{}
	p.userGrants = map[grantKey]scopeSet{}
	p.tenantGrants = map[grantKey]scopeSet{}
	p.requests = nil
	p.sessions = map[string]*session{}
	p.flows = map[string]*flow{}
	p.codes = map[string]*authCode{}
	p.refreshTokens = map[string]*refreshToken{}
	p.accessTokens = map[string]*accessToken{}
	p.lifetimes = nil
}

func (p *Platform) baseURL() string { return p.base }

// Issuer returns the v2.0 issuer of a tenant.
func (p *Platform) Issuer(tenantID string) string { return p.base + "/" + tenantID + "/v2.0" }

// Handler serves the identity platform's endpoints (not the control API).
func (p *Platform) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", p.serveDiscovery)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", p.serveKeys)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", p.serveAuthorize)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize/signin", p.serveSignIn)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize/pick", p.servePick)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize/consent", p.serveConsent)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize/request-approval", p.serveRequestApproval)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize/return", p.serveReturn)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize/switch", p.serveSwitch)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", p.serveToken)
	mux.HandleFunc("GET /{tenant}/v2.0/adminconsent", p.serveAdminConsent)
	mux.HandleFunc("GET /error", p.serveErrorInfo)
	return mux
}

// fault applies an injected fault to a request; it reports whether the
// request was answered.
func (p *Platform) fault(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	f := p.faults.Apply(r.Context(), endpoint, "")
	if f == nil {
		return false
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	p.writeTokenError(w, r, newAAD(f.Status, "temporarily_unavailable", 90033))
	return true
}
