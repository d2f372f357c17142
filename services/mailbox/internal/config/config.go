// Package config holds the mailbox service's own settings, a group for
// config.Load beside the runtime's, identity's and the events'.
package config

import (
	"flag"
	"net/url"
	"time"

	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/mailboxes"
)

// Settings are the mailbox service's own flags (TANDEM_* fallbacks).
type Settings struct {
	// GraphURL is Microsoft Graph's root, without the version.
	GraphURL string
	// DefaultDailyMessageLimit and DefaultMinGap are the sending settings
	// a mailbox starts with.
	DefaultDailyMessageLimit int
	DefaultMinGap            time.Duration
}

// Register implements config.Group.
func (s *Settings) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.GraphURL, "graph-url", graph.DefaultBaseURL, "Microsoft Graph's base URL without the version (https://graph.microsoft.com)")
	fs.IntVar(&s.DefaultDailyMessageLimit, "mailbox-daily-limit", mailboxes.DefaultDailyMessageLimit, "messages a new mailbox may send in 24 hours")
	fs.DurationVar(&s.DefaultMinGap, "mailbox-min-gap", mailboxes.DefaultMinGap, "shortest time between two messages of a new mailbox")
}

// Validate implements config.Group.
func (s *Settings) Validate(p *config.Problems) {
	if u, err := url.Parse(s.GraphURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		p.Addf("graph-url", "must be an absolute http(s) URL without a query")
	}
	if s.DefaultDailyMessageLimit < 1 || s.DefaultDailyMessageLimit > 10_000 {
		p.Addf("mailbox-daily-limit", "must be between 1 and 10000")
	}
	if s.DefaultMinGap < 0 || s.DefaultMinGap > time.Hour {
		p.Addf("mailbox-min-gap", "must be between 0 and 1h")
	}
}
