// Package config is the gateway binary's configuration.
package config

import (
	"flag"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/config"
)

// Config is everything the gateway reads at start. Logging, telemetry,
// shutdown, -identity-addr and -service-token are platform/config's shared
// settings, registered and validated there for every binary.
type Config struct {
	HTTPAddr      string
	IdentityAddr  string
	OutreachAddr  string
	AtsBridgeAddr string
	MailboxAddr   string
	ReadyTimeout  time.Duration
	// PublicURL is where browsers reach the gateway; over HTTPS the OAuth
	// binding cookie is Secure and __Host- named.
	PublicURL string
	// CORSOrigins are the browser origins allowed to call the API.
	CORSOrigins []string
	// MaxBodyBytes caps a request body; BodyTimeout bounds reading it;
	// WriteTimeout and IdleTimeout are the HTTP server's.
	MaxBodyBytes int64
	BodyTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// RequestTimeout is every route's deadline after its body has arrived.
	RequestTimeout time.Duration
	// ServiceTokens.Current authenticates the gateway's own calls to
	// internal RPCs (the OAuth routes). The gateway serves no internal RPC,
	// so it has no -service-token-previous.
	ServiceTokens config.ServiceTokens
	config.Logging
	config.Telemetry
	config.Shutdown

	corsOrigins string
}

// DevServiceToken is the local default; production sets its own.
const DevServiceToken = config.DevServiceToken

// Load parses args (with TANDEM_* environment fallbacks) and validates.
func Load(args []string, out io.Writer) (*Config, error) {
	var c Config
	if _, err := config.Load("gateway", args, out,
		config.GroupFuncs{RegisterFunc: c.register, ValidateFunc: c.validate},
		c.ServiceTokens.CallerOnly(), &c.Logging, &c.Telemetry, &c.Shutdown,
	); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "REST listen address")
	config.IdentityAddr(fs, &c.IdentityAddr)
	fs.StringVar(&c.OutreachAddr, "outreach-addr", "127.0.0.1:9102", "outreach service gRPC address")
	fs.StringVar(&c.AtsBridgeAddr, "atsbridge-addr", "127.0.0.1:9103", "atsbridge service gRPC address")
	fs.StringVar(&c.MailboxAddr, "mailbox-addr", "127.0.0.1:9104", "mailbox service gRPC address")
	fs.DurationVar(&c.ReadyTimeout, "ready-timeout", time.Second, "bound on each upstream health check in /readyz")
	fs.Int64Var(&c.MaxBodyBytes, "http-max-body-bytes", 1<<20, "largest request body accepted (413 above it); webhook routes set their own")
	fs.DurationVar(&c.BodyTimeout, "http-body-timeout", 30*time.Second, "how long a request's body may take to arrive (408 after it)")
	fs.DurationVar(&c.WriteTimeout, "http-write-timeout", 60*time.Second, "bound on a request from the end of its headers to the end of its response")
	fs.DurationVar(&c.RequestTimeout, "http-request-timeout", 30*time.Second, "deadline of every request once its body has arrived (504 after it); below http-write-timeout")
	fs.DurationVar(&c.IdleTimeout, "http-idle-timeout", 120*time.Second, "how long a kept-alive connection may wait for its next request")
	fs.StringVar(&c.PublicURL, "public-url", "http://localhost:8080", "where browsers reach the gateway (https:// in production)")
	fs.StringVar(&c.corsOrigins, "cors-origins", "", "comma-separated browser origins (https://app.example.com) allowed to call the REST API; empty allows none")
}

func (c *Config) validate(p *config.Problems) {
	for _, a := range []struct{ name, addr string }{
		{"http-addr", c.HTTPAddr}, {"identity-addr", c.IdentityAddr}, {"outreach-addr", c.OutreachAddr},
		{"atsbridge-addr", c.AtsBridgeAddr}, {"mailbox-addr", c.MailboxAddr},
	} {
		config.CheckHostPort(p, a.name, a.addr)
	}
	if c.ReadyTimeout <= 0 {
		p.Addf("ready-timeout", "must be positive")
	}
	if !isOrigin(c.PublicURL) {
		p.Addf("public-url", "must be an http(s) URL with no path (https://tandem.example.com)")
	}
	if c.MaxBodyBytes <= 0 {
		p.Addf("http-max-body-bytes", "must be positive")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"http-body-timeout", c.BodyTimeout}, {"http-write-timeout", c.WriteTimeout}, {"http-idle-timeout", c.IdleTimeout}, {"http-request-timeout", c.RequestTimeout}} {
		if d.d <= 0 {
			p.Addf(d.name, "must be positive")
		}
	}
	if c.RequestTimeout >= c.WriteTimeout && c.WriteTimeout > 0 {
		p.Addf("http-request-timeout", "must be below http-write-timeout, or its 504 cannot be written")
	}
	for _, o := range strings.Split(c.corsOrigins, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !isOrigin(o) {
			p.Addf("cors-origins", "%q is not an origin (scheme://host[:port], nothing after)", o)
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
}

// isOrigin reports whether s is an http(s) origin as browsers send it:
// scheme and host, no path, query, fragment or user.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil && !strings.HasSuffix(s, "/")
}
