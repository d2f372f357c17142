// Package config is the identity binary's configuration.
package config

import (
	"flag"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/service"
)

// DefaultGRPCAddr is the identity service's port in the local stack.
const DefaultGRPCAddr = "127.0.0.1:9101"

// Development defaults: they make `make run` work with no setup and must be
// replaced in production (the binary warns when they are in use).
const (
	DevKeyRing      = "dev1:ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZHVjdGk="
	DevServiceToken = config.DevServiceToken
)

// Config is everything the identity binary reads at start.
type Config struct {
	Service service.Config
	// KeyRing holds the key-encryption keys ("id:base64,...").
	KeyRing        config.Secret
	KeyRingPrimary string
	// ServiceTokens authenticate Tandem services to each other; Previous
	// is accepted too, during a rotation.
	ServiceTokens config.ServiceTokens

	MicrosoftAuthority    string
	MicrosoftTenant       string
	MicrosoftClientID     string
	MicrosoftClientSecret config.Secret

	LeverAuthorizeURL string
	LeverClientID     string
	LeverAudience     string

	// PublicURL is where browsers reach the gateway (redirect URIs).
	PublicURL string
	// FrontendURL receives one-time codes; empty uses the gateway's page.
	FrontendURL string

	AccessTokenTTL     time.Duration
	RefreshTokenTTL    time.Duration
	VaultRefreshBefore time.Duration
	IdleRefreshAfter   time.Duration
	// CheckConnectionsEvery is how often every connected connection's
	// credentials are checked (and restored from Postgres after a Redis
	// loss), so a status never claims what is not there for longer.
	CheckConnectionsEvery time.Duration
	// RevocationRestoreEvery is how often the revocation set in Redis is
	// written again from Postgres.
	RevocationRestoreEvery time.Duration

	// Events names the services that receive identity's events (the
	// mailbox service gets mailbox.*).
	Events events.Config

	// Command is "serve" (default) or "rotate-keys".
	Command string
}

// Load parses args (with TANDEM_* environment fallbacks) and validates,
// through config.Load like every binary.
func Load(args []string, out io.Writer) (*Config, error) {
	var c Config
	rest, err := config.Load("identity", args, out,
		c.Service.Settings(DefaultGRPCAddr), &c.ServiceTokens, &c.Events,
		config.GroupFuncs{RegisterFunc: c.register, ValidateFunc: c.validate})
	if err != nil {
		return nil, err
	}
	c.Command = "serve"
	if len(rest) > 0 {
		c.Command = rest[0]
	}
	var p config.Problems
	if c.Command != "serve" && c.Command != "rotate-keys" {
		p.Addf("command", "unknown command %q (serve, rotate-keys)", c.Command)
	}
	if len(rest) > 1 {
		// Flags stop at the command; "rotate-keys -h" must not rotate.
		p.Addf("command", "%s takes no arguments, and flags go before it: %q", c.Command, rest[1:])
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) register(fs *flag.FlagSet) {
	config.SecretFlag(fs, &c.KeyRing, "key-ring", DevKeyRing, "key-encryption keys, id:base64(32 bytes),...")
	fs.StringVar(&c.KeyRingPrimary, "key-ring-primary", "", "id of the key that wraps new data keys (default: the first)")
	fs.StringVar(&c.MicrosoftAuthority, "microsoft-authority", "http://127.0.0.1:9201", "Microsoft identity platform base URL (https://login.microsoftonline.com)")
	fs.StringVar(&c.MicrosoftTenant, "microsoft-tenant", "organizations", "authority tenant for sign-in")
	fs.StringVar(&c.MicrosoftClientID, "microsoft-client-id", "tandem-local", "the app's client id")
	config.SecretFlag(fs, &c.MicrosoftClientSecret, "microsoft-client-secret", "tandem-local-secret", "the app's client secret")
	fs.StringVar(&c.LeverAuthorizeURL, "lever-authorize-url", "http://127.0.0.1:9205/authorize", "Lever's OAuth authorize endpoint")
	fs.StringVar(&c.LeverClientID, "lever-client-id", "tandem-local", "Tandem's Lever client id")
	fs.StringVar(&c.LeverAudience, "lever-audience", "https://api.lever.co/v1/", "Lever API audience (trailing slash matters)")
	fs.StringVar(&c.PublicURL, "public-url", "http://localhost:8080", "the gateway's external base URL")
	fs.StringVar(&c.FrontendURL, "frontend-url", "", "the frontend's base URL; empty uses the gateway's built-in pages")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", 10*time.Minute, "lifetime of session access tokens")
	fs.DurationVar(&c.RefreshTokenTTL, "refresh-token-ttl", 30*24*time.Hour, "lifetime of session refresh tokens")
	fs.DurationVar(&c.VaultRefreshBefore, "vault-refresh-before", 5*time.Minute, "refresh provider access tokens this long before they expire")
	fs.DurationVar(&c.RevocationRestoreEvery, "revocation-restore-every", 5*time.Second, "how often the revocation set in Redis is rewritten from Postgres (bounds how long a revocation Redis lost is missing)")
	fs.DurationVar(&c.IdleRefreshAfter, "idle-refresh-after", 7*24*time.Hour, "refresh connections idle this long, before their refresh tokens age out")
	fs.DurationVar(&c.CheckConnectionsEvery, "check-connections-every", 10*time.Minute, "how often every connected connection's credentials are checked, and restored after a Redis loss")
}

func (c *Config) validate(p *config.Problems) {
	if c.KeyRing.Value() == "" {
		p.Addf("key-ring", "is required")
	} else {
		// As the binary reads it: the primary defaults to the first key.
		first, _, _ := strings.Cut(c.KeyRing.Value(), ":")
		if _, err := envelope.ParseKeyRing(c.KeyRing.Value(), first); err != nil {
			p.Addf("key-ring", "%v", err) // names key ids, never key material
		} else if c.KeyRingPrimary != "" {
			if _, err := envelope.ParseKeyRing(c.KeyRing.Value(), c.KeyRingPrimary); err != nil {
				p.Addf("key-ring-primary", "must be the id of a key in the ring")
			}
		}
	}
	for name, v := range map[string]string{"microsoft-authority": c.MicrosoftAuthority, "public-url": c.PublicURL} {
		if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			p.Addf(name, "must be an absolute http(s) URL")
		}
	}
	if c.FrontendURL != "" {
		if u, err := url.Parse(c.FrontendURL); err != nil || u.Host == "" {
			p.Addf("frontend-url", "must be an absolute URL")
		}
	}
	if c.MicrosoftClientID == "" {
		p.Addf("microsoft-client-id", "is required")
	}
	if c.MicrosoftClientSecret.Value() == "" {
		p.Addf("microsoft-client-secret", "is required")
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > time.Hour {
		p.Addf("access-token-ttl", "must be between 1m and 1h")
	}
	if c.RefreshTokenTTL < time.Hour {
		p.Addf("refresh-token-ttl", "must be at least 1h")
	}
	if c.CheckConnectionsEvery <= 0 {
		p.Addf("check-connections-every", "must be positive")
	}
	if c.IdleRefreshAfter <= 0 {
		p.Addf("idle-refresh-after", "must be positive")
	}
	if c.RevocationRestoreEvery < 100*time.Millisecond || c.RevocationRestoreEvery > time.Minute {
		p.Addf("revocation-restore-every", "must be between 100ms and 1m")
	}
	if c.LeverAuthorizeURL != "" {
		if u, err := url.Parse(c.LeverAuthorizeURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			p.Addf("lever-authorize-url", "must be an absolute http(s) URL")
		}
	}
	if c.VaultRefreshBefore < 0 {
		p.Addf("vault-refresh-before", "must not be negative")
	}
}
