package sending

import (
	"context"
	"fmt"
	"time"

	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// Exchange's sending limits per mailbox (providers.md §3.9), on top of
// Graph's request limits that every call shares.
const (
	MessagesPerMinute   = 30
	RecipientsPerDay    = 10_000
	day                 = 24 * time.Hour
	perMinuteWindowSpan = time.Minute
)

// MinuteQuota is the shared 30-messages-a-minute window of every mailbox
// (*ratelimit.Quota).
type MinuteQuota interface {
	Take(ctx context.Context, key string, n int64) (ratelimit.Decision, error)
	Refund(ctx context.Context, key string, n int64) error
}

// MinuteWindow is the window of the per-minute quota of perMinute
// messages (MessagesPerMinute, unless a simulator's limit is raised). Its
// slices are a second wide, so it errs strict by at most a second.
func MinuteWindow(perMinute int) ratelimit.Window {
	return ratelimit.Window{Max: int64(perMinute), Length: perMinuteWindowSpan, Buckets: 60}
}

// Limits decides when a mailbox's next message may go. The daily limits
// (the owner's message limit, Exchange's 10,000 recipients) and the
// minimum gap are counted from the messages' own send attempts in
// Postgres: exact, durable (a Redis that lost its data would otherwise let
// a mailbox cross a limit Exchange punishes with a day's block) and
// serialised already, since a mailbox sends one message at a time. The
// per-minute rate is a Redis quota shared by every replica.
type Limits struct {
	store     Store
	minute    MinuteQuota
	perMinute int
}

// NewLimits returns the limits; minute holds perMinute messages a minute
// (built with MinuteWindow(perMinute)).
func NewLimits(st Store, minute MinuteQuota, perMinute int) *Limits {
	return &Limits{store: st, minute: minute, perMinute: perMinute}
}

// decision is when a message may go, and if not now, why.
// usageExcept is the message the day's usage leaves out: m itself, as
// when it is sent again after a recovery its own earlier attempt is the
// one being repeated.
func usageExcept(m store.Message) string {
	if m.ID == "" {
		return "00000000-0000-0000-0000-000000000000"
	}
	return m.ID
}

type decision struct {
	at     time.Time
	reason string
	// took says the per-minute slot was taken (refund it if the send does
	// not happen).
	took bool
}

// nextWith returns the earliest time m may be sent from mb, taking its
// per-minute slot when that is now. u is the mailbox's usage of the day
// before now other than m (store.Turn's).
func (l *Limits) nextWith(ctx context.Context, mb store.Mailbox, m store.Message, u store.DayUsage, now time.Time) (decision, error) {
	except := usageExcept(m)
	since := now.Add(-day)
	at, reason := now, ""
	later := func(t time.Time, why string) {
		if t.After(at) {
			at, reason = t, why
		}
	}
	if limit := int64(mb.DailyMessageLimit); u.Messages+1 > limit {
		// The (messages+1-limit)-th oldest must leave the day first.
		first, err := l.store.NthAttemptSince(ctx, mb.ID, since, except, u.Messages-limit)
		if err != nil {
			return decision{}, err
		}
		later(first.Add(day), fmt.Sprintf("the mailbox's limit of %d messages a day is reached", limit))
	}
	if need := u.Recipients + int64(m.RecipientCount) - RecipientsPerDay; need > 0 {
		freed, err := l.store.RecipientsFreedAt(ctx, mb.ID, since, except, need)
		if err != nil {
			return decision{}, err
		}
		later(freed.Add(day), fmt.Sprintf("Exchange's limit of %d recipients a day is reached", RecipientsPerDay))
	}
	if u.Latest != nil && mb.MinGap > 0 {
		later(u.Latest.Add(mb.MinGap), "the mailbox's minimum gap between messages")
	}
	if at.After(now) {
		return decision{at: at, reason: reason}, nil
	}
	d, err := l.minute.Take(ctx, mb.ID, 1)
	if err != nil {
		return decision{}, fmt.Errorf("sending: per-minute quota: %w", err)
	}
	if !d.Allowed {
		return decision{at: now.Add(d.RetryAfter), reason: fmt.Sprintf("Exchange's limit of %d messages a minute", l.perMinute)}, nil
	}
	return decision{at: now, took: true}, nil
}

// refund gives back a per-minute slot that was not used.
func (l *Limits) refund(ctx context.Context, mailboxID string, d decision) error {
	if !d.took {
		return nil
	}
	return l.minute.Refund(ctx, mailboxID, 1)
}
