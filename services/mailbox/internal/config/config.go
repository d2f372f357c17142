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
	"github.com/tandemhq/tandem/services/mailbox/internal/sending"
)

// Settings are the mailbox service's own flags (TANDEM_* fallbacks).
type Settings struct {
	// GraphURL is Microsoft Graph's root, without the version.
	GraphURL string
	// DefaultDailyMessageLimit and DefaultMinGap are the sending settings
	// a mailbox starts with.
	DefaultDailyMessageLimit int
	DefaultMinGap            time.Duration
	// ConfirmAfter is how long after a send attempt a message that still
	// reads as a draft in Graph is taken not to have left (ADR 19).
	ConfirmAfter time.Duration
	// SendJobTimeout bounds one run of a send job; RescueAfter is when River
	// runs again a job whose process died (it must exceed SendJobTimeout).
	SendJobTimeout time.Duration
	RescueAfter    time.Duration
	// MessagesPerMinute is Exchange's rate per mailbox; raise it only
	// against a simulator whose limit is raised too (benchmarks).
	MessagesPerMinute int
}

// Register implements config.Group.
func (s *Settings) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.GraphURL, "graph-url", graph.DefaultBaseURL, "Microsoft Graph's base URL without the version (https://graph.microsoft.com)")
	fs.IntVar(&s.DefaultDailyMessageLimit, "mailbox-daily-limit", mailboxes.DefaultDailyMessageLimit, "messages a new mailbox may send in 24 hours")
	fs.DurationVar(&s.DefaultMinGap, "mailbox-min-gap", mailboxes.DefaultMinGap, "shortest time between two messages of a new mailbox")
	fs.DurationVar(&s.ConfirmAfter, "send-confirm-after", 2*time.Minute, "how long a sent draft may still read as a draft before it is taken not to have left")
	fs.DurationVar(&s.SendJobTimeout, "send-job-timeout", time.Minute, "longest run of one send job")
	fs.DurationVar(&s.RescueAfter, "stuck-job-rescue-after", 3*time.Minute, "when a job whose process died is run again")
	fs.IntVar(&s.MessagesPerMinute, "messages-per-minute", sending.MessagesPerMinute, "messages a mailbox may send a minute (Exchange's limit; raise only against a simulator)")
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
	if s.ConfirmAfter < time.Second || s.ConfirmAfter > time.Hour {
		p.Addf("send-confirm-after", "must be between 1s and 1h")
	}
	if s.SendJobTimeout < 5*time.Second || s.SendJobTimeout > 10*time.Minute {
		p.Addf("send-job-timeout", "must be between 5s and 10m")
	}
	if s.MessagesPerMinute < 1 || s.MessagesPerMinute > 100_000 {
		p.Addf("messages-per-minute", "must be between 1 and 100000")
	}
	if s.RescueAfter <= s.SendJobTimeout {
		p.Addf("stuck-job-rescue-after", "must be longer than send-job-timeout")
	}
}
