package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/events"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// Mailbox event types: the mailbox service keeps its registry of connected
// mailboxes from them, holds a mailbox's queue while it needs
// reconnecting, and releases it when it is connected again.
const (
	EventMailboxConnected         = "mailbox.connected"
	EventMailboxReconnectRequired = "mailbox.reconnect_required"
	EventMailboxDisconnected      = "mailbox.disconnected"
)

// EventPublisher publishes an event in the caller's transaction
// (events.Publisher).
type EventPublisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// PublishMailboxChanges makes every later change of a mailbox
// connection's status publish its event with pub, in the transaction of
// the change. Call it once, at start, before serving.
func (s *Store) PublishMailboxChanges(pub EventPublisher) { s.mailboxEvents = pub }

// mailboxEventTypes maps a status to its event; awaiting_admin_approval
// has none: such a mailbox was never connected, and one that was keeps
// its status when a later attempt waits for approval.
var mailboxEventTypes = map[string]string{
	StatusConnected:         EventMailboxConnected,
	StatusReconnectRequired: EventMailboxReconnectRequired,
	StatusDisconnected:      EventMailboxDisconnected,
}

// publishMailboxChange publishes c's status when it differs from before
// ("" for a connection just created). A connection created in a state
// other than connected says nothing: the mailbox service has nothing to
// hold or release for it yet.
func (s *Store) publishMailboxChange(ctx context.Context, tx pgx.Tx, before string, c Connection) error {
	typ, ok := mailboxEventTypes[c.Status]
	if s.mailboxEvents == nil || c.Provider != ProviderMicrosoftMailbox || !ok || c.Status == before ||
		(before == "" && c.Status != StatusConnected) {
		return nil
	}
	// The change time orders the three types for the receiver.
	_, err := s.mailboxEvents.Publish(ctx, tx, events.Event{
		Type: typ, OrganizationID: c.OrgID, AggregateID: c.ID, Version: c.UpdatedAt.UnixMicro(), OccurredAt: c.UpdatedAt,
		Payload: &identityv1.MailboxConnectionChanged{
			ConnectionId: c.ID, UserId: c.UserID, Account: c.Account,
			Status: connectionStatuses[c.Status], Reason: c.Reason, ChangeTime: timestamppb.New(c.UpdatedAt),
		},
	})
	if err != nil {
		return fmt.Errorf("store: publish %s: %w", typ, err)
	}
	return nil
}

var connectionStatuses = map[string]identityv1.ConnectionStatus{
	StatusConnected:         identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED,
	StatusReconnectRequired: identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED,
	StatusDisconnected:      identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED,
}
