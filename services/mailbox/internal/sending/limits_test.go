package sending

import (
	"sync"
	"sync/atomic"
	"testing"

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
			d, err := replicas[i%2].next(e.ctx, mb, store.Message{RecipientCount: 1}, e.now(), false)
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
