package subscriptions

import (
	"flag"
	"net/url"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/config"
)

// Paths of the gateway's Graph routes (gateway/internal/webhooks).
const (
	notificationPath = "/webhooks/graph"
	lifecyclePath    = "/webhooks/graph/lifecycle"
)

// Config is the inbound side's settings, a group for config.Load.
type Config struct {
	// WebhookBaseURL is where Graph reaches the gateway from the internet
	// (https://tandem.example.com); the subscriptions' notification URLs
	// are built on it.
	WebhookBaseURL string
	// CatchUpEvery is how often every watched Inbox is caught up by delta,
	// whatever the notifications said.
	CatchUpEvery time.Duration
	// RenewBefore is how long before expiry a subscription is renewed.
	RenewBefore time.Duration
}

// Register implements config.Group.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.WebhookBaseURL, "webhook-base-url", "http://localhost:8080", "the gateway's public base URL Graph posts notifications to (https:// in production)")
	fs.DurationVar(&c.CatchUpEvery, "inbound-catch-up-every", 5*time.Minute, "how often each watched Inbox is caught up by delta query")
	fs.DurationVar(&c.RenewBefore, "subscription-renew-before", 24*time.Hour, "renew a Graph subscription this long before it expires")
}

// Validate implements config.Group.
func (c *Config) Validate(p *config.Problems) {
	u, err := url.Parse(c.WebhookBaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		p.Addf("webhook-base-url", "must be an absolute http(s) URL without a query (https://tandem.example.com)")
	}
	if c.CatchUpEvery < time.Second || c.CatchUpEvery > 24*time.Hour {
		p.Addf("inbound-catch-up-every", "must be between 1s and 24h")
	}
	if c.RenewBefore < time.Minute || c.RenewBefore > 6*24*time.Hour {
		p.Addf("subscription-renew-before", "must be between 1m and 144h (subscriptions live at most 7 days)")
	}
}

// NotificationURL is the change-notification URL subscriptions name.
func (c Config) NotificationURL() string {
	return strings.TrimRight(c.WebhookBaseURL, "/") + notificationPath
}

// LifecycleURL is their lifecycle-notification URL.
func (c Config) LifecycleURL() string {
	return strings.TrimRight(c.WebhookBaseURL, "/") + lifecyclePath
}
