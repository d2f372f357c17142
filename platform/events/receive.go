package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
)

// Outcome is what a receiver did with an event it acknowledges.
type Outcome int

const (
	// Applied means the handler applied the event now.
	Applied Outcome = iota + 1
	// Duplicate means the event's id was processed before; nothing was done.
	Duplicate
	// Stale means a newer version of the aggregate was applied already; the
	// id is recorded and the handler was not called.
	Stale
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	case Stale:
		return "stale"
	default:
		return "unknown"
	}
}

func (o Outcome) proto() eventsv1.DeliverResponse_Outcome {
	switch o {
	case Applied:
		return eventsv1.DeliverResponse_OUTCOME_APPLIED
	case Duplicate:
		return eventsv1.DeliverResponse_OUTCOME_DUPLICATE
	case Stale:
		return eventsv1.DeliverResponse_OUTCOME_STALE
	default:
		return eventsv1.DeliverResponse_OUTCOME_UNSPECIFIED
	}
}

func outcomeName(o eventsv1.DeliverResponse_Outcome) string {
	switch o {
	case eventsv1.DeliverResponse_OUTCOME_APPLIED:
		return Applied.String()
	case eventsv1.DeliverResponse_OUTCOME_DUPLICATE:
		return Duplicate.String()
	case eventsv1.DeliverResponse_OUTCOME_STALE:
		return Stale.String()
	default:
		return "unspecified"
	}
}

// Handler applies an event inside tx, the transaction that also records
// its id. An error rolls both back and the publisher delivers the event
// again later; an apperr.InvalidArgument (a payload that cannot be read)
// makes the publisher give up on it instead.
type Handler func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error

// txBeginner is the part of the pool Receive needs.
type txBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// ReceiverOptions configures NewReceiver.
type ReceiverOptions struct {
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	Logger         *slog.Logger
}

// Receiver applies events at most once each and in version order, on the
// service's schema (processed_events and event_versions, see Migrate).
type Receiver struct {
	db     txBeginner
	tracer trace.Tracer
	inst   instruments
	log    *slog.Logger
}

// NewReceiver returns a receiver on db, the service's pool.
func NewReceiver(db txBeginner, opts ReceiverOptions) *Receiver {
	r := &Receiver{db: db, tracer: tracerFrom(opts.TracerProvider), inst: newInstruments(opts.MeterProvider), log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Receive runs apply for ev unless ev's id was processed before or a newer
// version of its aggregate was applied, and records the id, all in one
// transaction. A malformed event is an apperr.InvalidArgument naming the
// field. Sink also checks who sends the event; a service's own Deliver
// that calls Receive must do the same.
func (r *Receiver) Receive(ctx context.Context, ev *eventsv1.Event, apply Handler) (Outcome, error) {
	if field, ok := checkReceived(ev); !ok {
		return 0, apperr.InvalidArgument(field, "is missing or malformed")
	}
	ctx, span := r.tracer.Start(ctx, "process "+ev.GetType(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(publisherLink(ctx, ev)...),
		trace.WithAttributes(attrEventID.String(ev.GetId()), attrEventType.String(ev.GetType()), attrSource.String(ev.GetSource())))
	defer span.End()
	var outcome Outcome
	err := pgx.BeginFunc(ctx, r.db, func(tx pgx.Tx) error {
		var err error
		outcome, err = receiveTx(ctx, tx, ev, apply)
		return err
	})
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "not applied")
		return 0, err
	}
	span.SetAttributes(attrOutcome.String(outcome.String()))
	r.inst.received.Add(ctx, 1, metric.WithAttributes(attrEventType.String(ev.GetType()), attrSource.String(ev.GetSource()), attrOutcome.String(outcome.String())))
	if outcome == Stale {
		r.log.InfoContext(ctx, "stale event recorded, not applied", slog.String("event_id", ev.GetId()), slog.String("type", ev.GetType()), slog.Int64("version", ev.GetVersion()))
	}
	return outcome, nil
}

func receiveTx(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event, apply Handler) (Outcome, error) {
	// A concurrent delivery of the same id waits here on the key until the
	// first one commits (then this is a duplicate) or rolls back.
	tag, err := tx.Exec(ctx, `INSERT INTO processed_events (event_id, source) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING`,
		ev.GetId(), ev.GetSource())
	if err != nil {
		return 0, fmt.Errorf("events: record %s: %w", ev.GetId(), err)
	}
	if tag.RowsAffected() == 0 {
		return Duplicate, nil
	}
	if ev.GetVersion() > 0 {
		// The row lock serialises deliveries of one aggregate's versions;
		// the WHERE makes an older or equal version a no-op.
		tag, err := tx.Exec(ctx, `INSERT INTO event_versions (organization_id, aggregate_id, event_type, source, version, event_id)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (organization_id, aggregate_id, event_type, source) DO UPDATE
			SET version = EXCLUDED.version, event_id = EXCLUDED.event_id, applied_at = now()
			WHERE event_versions.version < EXCLUDED.version`,
			ev.GetOrganizationId(), ev.GetAggregateId(), ev.GetType(), ev.GetSource(), ev.GetVersion(), ev.GetId())
		if err != nil {
			return 0, fmt.Errorf("events: version of %s: %w", ev.GetId(), err)
		}
		if tag.RowsAffected() == 0 {
			return Stale, nil
		}
	}
	if err := apply(ctx, tx, ev); err != nil {
		return 0, fmt.Errorf("events: apply %s %s: %w", ev.GetType(), ev.GetId(), err)
	}
	return Applied, nil
}

// Sink serves EventSinkService.Deliver: it checks the caller and the
// event and hands it to the handler registered for its type.
type Sink struct {
	eventsv1.UnimplementedEventSinkServiceServer
	receiver *Receiver
	handlers map[string]Handler
}

// NewSink returns a sink on receiver; register handlers with Handle
// before serving.
func NewSink(receiver *Receiver) *Sink {
	return &Sink{receiver: receiver, handlers: map[string]Handler{}}
}

// Handle registers h for events of type typ. It panics on a repeated or
// invalid type: handlers are wired once, at start.
func (s *Sink) Handle(typ string, h Handler) {
	if !eventType.MatchString(typ) {
		panic(fmt.Sprintf("events: Handle: invalid event type %q", typ))
	}
	if _, dup := s.handlers[typ]; dup {
		panic(fmt.Sprintf("events: Handle: %s registered twice", typ))
	}
	s.handlers[typ] = h
}

// Register adds the sink to a gRPC server.
func (s *Sink) Register(srv grpc.ServiceRegistrar) { eventsv1.RegisterEventSinkServiceServer(srv, s) }

// Errors of Deliver.
var (
	ErrWrongSource = errors.New("events: event source is not the calling service")
	ErrUnknownType = errors.New("events: no handler for the event type")
)

// Deliver implements EventSinkService.
func (s *Sink) Deliver(ctx context.Context, req *eventsv1.DeliverRequest) (*eventsv1.DeliverResponse, error) {
	// The policy admits services only; a service may only speak for
	// itself, so a bug in one cannot forge another's events.
	p, ok := authz.FromContext(ctx)
	if !ok || p.Kind != authz.KindService {
		return nil, apperr.PermissionDenied("internal method")
	}
	ev := req.GetEvent()
	if field, ok := checkReceived(ev); !ok {
		return nil, apperr.InvalidArgument(field, "is missing or malformed")
	}
	if p.Service != ev.GetSource() {
		return nil, apperr.PermissionDenied("event source is not the caller").Wrap(ErrWrongSource)
	}
	h, ok := s.handlers[ev.GetType()]
	if !ok {
		// Not a refusal: the publisher keeps the event until a version of
		// this service that handles the type is deployed.
		return nil, apperr.FailedPrecondition("unknown_event_type", "no handler for this event type").Wrap(ErrUnknownType)
	}
	outcome, err := s.receiver.Receive(ctx, ev, h)
	if err != nil {
		return nil, err
	}
	return &eventsv1.DeliverResponse{Outcome: outcome.proto()}, nil
}

// AddSinkPolicy returns a copy of policy with the sink's rule: Deliver is
// Internal, for service tokens only. Services merge it when building their
// authenticator, not into the policy they export for the OpenAPI document,
// where every service would repeat it.
func AddSinkPolicy(policy authz.Policy) authz.Policy {
	out := maps.Clone(policy)
	if out == nil {
		out = authz.Policy{}
	}
	out[eventsv1.EventSinkService_Deliver_FullMethodName] = authz.Internal()
	return out
}
