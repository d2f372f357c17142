package events

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
)

// Event is a change to publish.
type Event struct {
	// ID is the event's unique id; empty makes a new one (a UUIDv7). Set it
	// only to publish the same event again on purpose.
	ID string
	// Type is "<aggregate>.<change>", lower case: candidate.stage_changed.
	Type           string
	OrganizationID string
	AggregateID    string
	// Version grows with each change of this Type to this aggregate
	// (ADR 0015); zero means unordered.
	Version int64
	// OccurredAt is when the change was made; zero means now.
	OccurredAt time.Time
	// Payload is the type's message.
	Payload proto.Message
}

// ErrInvalidEvent is wrapped by every error about an event's fields.
var ErrInvalidEvent = errors.New("events: invalid event")

func (e Event) toProto(source string, now time.Time) (*eventsv1.Event, error) {
	switch {
	case !eventType.MatchString(e.Type):
		return nil, fmt.Errorf("%w: type %q is not <aggregate>.<change>", ErrInvalidEvent, e.Type)
	case e.OrganizationID == "":
		return nil, fmt.Errorf("%w: %s: organization id is required", ErrInvalidEvent, e.Type)
	case e.AggregateID == "":
		return nil, fmt.Errorf("%w: %s: aggregate id is required", ErrInvalidEvent, e.Type)
	case e.Version < 0:
		return nil, fmt.Errorf("%w: %s: version must not be negative", ErrInvalidEvent, e.Type)
	case e.Payload == nil:
		return nil, fmt.Errorf("%w: %s: payload is required", ErrInvalidEvent, e.Type)
	}
	payload, err := anypb.New(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: payload: %w", ErrInvalidEvent, e.Type, err)
	}
	id := e.ID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("events: new event id: %w", err)
		}
		id = u.String()
	}
	at := e.OccurredAt
	if at.IsZero() {
		at = now
	}
	return &eventsv1.Event{
		Id:             id,
		Type:           e.Type,
		Source:         source,
		OrganizationId: e.OrganizationID,
		AggregateId:    e.AggregateID,
		Version:        e.Version,
		OccurredAt:     timestamppb.New(at),
		Payload:        payload,
	}, nil
}

// checkReceived validates an event that arrived; the error names the field.
func checkReceived(ev *eventsv1.Event) (field string, ok bool) {
	switch {
	case ev == nil:
		return "event", false
	case ev.GetId() == "":
		return "event.id", false
	case !eventType.MatchString(ev.GetType()):
		return "event.type", false
	case !subscriberName.MatchString(ev.GetSource()):
		return "event.source", false
	case ev.GetOrganizationId() == "":
		return "event.organization_id", false
	case ev.GetAggregateId() == "":
		return "event.aggregate_id", false
	case ev.GetVersion() < 0:
		return "event.version", false
	case ev.GetPayload() == nil:
		return "event.payload", false
	}
	return "", true
}
