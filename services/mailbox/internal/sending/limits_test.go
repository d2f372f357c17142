package sending

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// Two replicas share a mailbox's 30 messages a minute through Redis: of 40
// sends asked for at once, 30 may go.
func TestTwoReplicasShareThePerMinuteRate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	rdb := pgtest.NewRedis(t)
	prefix := pgtest.RedisPrefixCleaned(t, rdb)
	var replicas []*Limits
	for range 2 {
		q, err := ratelimit.NewQuota(rdb, redisx.ServiceKeys(prefix, "mailbox", "sent-per-minute"), MinuteWindow(MessagesPerMinute))
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, NewLimits(e.st, q, MessagesPerMinute))
	}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			d, err := replicas[i%2].next(e.ctx, mb, store.Message{RecipientCount: 1}, e.now())
			if err != nil {
				t.Error(err)
				return
			}
			if d.took {
				allowed.Add(1)
			} else if d.at.Sub(e.now()) <= 0 || d.reason == "" {
				t.Errorf("a refusal without a time or reason: %+v", d)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != MessagesPerMinute {
		t.Errorf("%d of 40 allowed in a minute, want %d", n, MessagesPerMinute)
	}
}

// The day's recipients and messages count what was attempted in the last
// 24 hours; a message that does not fit waits until enough of them have
// left the day.
func TestTheDailyLimitsWaitForTheDayToMoveOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{DailyMessageLimit: 25})
	now := e.now()
	// 20 messages of 490 recipients each, an hour apart, the first 23 hours ago.
	for i := range 20 {
		if _, err := e.pool.Exec(e.ctx, `INSERT INTO messages (id, org_id, mailbox_id, caller, idempotency_key, request_hash, state,
				to_recipients, cc_recipients, recipient_count, subject, html_body, send_after, draft_id, send_attempted_at, sent_at)
			VALUES (gen_random_uuid(), $1, $2, 'outreach', $3, '\x00', 'sent', '[]', '[]', 490, 's', 'b', $4, 'd', $4, $4)`,
			org, mb.ID, fmt.Sprintf("old-%d", i), now.Add(-23*time.Hour).Add(time.Duration(i)*time.Hour/2)); err != nil {
			t.Fatal(err)
		}
	}
	q, err := ratelimit.NewQuota(pgtest.NewRedis(t), redisx.ServiceKeys(pgtest.RedisPrefix(t), "mailbox", "sent-per-minute"), MinuteWindow(MessagesPerMinute))
	if err != nil {
		t.Fatal(err)
	}
	l := NewLimits(e.st, q, MessagesPerMinute)
	// 9,800 sent: 200 more fit, 300 do not until the first message (490)
	// leaves the day, 23 hours ago + 24 hours.
	d, err := l.next(e.ctx, mb, store.Message{RecipientCount: 200}, now)
	if err != nil || !d.took {
		t.Fatalf("200 recipients: %+v, %v", d, err)
	}
	d, err = l.next(e.ctx, mb, store.Message{RecipientCount: 300}, now)
	if err != nil || d.took || !d.at.Equal(now.Add(time.Hour)) || d.reason == "" {
		t.Fatalf("300 recipients: %+v, %v", d, err)
	}
	// The owner's limit: 20 messages in the day are all it allows, so the
	// next waits for the first to leave the day.
	mb.DailyMessageLimit = 20
	d, err = l.next(e.ctx, mb, store.Message{RecipientCount: 1}, now)
	if err != nil || !d.at.Equal(now.Add(time.Hour)) {
		t.Fatalf("daily message limit: %+v, %v", d, err)
	}
}

// next is nextWith over the usage read from the store, as store.Turn
// reads it.
func (l *Limits) next(ctx context.Context, mb store.Mailbox, m store.Message, now time.Time) (decision, error) {
	u, err := l.store.UsageSince(ctx, mb.ID, now.Add(-day), usageExcept(m))
	if err != nil {
		return decision{}, err
	}
	return l.nextWith(ctx, mb, m, u, now)
}
