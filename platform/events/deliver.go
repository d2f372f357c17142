package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tandemhq/tandem/platform/authz"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
)

// Queue is the River queue event deliveries run on, apart from the
// service's other jobs so neither starves the other.
const Queue = "events"

// deliveryArgs is one event on its way to one subscriber. The event is
// kept as protobuf bytes, so the payload arrives exactly as published; id
// and type are there in the clear for whoever looks at river_job.
type deliveryArgs struct {
	Subscriber string `json:"subscriber"`
	EventID    string `json:"event_id"`
	EventType  string `json:"event_type"`
	Event      []byte `json:"event"`
}

func (deliveryArgs) Kind() string { return "tandem_event_delivery" }

// DeliveryOptions configures NewDelivery.
type DeliveryOptions struct {
	// Source is this service's name, sent with the service token.
	Source      string
	Subscribers []Subscriber
	// Credentials authenticate the calls: authz.ServiceCredentials with
	// this service's name (Source) and the current service token.
	Credentials credentials.PerRPCCredentials
	// MinBackoff and MaxBackoff bound the wait between attempts (defaults
	// 1s and 5m); it doubles from one to the other, with jitter. MaxBackoff
	// also caps gRPC's wait before redialling a subscriber that was down.
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one Deliver call (default 15s).
	AttemptTimeout time.Duration
	// Workers is the events queue's concurrency (default 20).
	Workers        int
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	Logger         *slog.Logger
}

// Delivery is the River worker that hands events to subscribers.
type Delivery struct {
	river.WorkerDefaults[deliveryArgs]

	sinks   map[string]eventsv1.EventSinkServiceClient
	conns   []*grpc.ClientConn
	opts    DeliveryOptions
	tracer  trace.Tracer
	inst    instruments
	log     *slog.Logger
	jitter  func(time.Duration) time.Duration
	timeNow func() time.Time
}

// NewDelivery dials every subscriber (lazily: nothing is sent until the
// first event, so services start in any order).
func NewDelivery(opts DeliveryOptions) (*Delivery, error) {
	if !subscriberName.MatchString(opts.Source) {
		return nil, fmt.Errorf("events: invalid source service name %q", opts.Source)
	}
	if len(opts.Subscribers) > 0 && opts.Credentials == nil {
		return nil, errors.New("events: delivering to subscribers needs the service credentials")
	}
	// The sink refuses events whose source is not the caller: credentials
	// under another name would fail every delivery.
	if sc, ok := opts.Credentials.(authz.ServiceCredentials); ok && sc.Name != opts.Source {
		return nil, fmt.Errorf("events: service credentials name %q, but the source is %q", sc.Name, opts.Source)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 15 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 20
	}
	d := &Delivery{
		sinks:   map[string]eventsv1.EventSinkServiceClient{},
		opts:    opts,
		tracer:  tracerFrom(opts.TracerProvider),
		inst:    newInstruments(opts.MeterProvider),
		log:     opts.Logger,
		timeNow: time.Now,
	}
	d.jitter = d.defaultJitter
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	for _, s := range opts.Subscribers {
		conn, err := grpc.NewClient(s.Target,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithPerRPCCredentials(opts.Credentials),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tracerProviderOr(opts.TracerProvider)), otelgrpc.WithMeterProvider(meterProviderOr(opts.MeterProvider)))),
			// gRPC's own redial backoff grows to two minutes; a subscriber
			// that comes back is reached within MaxBackoff instead.
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: min(opts.MinBackoff, time.Second), Multiplier: 1.6, Jitter: 0.2, MaxDelay: opts.MaxBackoff},
				MinConnectTimeout: min(opts.AttemptTimeout, 20*time.Second),
			}),
		)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("events: dial subscriber %s: %w", s.Name, err), d.Close())
		}
		d.conns = append(d.conns, conn)
		d.sinks[s.Name] = eventsv1.NewEventSinkServiceClient(conn)
	}
	return d, nil
}

// fetchCooldown is the events queue's shortest pause between fetches.
// River fetches at most one batch (as many jobs as workers are free) per
// pause, so its default 100ms caps 20 workers at 200 events a second; 10ms
// lifts the cap past what the receiver's Postgres applies (ADR 0015,
// docs/benchmarks.md), at the price of more fetch queries while busy.
const fetchCooldown = 10 * time.Millisecond

// fetchPollInterval bounds how long an event waits when River's insert
// notification does not wake the queue: River's default of a second is
// what such an event waited (about one delivery in four when events come
// a few hundred milliseconds apart; docs/benchmarks.md, "a Lever webhook
// received → the stage applied in outreach"), a hop of a journey whose
// goal is under a second end to end. Idle, it costs ten small fetch
// queries a second per replica.
const fetchPollInterval = 100 * time.Millisecond

// AddTo registers the worker in workers and the events queue in queues
// (unless the service sized it itself), for jobs.Options.
func (d *Delivery) AddTo(workers *river.Workers, queues map[string]river.QueueConfig) {
	river.AddWorker(workers, d)
	if _, ok := queues[Queue]; !ok {
		queues[Queue] = river.QueueConfig{MaxWorkers: d.opts.Workers, FetchCooldown: fetchCooldown, FetchPollInterval: fetchPollInterval}
	}
}

// Close closes the subscribers' connections.
func (d *Delivery) Close() error {
	var errs []error
	for _, c := range d.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// NextRetry doubles the wait from MinBackoff up to MaxBackoff, with
// jitter so a subscriber coming back is not hit by every replica at once.
func (d *Delivery) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	wait := d.opts.MinBackoff
	for i := 1; i < job.Attempt && wait < d.opts.MaxBackoff; i++ {
		wait *= 2
	}
	return d.timeNow().Add(d.jitter(min(wait, d.opts.MaxBackoff)))
}

// defaultJitter picks a wait in the upper half of d.
func (*Delivery) defaultJitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// Timeout leaves River's hard stop above the call's own deadline.
func (d *Delivery) Timeout(*river.Job[deliveryArgs]) time.Duration { return 2 * d.opts.AttemptTimeout }

// Work delivers one event to one subscriber. An error makes River try
// again after NextRetry; an acknowledgement of any outcome completes the
// job.
func (d *Delivery) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	a := job.Args
	var ev eventsv1.Event
	if err := proto.Unmarshal(a.Event, &ev); err != nil {
		// Bytes this package wrote and cannot read: nothing will change that.
		d.inst.abandoned.Add(ctx, 1, metric.WithAttributes(attrEventType.String(a.EventType), attrSubscriber.String(a.Subscriber), attrReason.String("undecodable")))
		d.log.ErrorContext(ctx, "event job undecodable; cancelled", slog.String("event_id", a.EventID), slog.Int64("job_id", job.ID), slog.Any("error", err))
		return river.JobCancel(fmt.Errorf("events: decode job %d: %w", job.ID, err))
	}
	ctx, span := d.tracer.Start(ctx, "deliver "+a.EventType,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(publisherLink(ctx, &ev)...),
		trace.WithAttributes(attrEventID.String(a.EventID), attrEventType.String(a.EventType), attrSubscriber.String(a.Subscriber)))
	defer span.End()

	sink, ok := d.sinks[a.Subscriber]
	if !ok {
		// A subscriber removed from configuration while its events waited:
		// keep them (and the age gauge) until it is configured again or
		// someone cancels them.
		err := fmt.Errorf("events: subscriber %s is not configured", a.Subscriber)
		return d.failed(ctx, span, job, grpccodes.FailedPrecondition, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, d.opts.AttemptTimeout)
	defer cancel()
	resp, err := sink.Deliver(callCtx, &eventsv1.DeliverRequest{Event: &ev})
	if err != nil {
		code := status.Code(err)
		if code == grpccodes.InvalidArgument {
			// The subscriber says the event itself is malformed; sending it
			// again cannot help. River keeps the cancelled job for a manual
			// retry once the cause is fixed.
			d.inst.abandoned.Add(ctx, 1, metric.WithAttributes(attrEventType.String(a.EventType), attrSubscriber.String(a.Subscriber), attrReason.String("refused")))
			d.log.ErrorContext(ctx, "event refused by subscriber; cancelled", slog.String("subscriber", a.Subscriber), slog.String("event_id", a.EventID), slog.String("type", a.EventType), slog.Any("error", err))
			span.SetStatus(codes.Error, "refused")
			return river.JobCancel(fmt.Errorf("events: %s refused %s: %w", a.Subscriber, a.EventID, err))
		}
		return d.failed(ctx, span, job, code, err)
	}
	outcome := outcomeName(resp.GetOutcome())
	span.SetAttributes(attrOutcome.String(outcome))
	d.inst.delivered.Add(ctx, 1, metric.WithAttributes(attrEventType.String(a.EventType), attrSubscriber.String(a.Subscriber), attrOutcome.String(outcome)))
	return nil
}

func (d *Delivery) failed(ctx context.Context, span trace.Span, job *river.Job[deliveryArgs], code grpccodes.Code, err error) error {
	a := job.Args
	span.RecordError(err)
	span.SetStatus(codes.Error, code.String())
	if job.Attempt >= job.MaxAttempts {
		d.inst.abandoned.Add(ctx, 1, metric.WithAttributes(attrEventType.String(a.EventType), attrSubscriber.String(a.Subscriber), attrReason.String("out_of_attempts")))
		d.log.ErrorContext(ctx, "event not delivered after every attempt; discarded", slog.String("subscriber", a.Subscriber), slog.String("event_id", a.EventID), slog.String("type", a.EventType), slog.Int("attempts", job.Attempt), slog.Any("error", err))
		return err
	}
	d.inst.retried.Add(ctx, 1, metric.WithAttributes(attrEventType.String(a.EventType), attrSubscriber.String(a.Subscriber), attrCode.String(code.String())))
	level := slog.LevelWarn
	if code == grpccodes.Unavailable || code == grpccodes.DeadlineExceeded {
		// A subscriber that is down or slow: expected, and retried.
		level = slog.LevelInfo
	}
	d.log.Log(ctx, level, "event delivery failed; will retry", slog.String("subscriber", a.Subscriber), slog.String("event_id", a.EventID), slog.String("code", code.String()), slog.Int("attempt", job.Attempt), slog.Any("error", err))
	return err
}

// publisherLink is the link to the span that published ev, if it carried
// one.
func publisherLink(ctx context.Context, ev *eventsv1.Event) []trace.Link {
	if ev.GetTraceparent() == "" {
		return nil
	}
	carrier := propagation.MapCarrier{"traceparent": ev.GetTraceparent(), "tracestate": ev.GetTracestate()}
	// Extracted into ctx stripped of its span: a traceparent that does not
	// parse gives no link, not a link to the caller's own span.
	bare := trace.ContextWithSpanContext(ctx, trace.SpanContext{})
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(bare, carrier))
	if !sc.IsValid() {
		return nil
	}
	return []trace.Link{{SpanContext: sc}}
}
