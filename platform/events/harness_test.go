package events_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
)

const (
	serviceToken = "a-service-token-of-at-least-32-characters"
	stageChanged = "candidate.stage_changed"
)

// processedEvents is the table every service's first migration creates
// (services/*/migrations/00001_processed_events.sql); the receiver writes
// it, so the suite creates it the same way.
const processedEvents = `CREATE TABLE processed_events (
    event_id     text PRIMARY KEY,
    source       text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
)`

// stack is two services on one Postgres: "outreach" publishes through its
// River outbox, "atsbridge" receives on a real gRPC server with the
// platform's server builder and service-token authentication.
type stack struct {
	t         testing.TB
	pubDB     *pgxpool.Pool
	recvDB    *pgxpool.Pool
	pub       *events.Publisher
	receiver  *events.Receiver
	addr      string
	metrics   *sdkmetric.ManualReader
	spans     *tracetest.SpanRecorder
	tp        *sdktrace.TracerProvider
	failApply atomic.Int32 // the next failApply applications fail
}

func newStack(t testing.TB) *stack {
	t.Helper()
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	log := logging.Discard()
	s := &stack{t: t, metrics: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.metrics))
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))

	var err error
	if s.recvDB, err = postgres.Open(ctx, postgres.Options{URL: url, Schema: "atsbridge"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.recvDB.Close)
	if _, err := s.recvDB.Exec(ctx, processedEvents+`; CREATE TABLE applied (
		event_id text PRIMARY KEY, aggregate_id text NOT NULL, version bigint NOT NULL, note text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := events.Migrate(ctx, s.recvDB, "atsbridge", log); err != nil {
		t.Fatal(err)
	}
	s.receiver = events.NewReceiver(s.recvDB, events.ReceiverOptions{MeterProvider: mp, TracerProvider: s.tp, Logger: log})

	// The receiver's address is reserved now and served by startReceiver,
	// so a test can publish while the receiver is down.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}

	if s.pubDB, err = postgres.Open(ctx, postgres.Options{URL: url, Schema: "outreach"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.pubDB.Close)
	if err := jobs.Migrate(ctx, s.pubDB, "outreach", log); err != nil {
		t.Fatal(err)
	}
	// mailbox is configured but never started: it only wants enrollments,
	// so it must never get a candidate event.
	subs, err := events.ParseSubscribers("atsbridge="+s.addr+",mailbox=127.0.0.1:1", "atsbridge=candidate.*,mailbox=enrollment.created")
	if err != nil {
		t.Fatal(err)
	}
	delivery, err := events.NewDelivery(events.DeliveryOptions{
		Source: "outreach", Subscribers: subs, Credentials: authz.ServiceCredentials{Name: "outreach", Token: serviceToken},
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, AttemptTimeout: 5 * time.Second,
		MeterProvider: mp, TracerProvider: s.tp, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := delivery.Close(); err != nil {
			t.Error(err)
		}
	})
	workers := river.NewWorkers()
	queues := map[string]river.QueueConfig{}
	delivery.AddTo(workers, queues)
	client, err := jobs.New(s.pubDB, jobs.Options{Schema: "outreach", Workers: workers, Queues: queues, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if s.pub, err = events.NewPublisher(client, events.PublisherOptions{
		Source: "outreach", Subscribers: subs, Schema: "outreach", DB: s.pubDB,
		MeterProvider: mp, TracerProvider: s.tp, Logger: log,
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.pub.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Stop(stopCtx); err != nil {
			t.Errorf("stop river: %v", err)
		}
	})
	return s
}

// startReceiver serves the sink at the reserved address until the test
// ends.
func (s *stack) startReceiver() {
	s.t.Helper()
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	srv := grpcserver.New(grpcserver.Options{
		Auth:   &authz.Authenticator{Policy: events.AddSinkPolicy(nil), Services: authz.ServiceTokens{Current: serviceToken}},
		Logger: logging.Discard(),
	})
	sink := events.NewSink(s.receiver)
	sink.Handle(stageChanged, s.apply)
	sink.Register(srv.GRPC())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	s.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("receiver: %v", err)
		}
	})
}

// apply is the receiving service's handler: it stores what it applied.
func (s *stack) apply(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	if s.failApply.Load() > 0 {
		s.failApply.Add(-1)
		return errors.New("the handler failed")
	}
	var note wrapperspb.StringValue
	if err := ev.GetPayload().UnmarshalTo(&note); err != nil {
		return apperr.InvalidArgument("event.payload", "is not a StringValue").Wrap(err)
	}
	_, err := tx.Exec(ctx, "INSERT INTO applied (event_id, aggregate_id, version, note) VALUES ($1, $2, $3, $4)",
		ev.GetId(), ev.GetAggregateId(), ev.GetVersion(), note.GetValue())
	return err
}

func stageEvent(aggregate string, version int64, note string) events.Event {
	return events.Event{Type: stageChanged, OrganizationID: "org-1", AggregateID: aggregate, Version: version, Payload: wrapperspb.String(note)}
}

// publish publishes ev in a transaction of its own and commits it.
func (s *stack) publish(ev events.Event) string {
	s.t.Helper()
	var id string
	err := pgx.BeginFunc(s.t.Context(), s.pubDB, func(tx pgx.Tx) error {
		var err error
		id, err = s.pub.Publish(s.t.Context(), tx, ev)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

// sinkClient calls the receiver directly as service name would.
func (s *stack) sinkClient(name string) eventsv1.EventSinkServiceClient {
	s.t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(authz.ServiceCredentials{Name: name, Token: serviceToken}))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = conn.Close() })
	return eventsv1.NewEventSinkServiceClient(conn)
}

// applied lists the notes the handler applied for aggregate, oldest first.
func (s *stack) applied(aggregate string) []string {
	s.t.Helper()
	rows, err := s.recvDB.Query(s.t.Context(), "SELECT note FROM applied WHERE aggregate_id = $1 ORDER BY version, note", aggregate)
	if err != nil {
		s.t.Fatal(err)
	}
	notes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		s.t.Fatal(err)
	}
	return notes
}

// jobStates counts the outbox's jobs by River state.
func (s *stack) jobStates() map[string]int {
	s.t.Helper()
	rows, err := s.pubDB.Query(s.t.Context(), "SELECT state::text, count(*)::int FROM outreach.river_job GROUP BY 1")
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			s.t.Fatal(err)
		}
		out[state] = n
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// counter sums the metric's data points whose attributes include want.
func (s *stack) counter(name string, want ...attribute.KeyValue) int64 {
	s.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.metrics.Collect(context.Background(), &rm); err != nil {
		s.t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				s.t.Fatalf("%s is %T, want a sum", name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if hasAll(dp.Attributes, want) {
					total += dp.Value
				}
			}
		}
	}
	return total
}

// gauge returns the value of the float gauge for the data point with the
// attribute, and whether there is one.
func (s *stack) gauge(name string, attr attribute.KeyValue) (float64, bool) {
	s.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.metrics.Collect(context.Background(), &rm); err != nil {
		s.t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			g, ok := m.Data.(metricdata.Gauge[float64])
			if !ok {
				s.t.Fatalf("%s is %T, want a float gauge", name, m.Data)
			}
			for _, dp := range g.DataPoints {
				if hasAll(dp.Attributes, []attribute.KeyValue{attr}) {
					return dp.Value, true
				}
			}
		}
	}
	return 0, false
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
