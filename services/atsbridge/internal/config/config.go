// Package config holds atsbridge's own settings, a group for config.Load
// beside the runtime's, identity's and the events'.
package config

import (
	"flag"
	"net/url"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
)

// Settings are atsbridge's own flags (TANDEM_* fallbacks).
type Settings struct {
	// LeverURL is Lever's Data API host, without /v1.
	LeverURL string
	// LeverRatePerSecond and LeverBurst are each connection's budget at
	// Lever, shared by every replica: Lever allows about 10 a second with
	// bursts of 20 per token (providers.md §2.4).
	LeverRatePerSecond int
	LeverBurst         int
	// PushClaim is how long a worker owns the push it works: after a
	// crash, the push goes again once it runs out.
	PushClaim time.Duration
	// PushWorkers is how many pushes one replica works at once.
	PushWorkers int
	// WebhookBaseURL is the gateway's public base URL: Lever posts to
	// <base>/webhooks/lever/<connection id> (empty: no webhooks are
	// registered, the reconcile alone syncs from Lever).
	WebhookBaseURL string
	// KeyRing holds atsbridge's key-encryption keys ("id:base64,..."; the
	// first wraps new data keys); they seal the webhooks' signature tokens
	// (ADR 25).
	KeyRing config.Secret
}

// DevKeyRing is the development key ring: never for production.
const DevKeyRing = "atsdev1:YXRzYnJpZGdlLWRldi1rZXktbm90LWZvci1wcm9kISE="

// Ring parses the key ring; the first key is the primary.
func (s *Settings) Ring() (*envelope.KeyRing, error) {
	first, _, _ := strings.Cut(s.KeyRing.Value(), ":")
	return envelope.ParseKeyRing(s.KeyRing.Value(), strings.TrimSpace(first))
}

// Register implements config.Group.
func (s *Settings) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.LeverURL, "lever-url", "http://127.0.0.1:9204", "Lever's Data API base URL without /v1 ("+lever.DefaultBaseURL+")")
	fs.IntVar(&s.LeverRatePerSecond, "lever-rate", 10, "requests a second each Lever connection may make, across replicas")
	// 15, below Lever's 20: requests timed to this bucket reach Lever's a
	// little early or late, and a full burst would then meet a 429.
	fs.IntVar(&s.LeverBurst, "lever-burst", 15, "requests a Lever connection may make at once after a pause (Lever allows 20)")
	fs.DurationVar(&s.PushClaim, "push-claim", 2*time.Minute, "how long a worker owns the push it works; a push of a crashed worker goes again after it")
	fs.IntVar(&s.PushWorkers, "push-workers", 20, "pushes to the ATS one replica works at once")
	fs.StringVar(&s.WebhookBaseURL, "webhook-base-url", "", "the gateway's public base URL Lever posts webhooks to (https:// in production; empty: none registered)")
	config.SecretFlag(fs, &s.KeyRing, "key-ring", DevKeyRing, "key-encryption keys sealing the webhooks' signature tokens, id:base64(32 bytes),...")
}

// Validate implements config.Group.
func (s *Settings) Validate(p *config.Problems) {
	if u, err := url.Parse(s.LeverURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		p.Addf("lever-url", "must be an absolute http(s) URL without a query")
	}
	if s.LeverRatePerSecond < 1 || s.LeverRatePerSecond > 1000 {
		p.Addf("lever-rate", "must be between 1 and 1000")
	}
	if s.LeverBurst < 1 || s.LeverBurst > 1000 {
		p.Addf("lever-burst", "must be between 1 and 1000")
	}
	if s.PushClaim < 4*time.Second || s.PushClaim > time.Hour {
		p.Addf("push-claim", "must be between 4s and 1h")
	}
	if s.PushWorkers < 1 || s.PushWorkers > 1000 {
		p.Addf("push-workers", "must be between 1 and 1000")
	}
	if s.WebhookBaseURL != "" {
		if u, err := url.Parse(s.WebhookBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			p.Addf("webhook-base-url", "must be an absolute http(s) URL without a query (https://tandem.example.com)")
		}
	}
	if _, err := s.Ring(); err != nil {
		p.Addf("key-ring", "%v", err) // names key ids, never key material
	}
}
