package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/events"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// EventAtsConnectionChanged tells atsbridge that the organization's ATS
// connection (Lever) was connected, needs reconnecting, or was
// disconnected: atsbridge keeps the connection's status from it, imports
// on connection, and holds its pushes otherwise.
const EventAtsConnectionChanged = "ats.connection_changed"

// atsProviders are the providers whose connections are an organization's
// ATS connection.
var atsProviders = map[string]bool{ProviderLever: true}

// PublishAtsConnectionChanges makes every later change of an ATS
// connection's status publish ats.connection_changed with pub, in the
// transaction of the change. Call it once, at start, before serving.
func (s *Store) PublishAtsConnectionChanges(pub EventPublisher) { s.atsEvents = pub }

// publishAtsChange publishes c's status when it differs from before (""
// for a connection just created). A connection created in a state other
// than connected says nothing: atsbridge has nothing to hold or import
// for it yet. One type for the three statuses: the status is in the
// payload and the change time orders them for the receiver.
func (s *Store) publishAtsChange(ctx context.Context, tx pgx.Tx, before string, c Connection) error {
	status, ok := connectionStatuses[c.Status]
	if s.atsEvents == nil || !atsProviders[c.Provider] || !ok || c.Status == before ||
		(before == "" && c.Status != StatusConnected) {
		return nil
	}
	_, err := s.atsEvents.Publish(ctx, tx, events.Event{
		Type: EventAtsConnectionChanged, OrganizationID: c.OrgID, AggregateID: c.ID, Version: c.UpdatedAt.UnixMicro(), OccurredAt: c.UpdatedAt,
		Payload: &identityv1.AtsConnectionChanged{
			ConnectionId: c.ID, Provider: c.Provider, Account: c.Account,
			Status: status, Reason: c.Reason, ChangeTime: timestamppb.New(c.UpdatedAt),
		},
	})
	if err != nil {
		return fmt.Errorf("store: publish %s: %w", EventAtsConnectionChanged, err)
	}
	return nil
}
