// Package config is the gateway binary's configuration.
package config

import (
	"flag"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/logging"
)

// Config is everything the gateway reads at start.
type Config struct {
	HTTPAddr        string
	IdentityAddr    string
	OutreachAddr    string
	AtsBridgeAddr   string
	MailboxAddr     string
	OTLPEndpoint    string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	ReadyTimeout    time.Duration
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
	// ServiceToken authenticates the gateway's own calls to internal RPCs
	// (the OAuth routes).
	ServiceToken config.Secret
}

// DevServiceToken is the local default; production sets its own.
const DevServiceToken = authz.DevServiceToken

// Load parses args (with TANDEM_* environment fallbacks) and validates.
func Load(args []string, out io.Writer) (*Config, error) {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	var c Config
	fs.StringVar(&c.HTTPAddr, "http-addr", ":8080", "REST listen address")
	fs.StringVar(&c.IdentityAddr, "identity-addr", "127.0.0.1:9101", "identity service gRPC address")
	fs.StringVar(&c.OutreachAddr, "outreach-addr", "127.0.0.1:9102", "outreach service gRPC address")
	fs.StringVar(&c.AtsBridgeAddr, "atsbridge-addr", "127.0.0.1:9103", "atsbridge service gRPC address")
	fs.StringVar(&c.MailboxAddr, "mailbox-addr", "127.0.0.1:9104", "mailbox service gRPC address")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "OTLP/gRPC collector host:port; empty disables telemetry export")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "json or text")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "bound on the graceful stop")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 0, "how long /readyz answers 503 before the server stops taking requests")
	fs.DurationVar(&c.ReadyTimeout, "ready-timeout", time.Second, "bound on each upstream health check in /readyz")
	fs.Int64Var(&c.MaxBodyBytes, "http-max-body-bytes", 1<<20, "largest request body accepted (413 above it); webhook routes set their own")
	fs.DurationVar(&c.BodyTimeout, "http-body-timeout", 30*time.Second, "how long a request's body may take to arrive (408 after it)")
	fs.DurationVar(&c.WriteTimeout, "http-write-timeout", 60*time.Second, "bound on a request from the end of its headers to the end of its response")
	fs.DurationVar(&c.IdleTimeout, "http-idle-timeout", 120*time.Second, "how long a kept-alive connection may wait for its next request")
	fs.StringVar(&c.PublicURL, "public-url", "http://localhost:8080", "where browsers reach the gateway (https:// in production)")
	corsOrigins := fs.String("cors-origins", "", "comma-separated browser origins (https://app.example.com) allowed to call the REST API; empty allows none")
	config.SecretFlag(fs, &c.ServiceToken, "service-token", DevServiceToken, "shared secret Tandem services authenticate each other with")
	printConfig := fs.Bool("print-config", false, "print the effective configuration and continue")
	if err := config.Parse(fs, args); err != nil {
		return nil, err
	}
	var p config.Problems
	for name, addr := range map[string]string{"http-addr": c.HTTPAddr, "identity-addr": c.IdentityAddr, "outreach-addr": c.OutreachAddr, "atsbridge-addr": c.AtsBridgeAddr, "mailbox-addr": c.MailboxAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			p.Addf(name, "must be host:port")
		}
	}
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		p.Addf("log-level", "must be debug, info, warn or error")
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		p.Addf("log-format", "must be json or text")
	}
	if c.ShutdownTimeout <= 0 {
		p.Addf("shutdown-timeout", "must be positive")
	}
	if len(c.ServiceToken.Value()) < 32 {
		p.Addf("service-token", "must be at least 32 characters")
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
	for name, d := range map[string]time.Duration{"http-body-timeout": c.BodyTimeout, "http-write-timeout": c.WriteTimeout, "http-idle-timeout": c.IdleTimeout} {
		if d <= 0 {
			p.Addf(name, "must be positive")
		}
	}
	if c.DrainDelay < 0 {
		p.Addf("drain-delay", "must not be negative")
	}
	for _, o := range strings.Split(*corsOrigins, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !isOrigin(o) {
			p.Addf("cors-origins", "%q is not an origin (scheme://host[:port], nothing after)", o)
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if *printConfig {
		config.Print(out, fs)
	}
	return &c, nil
}

// isOrigin reports whether s is an http(s) origin as browsers send it:
// scheme and host, no path, query, fragment or user.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil && !strings.HasSuffix(s, "/")
}
