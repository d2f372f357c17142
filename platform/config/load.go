package config

import (
	"flag"
	"io"
	"net"
	"time"

	"github.com/tandemhq/tandem/platform/logging"
)

// Group is a set of settings registered and validated together: the
// shared groups below, platform/service's runtime settings, a binary's own.
type Group interface {
	// Register adds the group's flags to fs.
	Register(fs *flag.FlagSet)
	// Validate records every bad setting of the group.
	Validate(p *Problems)
}

// Load is how every binary reads its configuration: it registers each
// group's flags and -print-config, parses args with TANDEM_* environment
// fallbacks, validates every group (reporting all problems at once), and,
// with -print-config, prints the effective values with secrets redacted.
// It returns the arguments after the flags (identity's command).
func Load(name string, args []string, out io.Writer, groups ...Group) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	for _, g := range groups {
		g.Register(fs)
	}
	printConfig := fs.Bool("print-config", false, "print the effective configuration (secrets redacted) and continue")
	if err := Parse(fs, args); err != nil {
		return nil, err
	}
	var p Problems
	for _, g := range groups {
		g.Validate(&p)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if *printConfig {
		Print(out, fs)
	}
	return fs.Args(), nil
}

// GroupFuncs makes a Group of two functions, for a binary's own settings.
type GroupFuncs struct {
	RegisterFunc func(fs *flag.FlagSet)
	ValidateFunc func(p *Problems)
}

// Register implements Group.
func (g GroupFuncs) Register(fs *flag.FlagSet) { g.RegisterFunc(fs) }

// Validate implements Group.
func (g GroupFuncs) Validate(p *Problems) {
	if g.ValidateFunc != nil {
		g.ValidateFunc(p)
	}
}

// CheckHostPort records a problem unless addr is host:port.
func CheckHostPort(p *Problems, flagName, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		p.Addf(flagName, "must be host:port")
	}
}

// Logging is -log-level and -log-format.
type Logging struct {
	LogLevel  string
	LogFormat string
}

// Register implements Group.
func (l *Logging) Register(fs *flag.FlagSet) {
	fs.StringVar(&l.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&l.LogFormat, "log-format", "json", "json or text")
}

// Validate implements Group.
func (l *Logging) Validate(p *Problems) {
	if _, err := logging.ParseLevel(l.LogLevel); err != nil {
		p.Addf("log-level", "must be debug, info, warn or error")
	}
	if l.LogFormat != "json" && l.LogFormat != "text" {
		p.Addf("log-format", "must be json or text")
	}
}

// Telemetry is where traces and metrics go.
type Telemetry struct {
	OTLPEndpoint string
	OTLPInsecure bool
}

// Register implements Group.
func (t *Telemetry) Register(fs *flag.FlagSet) {
	fs.StringVar(&t.OTLPEndpoint, "otlp-endpoint", "", "OTLP/gRPC collector host:port; empty disables telemetry export")
	fs.BoolVar(&t.OTLPInsecure, "otlp-insecure", true, "talk to the collector without TLS")
}

// Validate implements Group; the exporter reports a bad endpoint itself.
func (t *Telemetry) Validate(*Problems) {}

// Shutdown is the graceful stop: readiness turns unavailable, requests are
// served for DrainDelay while load balancers notice, then in-flight ones
// get ShutdownTimeout to finish.
type Shutdown struct {
	DrainDelay      time.Duration
	ShutdownTimeout time.Duration
}

// Register implements Group.
func (s *Shutdown) Register(fs *flag.FlagSet) {
	fs.DurationVar(&s.DrainDelay, "drain-delay", 0, "how long readiness (gRPC health, the gateway's /readyz) says unavailable before the server stops taking requests")
	fs.DurationVar(&s.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "bound on the graceful stop")
}

// Validate implements Group.
func (s *Shutdown) Validate(p *Problems) {
	if s.ShutdownTimeout <= 0 {
		p.Addf("shutdown-timeout", "must be positive")
	}
	if s.DrainDelay < 0 {
		p.Addf("drain-delay", "must not be negative")
	}
}

// DefaultIdentityAddr is identity's gRPC address in the local stack.
const DefaultIdentityAddr = "127.0.0.1:9101"

// IdentityAddr registers -identity-addr on fs: where the gateway and every
// service find identity.
func IdentityAddr(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "identity-addr", DefaultIdentityAddr, "identity service gRPC address")
}

// DevServiceToken is the service token of the local stack, the default of
// every binary's -service-token. Each binary warns when it runs with it.
const DevServiceToken = "dev-service-token-not-for-production-use"

// MinServiceTokenLength is the shortest service token accepted: 32
// characters of a random string are well past guessing.
const MinServiceTokenLength = 32

// ServiceTokens is the shared secret Tandem services authenticate each
// other with. Current is sent and accepted; Previous is accepted too, so the
// secret can rotate without stopping everything. authz.ServiceTokens(t)
// turns it into the checker.
type ServiceTokens struct {
	Current  Secret
	Previous Secret
}

// Register implements Group: -service-token and -service-token-previous.
func (t *ServiceTokens) Register(fs *flag.FlagSet) {
	t.registerCurrent(fs)
	SecretFlag(fs, &t.Previous, "service-token-previous", "", "the service token being rotated out, still accepted")
}

func (t *ServiceTokens) registerCurrent(fs *flag.FlagSet) {
	SecretFlag(fs, &t.Current, "service-token", DevServiceToken, "shared secret Tandem services authenticate each other with")
}

// Validate implements Group.
func (t *ServiceTokens) Validate(p *Problems) {
	t.validateCurrent(p)
	if v := t.Previous.Value(); v != "" && len(v) < MinServiceTokenLength {
		p.Addf("service-token-previous", "must be at least %d characters, or empty", MinServiceTokenLength)
	}
}

func (t *ServiceTokens) validateCurrent(p *Problems) {
	if len(t.Current.Value()) < MinServiceTokenLength {
		p.Addf("service-token", "must be at least %d characters", MinServiceTokenLength)
	}
}

// Development reports whether the local stack's token is in use.
func (t *ServiceTokens) Development() bool { return t.Current.Value() == DevServiceToken }

// CallerOnly is the group of a binary that calls internal RPCs but serves
// none (the gateway): -service-token alone, as there is nothing to accept
// a previous token for.
func (t *ServiceTokens) CallerOnly() Group { return callerToken{t} }

type callerToken struct{ t *ServiceTokens }

func (c callerToken) Register(fs *flag.FlagSet) { c.t.registerCurrent(fs) }
func (c callerToken) Validate(p *Problems)      { c.t.validateCurrent(p) }
