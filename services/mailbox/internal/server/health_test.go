package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/ratelimit"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/sending"
	"github.com/tandemhq/tandem/services/mailbox/internal/server"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// budget is the Graph request limiter's Peek.
type budget struct {
	key string
	err error
}

func (b *budget) Peek(_ context.Context, key string) (ratelimit.Budget, error) {
	b.key = key
	return ratelimit.Budget{Burst: 100, Available: 60, Used: 40}, b.err
}

type healthSending struct{ *fakeSending }

func (healthSending) Health(_ context.Context, mb store.Mailbox) (sending.Health, error) {
	return sending.Health{Mailbox: mb, QueueDepth: 2, PerMinute: 30, SentLastMinute: 4}, nil
}

func TestHealthSaysRecoveredLastSuccessAndBudget(t *testing.T) {
	sent, fetched, recovered := time.Unix(1700000000, 0), time.Unix(1700000500, 0), time.Unix(1700000900, 0)
	mb := store.Mailbox{ID: "mb-1", OrgID: "org-a", UserID: "u1", Status: store.StatusConnected,
		LastSentAt: &sent, AddressesFetchedAt: &fetched, RecoveredAt: &recovered}
	b := &budget{}
	s := server.New(server.Domain{Sending: healthSending{&fakeSending{}}, Mailboxes: fakeMailboxes{mb}, Requests: b})
	ctx := authz.WithPrincipal(t.Context(), authz.Principal{Kind: authz.KindUser, OrgID: "org-a", UserID: "u1", Role: authz.RoleRecruiter})
	get := func() *mailboxv1.MailboxHealth {
		t.Helper()
		got, err := s.GetMailboxHealth(ctx, &mailboxv1.GetMailboxHealthRequest{MailboxId: "mb-1"})
		if err != nil {
			t.Fatal(err)
		}
		return got.GetHealth()
	}
	h := get()
	if b.key != "mb-1" || h.RequestBudgetAvailable == nil || h.GetRequestBudgetAvailable() != 60 || h.GetRequestBudgetUsed() != 40 ||
		h.GetSentLastMinute() != 4 || h.GetQueueDepth() != 2 || !h.GetRecoveredTime().AsTime().Equal(recovered) ||
		!h.GetLastSuccessTime().AsTime().Equal(fetched) {
		t.Fatalf("health %v", h)
	}
	list, err := s.ListMailboxes(ctx, &mailboxv1.ListMailboxesRequest{})
	if err != nil || len(list.GetMailboxes()) != 1 || list.GetMailboxes()[0].GetRequestBudgetUsed() != 40 || list.GetMailboxes()[0].GetLastSuccessTime() == nil {
		t.Fatalf("list %v, %v", list, err)
	}
	b.err = errors.New("redis is down")
	if h := get(); h.RequestBudgetAvailable != nil || h.GetQueueDepth() != 2 {
		t.Fatalf("without the limiter: %v", h)
	}
}
