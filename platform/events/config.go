package events

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tandemhq/tandem/platform/config"
)

// Flags of a publishing service, with their TANDEM_* fallbacks.
const (
	SubscribersFlag = "event-subscribers"
	RoutesFlag      = "event-routes"
)

// Environment variables (and flags) a service reads its subscribers from.
const (
	// SubscribersEnv lists where each subscriber's gRPC server is:
	// "atsbridge=localhost:9103,mailbox=localhost:9104". The address is any
	// gRPC target (dns:///atsbridge.tandem.svc:9103 too).
	SubscribersEnv = "TANDEM_EVENT_SUBSCRIBERS"
	// RoutesEnv lists the event types each subscriber receives:
	// "atsbridge=candidate.stage_changed|note.created,mailbox=enrollment.*".
	// A pattern is an exact type, "prefix.*" or "*".
	RoutesEnv = "TANDEM_EVENT_ROUTES"
)

// Config is the settings group of a publishing service: pass it to the
// config loader with the service's other groups, then give Subscribers to
// NewDelivery and NewPublisher.
type Config struct {
	// Targets is the value of SubscribersEnv, Routes of RoutesEnv.
	Targets string
	Routes  string
}

// Register adds -event-subscribers and -event-routes.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Targets, SubscribersFlag, "", "services this one publishes events to, name=gRPC address, comma-separated")
	fs.StringVar(&c.Routes, RoutesFlag, "", "event types each subscriber receives, name=type|prefix.*|*, comma-separated")
}

// Validate records a configuration ParseSubscribers refuses.
func (c *Config) Validate(p *config.Problems) {
	if _, err := c.Subscribers(); err != nil {
		p.Addf(SubscribersFlag, "%v", err)
	}
}

// Subscribers parses the configuration.
func (c *Config) Subscribers() ([]Subscriber, error) { return ParseSubscribers(c.Targets, c.Routes) }

// Subscriber is a service that receives some of the events a publisher
// publishes.
type Subscriber struct {
	// Name is the subscriber service's name (atsbridge).
	Name string
	// Target is its gRPC address.
	Target string
	// Types are the patterns of the event types it receives.
	Types []string
}

// Wants reports whether the subscriber receives events of eventType.
func (s Subscriber) Wants(eventType string) bool {
	for _, p := range s.Types {
		switch {
		case p == "*":
			return true
		case strings.HasSuffix(p, ".*"):
			if strings.HasPrefix(eventType, strings.TrimSuffix(p, "*")) {
				return true
			}
		case p == eventType:
			return true
		}
	}
	return false
}

var (
	subscriberName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	eventType      = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	typePattern    = regexp.MustCompile(`^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$`)
)

// ErrConfig is wrapped by every error ParseSubscribers returns.
var ErrConfig = errors.New("events: bad subscriber configuration")

// ParseSubscribers reads the values of SubscribersEnv and RoutesEnv. Both
// empty is a service that publishes to nobody. Every subscriber needs a
// route and every route a subscriber, so a typo fails at start instead of
// silently dropping a subscriber's events.
func ParseSubscribers(subscribers, routes string) ([]Subscriber, error) {
	targets, err := parseList(subscribers, SubscribersEnv)
	if err != nil {
		return nil, err
	}
	types, err := parseList(routes, RoutesEnv)
	if err != nil {
		return nil, err
	}
	var out []Subscriber
	for _, name := range sortedKeys(targets) {
		target := targets[name]
		if strings.ContainsAny(target, " \t") {
			return nil, fmt.Errorf("%w: %s: %s has a blank in its address", ErrConfig, SubscribersEnv, name)
		}
		route, ok := types[name]
		if !ok {
			return nil, fmt.Errorf("%w: %s names %s, which %s gives no event types", ErrConfig, SubscribersEnv, name, RoutesEnv)
		}
		var patterns []string
		for p := range strings.SplitSeq(route, "|") {
			p = strings.TrimSpace(p)
			if !typePattern.MatchString(p) {
				return nil, fmt.Errorf("%w: %s: %q is not an event type or pattern (candidate.stage_changed, candidate.*, *)", ErrConfig, RoutesEnv, p)
			}
			if !slices.Contains(patterns, p) {
				patterns = append(patterns, p)
			}
		}
		out = append(out, Subscriber{Name: name, Target: target, Types: patterns})
	}
	for name := range types {
		if _, ok := targets[name]; !ok {
			return nil, fmt.Errorf("%w: %s routes events to %s, which %s gives no address", ErrConfig, RoutesEnv, name, SubscribersEnv)
		}
	}
	return out, nil
}

// parseList reads "name=value,name=value".
func parseList(s, env string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimSpace(s)
	if s == "" {
		return out, nil
	}
	for entry := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(entry), "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || value == "" {
			return nil, fmt.Errorf("%w: %s: %q is not name=value", ErrConfig, env, entry)
		}
		if !subscriberName.MatchString(name) {
			return nil, fmt.Errorf("%w: %s: %q is not a service name", ErrConfig, env, name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%w: %s names %s twice", ErrConfig, env, name)
		}
		out[name] = value
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
