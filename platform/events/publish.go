package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
)

// jobInserter is the part of River's client Publish needs.
type jobInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// backlogQuerier runs the undelivered-age query.
type backlogQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// PublisherOptions configures NewPublisher.
type PublisherOptions struct {
	// Source is the publishing service's name.
	Source      string
	Subscribers []Subscriber
	// Schema is the service's schema, where River's job table is; DB
	// reads it for the undelivered-age gauge.
	Schema string
	DB     backlogQuerier
	// MaxAttempts bounds the deliveries of one event to one subscriber
	// (default DefaultMaxAttempts).
	MaxAttempts    int
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	Logger         *slog.Logger
}

// DefaultMaxAttempts is how many times an event is tried: with the default
// backoff capped at five minutes, five to seven days of trying.
const DefaultMaxAttempts = 2000

// Publisher publishes events through the service's River outbox.
type Publisher struct {
	jobs        jobInserter
	source      string
	subscribers []Subscriber
	maxAttempts int
	tracer      trace.Tracer
	inst        instruments
	log         *slog.Logger
	gauge       metric.Registration
}

// NewPublisher returns a publisher inserting jobs with jobs (the service's
// River client) and registers the undelivered-age gauge, which Close
// removes.
func NewPublisher(jobs jobInserter, opts PublisherOptions) (*Publisher, error) {
	if !subscriberName.MatchString(opts.Source) {
		return nil, fmt.Errorf("events: invalid source service name %q", opts.Source)
	}
	if jobs == nil || opts.DB == nil || opts.Schema == "" {
		return nil, errors.New("events: a publisher needs the River client, the DB and the schema")
	}
	p := &Publisher{
		jobs:        jobs,
		source:      opts.Source,
		subscribers: opts.Subscribers,
		maxAttempts: opts.MaxAttempts,
		tracer:      tracerFrom(opts.TracerProvider),
		inst:        newInstruments(opts.MeterProvider),
		log:         opts.Logger,
	}
	if p.maxAttempts <= 0 {
		p.maxAttempts = DefaultMaxAttempts
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	reg, err := registerBacklogGauge(p.inst, opts.DB, opts.Schema, opts.Subscribers)
	if err != nil {
		return nil, err
	}
	p.gauge = reg
	return p, nil
}

// Close unregisters the gauge.
func (p *Publisher) Close() error {
	if p.gauge == nil {
		return nil
	}
	return p.gauge.Unregister()
}

// Publish inserts ev into tx's outbox, once for every subscriber of its
// type, and returns the event's id. It makes no call outside the
// transaction: delivery starts after tx commits, and never if it rolls
// back. An event no subscriber wants is not stored.
func (p *Publisher) Publish(ctx context.Context, tx pgx.Tx, ev Event) (string, error) {
	ctx, span := p.tracer.Start(ctx, "publish "+ev.Type, trace.WithSpanKind(trace.SpanKindProducer))
	defer span.End()
	msg, err := ev.toProto(p.source, time.Now())
	if err != nil {
		span.RecordError(err)
		return "", err
	}
	span.SetAttributes(attrEventID.String(msg.GetId()), attrEventType.String(msg.GetType()))
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	msg.Traceparent, msg.Tracestate = carrier.Get("traceparent"), carrier.Get("tracestate")

	var params []river.InsertManyParams
	var wanted []string
	for _, s := range p.subscribers {
		if !s.Wants(msg.GetType()) {
			continue
		}
		wanted = append(wanted, s.Name)
	}
	if len(wanted) == 0 {
		return msg.GetId(), nil
	}
	body, err := proto.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("events: encode %s: %w", msg.GetType(), err)
	}
	for _, name := range wanted {
		params = append(params, river.InsertManyParams{
			Args:       deliveryArgs{Subscriber: name, EventID: msg.GetId(), EventType: msg.GetType(), Event: body},
			InsertOpts: &river.InsertOpts{Queue: Queue, MaxAttempts: p.maxAttempts},
		})
	}
	if _, err := p.jobs.InsertManyTx(ctx, tx, params); err != nil {
		span.RecordError(err)
		return "", fmt.Errorf("events: enqueue %s: %w", msg.GetType(), err)
	}
	for _, name := range wanted {
		p.inst.published.Add(ctx, 1, metric.WithAttributes(attrEventType.String(msg.GetType()), attrSubscriber.String(name)))
	}
	span.SetAttributes(attribute.StringSlice("tandem.event.subscribers", wanted))
	return msg.GetId(), nil
}

func tracerFrom(tp trace.TracerProvider) trace.Tracer {
	return tracerProviderOr(tp).Tracer(instrumentationName)
}
