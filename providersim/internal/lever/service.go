// Package lever simulates Lever: the v1 Data API (api.lever.co/v1) and the
// Auth0-hosted OAuth server (auth.lever.co) its partner apps authorize
// through, with webhooks signed as Lever signs them and a token-bucket rate
// limit per access token. The behaviour follows reference/providers.md §2.
package lever

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// Config wires a Service.
type Config struct {
	Clock    *simcore.Clock
	IDs      *simcore.IDs
	Counters *simcore.Counters
	Faults   *simcore.Faults
	Logger   *slog.Logger
	// APIURL and OAuthURL are where the Data API and the OAuth server are
	// reached; links in responses are built from them.
	APIURL   string
	OAuthURL string
	// HTTPClient sends webhook deliveries; nil means a client of its own.
	HTTPClient *http.Client
	// AllowHTTPLoopback accepts http:// webhook URLs on loopback hosts; Lever
	// takes only https.
	AllowHTTPLoopback bool
}

// Service is the simulated Lever. It is safe for concurrent use.
type Service struct {
	clock    *simcore.Clock
	ids      *simcore.IDs
	counters *simcore.Counters
	faults   *simcore.Faults
	log      *slog.Logger
	apiURL   string
	oauthURL string

	allowHTTPLoopback bool
	hooks             *deliverer

	mu       sync.Mutex
	settings simclient.LeverSettings
	accounts map[string]*account
	order    []string // account ids in creation order
	users    map[string]*user
	opps     map[string]*opportunity
	clients  map[string]*simclient.LeverClient
	sessions map[string]string // session cookie -> user id
	flows    map[string]*authFlow
	codes    map[string]*authCode
	grants   map[string]*grant
	refresh  map[string]*refreshToken
	access   map[string]*accessToken
	keys     map[string]*apiKey
	buckets  map[string]*bucket
}

// New returns a Lever without accounts or apps.
func New(cfg Config) *Service {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.HTTPClient
	if client == nil {
		// A transport of its own, so the deliveries' connections are not the
		// process's; http.DefaultTransport's settings when it has its usual type.
		tr := &http.Transport{}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = dt.Clone()
		}
		client = &http.Client{Transport: tr}
	}
	s := &Service{
		clock: cfg.Clock, ids: cfg.IDs, counters: cfg.Counters, faults: cfg.Faults, log: log,
		apiURL: cfg.APIURL, oauthURL: cfg.OAuthURL, allowHTTPLoopback: cfg.AllowHTTPLoopback,
	}
	s.hooks = newDeliverer(s, client)
	s.Reset()
	return s
}

// Reset forgets every account, app, token and delivery and restores the
// default settings.
func (s *Service) Reset() {
	s.hooks.reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings = withDefaults(simclient.LeverSettings{})
	s.accounts = map[string]*account{}
	s.order = nil
	s.users = map[string]*user{}
	s.opps = map[string]*opportunity{}
	s.clients = map[string]*simclient.LeverClient{}
	s.sessions = map[string]string{}
	s.flows = map[string]*authFlow{}
	s.codes = map[string]*authCode{}
	s.grants = map[string]*grant{}
	s.refresh = map[string]*refreshToken{}
	s.access = map[string]*accessToken{}
	s.keys = map[string]*apiKey{}
	s.buckets = map[string]*bucket{}
}

// Close stops webhook deliveries.
func (s *Service) Close() { s.hooks.close() }

// Default retry gaps of a failed webhook delivery. Lever is said to retry up
// to 5 times with growing gaps; the gaps themselves are UNCONFIRMED.
var defaultRetryDelays = []int{60, 300, 1800, 7200, 28800}

func withDefaults(in simclient.LeverSettings) simclient.LeverSettings {
	if in.Audience == "" {
		in.Audience = "https://api.lever.co/v1/"
	}
	if in.RateLimitPerSecond <= 0 {
		in.RateLimitPerSecond = 10
	}
	if in.RateLimitBurst <= 0 {
		in.RateLimitBurst = 20
	}
	if in.AccessTokenSeconds <= 0 {
		in.AccessTokenSeconds = 3600
	}
	if in.RefreshInactivityDays <= 0 {
		in.RefreshInactivityDays = 90
	}
	if in.RefreshLifetimeDays <= 0 {
		in.RefreshLifetimeDays = 365
	}
	if in.InvalidGrantStatus == 0 {
		in.InvalidGrantStatus = http.StatusForbidden
	}
	if len(in.WebhookRetryDelaysSeconds) == 0 {
		in.WebhookRetryDelaysSeconds = append([]int(nil), defaultRetryDelays...)
	}
	if len(in.WebhookRetryDelaysSeconds) > 5 {
		in.WebhookRetryDelaysSeconds = in.WebhookRetryDelaysSeconds[:5]
	}
	if in.WebhookTimeoutMs <= 0 {
		in.WebhookTimeoutMs = 10_000
	}
	return in
}

// Settings returns the current settings.
func (s *Service) Settings() simclient.LeverSettings {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.settings
	out.WebhookRetryDelaysSeconds = append([]int(nil), s.settings.WebhookRetryDelaysSeconds...)
	return out
}

// SetSettings replaces the settings; zero fields take the default.
func (s *Service) SetSettings(in simclient.LeverSettings) simclient.LeverSettings {
	s.mu.Lock()
	s.settings = withDefaults(in)
	s.buckets = map[string]*bucket{}
	s.mu.Unlock()
	return s.Settings()
}

func (s *Service) nowMs() int64 { return s.clock.Now().UnixMilli() }

func ms(t time.Time) int64 { return t.UnixMilli() }
