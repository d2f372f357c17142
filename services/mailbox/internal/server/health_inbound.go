package server

import (
	"context"

	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
)

// InboundHealth reads a mailbox's subscription and catch-up state (package
// inbound), for its health.
type InboundHealth interface {
	Sync(ctx context.Context, mailboxID string) (inbound.SyncState, error)
}

// addInbound fills the inbound fields of a mailbox's health.
func (s *Server) addInbound(ctx context.Context, h *mailboxv1.MailboxHealth) error {
	if s.d.Inbound == nil {
		return nil
	}
	st, err := s.d.Inbound.Sync(ctx, h.GetMailboxId())
	if err != nil {
		return err
	}
	h.SubscriptionStatus = st.SubscriptionStatus
	h.SubscriptionExpireTime = optionalTime(st.SubscriptionExpiry)
	h.LastCatchUpTime = optionalTime(st.LastCatchUpAt)
	return nil
}
