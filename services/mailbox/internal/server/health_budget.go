package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/ratelimit"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
)

// RequestBudget reads a mailbox's Graph request budget without spending
// it; *ratelimit.Limiter (graph.SharedLimits.Requests, keyed by mailbox)
// is one.
type RequestBudget interface {
	Peek(ctx context.Context, key string) (ratelimit.Budget, error)
}

// addBudget fills the request budget of a mailbox's health. A limiter
// that cannot answer leaves it unset: the rest of the record still says
// how the mailbox is doing.
func (s *Server) addBudget(ctx context.Context, h *mailboxv1.MailboxHealth) {
	if s.d.Requests == nil {
		return
	}
	b, err := s.d.Requests.Peek(ctx, h.GetMailboxId())
	if err != nil {
		s.d.log().WarnContext(ctx, "the Graph request budget could not be read", slog.String("mailbox_id", h.GetMailboxId()), slog.Any("error", err))
		return
	}
	h.RequestBudgetAvailable = proto.Int32(int32(b.Available)) //nolint:gosec // at most Graph's burst
	h.RequestBudgetUsed = proto.Int32(int32(b.Used))           //nolint:gosec // at most Graph's burst
}

// addLastSuccess is the latest of the successful calls the record knows.
func addLastSuccess(h *mailboxv1.MailboxHealth, addressesFetchedAt *time.Time) {
	var last time.Time
	for _, t := range []*timestamppb.Timestamp{h.GetLastSentTime(), h.GetLastCatchUpTime()} {
		if t != nil && t.AsTime().After(last) {
			last = t.AsTime()
		}
	}
	if addressesFetchedAt != nil && addressesFetchedAt.After(last) {
		last = *addressesFetchedAt
	}
	if !last.IsZero() {
		h.LastSuccessTime = timestamppb.New(last)
	}
}
