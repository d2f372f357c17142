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
type decision struct {
	at     time.Time
	reason string
	// took says the per-minute slot was taken (refund it if the send does
	// not happen).
	took bool
}

// next returns the earliest time m may be sent from mb, taking its
// per-minute slot when that is now. counted says m's own attempt is among
// the attempts already (a re-send after recovery).
func (l *Limits) next(ctx context.Context, mb store.Mailbox, m store.Message, now time.Time, counted bool) (decision, error) {
	attempts, err := l.store.AttemptsSince(ctx, mb.ID, now.Add(-day))
	if err != nil {
		return decision{}, err
	}
	if counted {
		attempts = without(attempts, m.SendAttemptedAt)
	}
	at, reason := now, ""
	later := func(t time.Time, why string) {
		if t.After(at) {
			at, reason = t, why
		}
	}
	if n, limit := len(attempts), mb.DailyMessageLimit; n+1 > limit {
		// The (n+1-limit)-th oldest must leave the day first.
		later(attempts[n-limit].At.Add(day), fmt.Sprintf("the mailbox's limit of %d messages a day is reached", limit))
	}
	total := 0
	for _, a := range attempts {
		total += a.Recipients
	}
	for i := 0; total+m.RecipientCount > RecipientsPerDay && i < len(attempts); i++ {
		total -= attempts[i].Recipients
		if total+m.RecipientCount <= RecipientsPerDay {
			later(attempts[i].At.Add(day), fmt.Sprintf("Exchange's limit of %d recipients a day is reached", RecipientsPerDay))
		}
	}
	if len(attempts) > 0 && mb.MinGap > 0 {
		later(attempts[len(attempts)-1].At.Add(mb.MinGap), "the mailbox's minimum gap between messages")
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

func without(list []store.AttemptRow, at *time.Time) []store.AttemptRow {
	if at == nil {
		return list
	}
	for i, a := range list {
		if a.At.Equal(*at) {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}
