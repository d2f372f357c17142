package events_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/grpcserver"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
)

// The events contract (DESIGN §8): each test is one promise, against real
// Postgres, River and a gRPC receiver.

var (
	toATS      = attribute.String("tandem.event.subscriber", "atsbridge")
	applied    = attribute.String("tandem.event.outcome", "applied")
	duplicate  = attribute.String("tandem.event.outcome", "duplicate")
	staleEvent = attribute.String("tandem.event.outcome", "stale")
)

// A committed event reaches every subscriber of its type, and only those.
func TestContract_AtLeastOnceDelivery(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startReceiver()
	s.publish(stageEvent("cand-1", 1, "Contacted"))
	eventually(t, "the event applied", func() bool { return equal(s.applied("cand-1"), []string{"Contacted"}) })
	eventually(t, "the job completed", func() bool { return s.jobStates()["completed"] == 1 })
	if states := s.jobStates(); len(states) != 1 {
		t.Fatalf("outbox jobs by state = %v; mailbox does not want candidate events, so there is one job", states)
	}
	if n := s.counter("tandem.events.published", toATS); n != 1 {
		t.Errorf("published = %d, want 1", n)
	}
	eventually(t, "delivered counted", func() bool { return s.counter("tandem.events.delivered", toATS, applied) == 1 })
	if n := s.counter("tandem.events.received", applied); n != 1 {
		t.Errorf("received (applied) = %d, want 1", n)
	}
}

// Nothing is published when the transaction rolls back.
func TestContract_NothingPublishedOnRollback(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startReceiver()
	tx, err := s.pubDB.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pub.Publish(t.Context(), tx, stageEvent("cand-1", 1, "rolled back")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A later event for the same aggregate is delivered; had the rolled-back
	// one been queued it would have gone first (same queue, older job).
	s.publish(stageEvent("cand-1", 2, "committed"))
	eventually(t, "the committed event applied", func() bool { return len(s.applied("cand-1")) > 0 })
	eventually(t, "the job completed", func() bool { return s.jobStates()["completed"] == 1 })
	if got := s.applied("cand-1"); !equal(got, []string{"committed"}) {
		t.Fatalf("applied %v, want only the committed event", got)
	}
	if states := s.jobStates(); len(states) != 1 || states["completed"] != 1 {
		t.Fatalf("outbox jobs by state = %v, want the committed event's job only", states)
	}
}

// An id seen before is acknowledged and not applied again, whether the
// outbox sends it twice or a caller repeats it.
func TestContract_RedeliveredIDIsIgnored(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startReceiver()
	ev := stageEvent("cand-1", 0, "once")
	ev.ID = "0190a3f0-0000-7000-8000-000000000001"
	s.publish(ev)
	s.publish(ev)
	eventually(t, "both deliveries acknowledged", func() bool { return s.jobStates()["completed"] == 2 })
	if got := s.applied("cand-1"); !equal(got, []string{"once"}) {
		t.Fatalf("applied %v, want the event once", got)
	}
	if a, d := s.counter("tandem.events.delivered", toATS, applied), s.counter("tandem.events.delivered", toATS, duplicate); a != 1 || d != 1 {
		t.Fatalf("delivered: applied %d, duplicate %d; want 1 and 1", a, d)
	}

	// The same id straight to Deliver (a retry after a lost reply).
	payload, err := anypb.New(wrapperspb.String("once"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.sinkClient("outreach").Deliver(t.Context(), &eventsv1.DeliverRequest{Event: &eventsv1.Event{
		Id: ev.ID, Type: stageChanged, Source: "outreach", OrganizationId: "org-1", AggregateId: "cand-1", Payload: payload,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetOutcome() != eventsv1.DeliverResponse_OUTCOME_DUPLICATE {
		t.Fatalf("outcome %v, want DUPLICATE", resp.GetOutcome())
	}
	if got := s.applied("cand-1"); len(got) != 1 {
		t.Fatalf("applied %v after a repeated Deliver", got)
	}
}

// An older version of an aggregate that arrives after a newer one is
// acknowledged as stale and not applied; versions order each event type
// apart, and version 0 is not ordered.
func TestContract_OlderVersionIsNotApplied(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startReceiver()
	sink := s.sinkClient("outreach")
	deliver := func(id, aggregate, typ string, version int64, note string) eventsv1.DeliverResponse_Outcome {
		t.Helper()
		payload, err := anypb.New(wrapperspb.String(note))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := sink.Deliver(t.Context(), &eventsv1.DeliverRequest{Event: &eventsv1.Event{
			Id: id, Type: typ, Source: "outreach", OrganizationId: "org-1", AggregateId: aggregate, Version: version, Payload: payload,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetOutcome()
	}
	const (
		appliedOutcome = eventsv1.DeliverResponse_OUTCOME_APPLIED
		staleOutcome   = eventsv1.DeliverResponse_OUTCOME_STALE
	)
	steps := []struct {
		id, aggregate string
		version       int64
		note          string
		want          eventsv1.DeliverResponse_Outcome
	}{
		{"e2", "cand-1", 2, "v2", appliedOutcome},
		{"e1", "cand-1", 1, "v1", staleOutcome},        // older, late
		{"e2b", "cand-1", 2, "v2 again", staleOutcome}, // same version, another id
		{"e3", "cand-1", 3, "v3", appliedOutcome},
		{"f1", "cand-2", 1, "other aggregate", appliedOutcome},
		{"u1", "cand-3", 0, "unordered a", appliedOutcome},
		{"u2", "cand-3", 0, "unordered b", appliedOutcome},
	}
	for _, st := range steps {
		if got := deliver(st.id, st.aggregate, stageChanged, st.version, st.note); got != st.want {
			t.Fatalf("%s (v%d): outcome %v, want %v", st.id, st.version, got, st.want)
		}
	}
	if got := s.applied("cand-1"); !equal(got, []string{"v2", "v3"}) {
		t.Fatalf("cand-1 applied %v, want v2 and v3 only", got)
	}
	if got := s.applied("cand-3"); len(got) != 2 {
		t.Fatalf("unordered events applied %v, want both", got)
	}
	// A stale event's id is recorded: sent again it is a duplicate.
	if got := deliver("e1", "cand-1", stageChanged, 1, "v1"); got != eventsv1.DeliverResponse_OUTCOME_DUPLICATE {
		t.Fatalf("a stale id sent again: %v, want DUPLICATE", got)
	}
	if n := s.counter("tandem.events.received", staleEvent); n != 2 {
		t.Fatalf("received (stale) = %d, want 2", n)
	}

	// Through the outbox: v5 then v4 published in that order, v4 may be
	// worked first or second; either way the aggregate ends at v5.
	s.publish(stageEvent("cand-4", 5, "v5"))
	eventually(t, "v5 applied", func() bool { return equal(s.applied("cand-4"), []string{"v5"}) })
	s.publish(stageEvent("cand-4", 4, "v4"))
	eventually(t, "v4 acknowledged", func() bool { return s.counter("tandem.events.delivered", toATS, staleEvent) == 1 })
	if got := s.applied("cand-4"); !equal(got, []string{"v5"}) {
		t.Fatalf("cand-4 applied %v, want v5 only", got)
	}
}

// A receiver that is down only delays delivery: the outbox retries with
// backoff, the age gauge shows the event waiting, and it is delivered once
// the receiver is back.
func TestContract_DeliveredAfterReceiverComesBack(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.publish(stageEvent("cand-1", 1, "while down"))
	eventually(t, "failed attempts", func() bool { return s.counter("tandem.events.retried", toATS) >= 3 })
	if got := s.applied("cand-1"); len(got) != 0 {
		t.Fatalf("applied %v with the receiver down", got)
	}
	eventually(t, "the gauge shows the waiting event", func() bool {
		age, ok := s.gauge("tandem.events.undelivered.age", toATS)
		return ok && age > 0
	})

	s.startReceiver()
	eventually(t, "delivered after the receiver came back", func() bool { return equal(s.applied("cand-1"), []string{"while down"}) })
	eventually(t, "the job completed", func() bool { return s.jobStates()["completed"] == 1 })
	age, ok := s.gauge("tandem.events.undelivered.age", toATS)
	if !ok || age != 0 {
		t.Fatalf("undelivered age after delivery = %v (reported %v), want 0", age, ok)
	}
	if n := s.counter("tandem.events.delivered", toATS, applied); n != 1 {
		t.Fatalf("delivered = %d, want 1", n)
	}
}

// A handler that fails rolls back the id with its changes, so the
// redelivered event is applied, once.
func TestContract_FailedApplyIsRetried(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startReceiver()
	s.failApply.Store(2)
	s.publish(stageEvent("cand-1", 1, "after two failures"))
	eventually(t, "applied after the handler recovered", func() bool { return equal(s.applied("cand-1"), []string{"after two failures"}) })
	eventually(t, "the job completed", func() bool { return s.jobStates()["completed"] == 1 })
	if n := s.counter("tandem.events.retried", toATS, attribute.String("rpc.grpc.status_code", codes.Internal.String())); n != 2 {
		t.Fatalf("retried (Internal) = %d, want 2", n)
	}
}

// A payload the receiver cannot read is refused, and the outbox gives up
// on it rather than retrying forever.
func TestContract_RefusedEventIsAbandoned(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startReceiver()
	ev := stageEvent("cand-1", 1, "")
	ev.Payload = wrapperspb.Int64(7) // not the StringValue the handler reads
	s.publish(ev)
	eventually(t, "the job cancelled", func() bool { return s.jobStates()["cancelled"] == 1 })
	if n := s.counter("tandem.events.abandoned", toATS, attribute.String("tandem.event.reason", "refused")); n != 1 {
		t.Fatalf("abandoned = %d, want 1", n)
	}
	var recorded int
	if err := s.recvDB.QueryRow(t.Context(), "SELECT count(*) FROM processed_events").Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != 0 {
		t.Fatalf("a refused event's id was recorded (%d rows): it must stay deliverable once fixed", recorded)
	}
}

// The receiver's span links to the span that published the event, across
// the outbox and the network.
func TestContract_ReceiverSpanLinksToPublisher(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startReceiver()
	ctx, parent := s.tp.Tracer("test").Start(t.Context(), "change stage")
	err := pgx.BeginFunc(ctx, s.pubDB, func(tx pgx.Tx) error {
		_, err := s.pub.Publish(ctx, tx, stageEvent("cand-1", 1, "traced"))
		return err
	})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	// The receiver's span ends before the worker's, which waits for the reply.
	eventually(t, "the receiver's and the worker's spans", func() bool {
		return findSpan(s, "process "+stageChanged) != nil && findSpan(s, "deliver "+stageChanged) != nil
	})
	publish := findSpan(s, "publish "+stageChanged)
	if publish == nil {
		t.Fatal("no publish span")
	}
	if publish.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatal("the publish span is not a child of the caller's span")
	}
	for _, name := range []string{"process " + stageChanged, "deliver " + stageChanged} {
		sp := findSpan(s, name)
		if sp == nil {
			t.Fatalf("no %q span", name)
		}
		if !linksTo(sp.Links(), publish.SpanContext()) {
			t.Fatalf("%q has links %v, want one to the publish span %v", name, sp.Links(), publish.SpanContext())
		}
	}
}

func findSpan(s *stack, name string) sdktrace.ReadOnlySpan {
	for _, sp := range s.spans.Ended() {
		if sp.Name() == name {
			return sp
		}
	}
	return nil
}

func linksTo(links []sdktrace.Link, sc trace.SpanContext) bool {
	for _, l := range links {
		if l.SpanContext.TraceID() == sc.TraceID() && l.SpanContext.SpanID() == sc.SpanID() {
			return true
		}
	}
	return false
}

// Only services call Deliver, each only with its own events; a type
// without a handler is not acknowledged (the publisher keeps it).
func TestContract_DeliverGuards(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startReceiver()
	payload, err := anypb.New(wrapperspb.String("x"))
	if err != nil {
		t.Fatal(err)
	}
	event := func(typ string) *eventsv1.Event {
		return &eventsv1.Event{Id: "g-" + typ, Type: typ, Source: "outreach", OrganizationId: "org-1", AggregateId: "cand-1", Payload: payload}
	}
	cases := []struct {
		name   string
		caller string
		ev     *eventsv1.Event
		want   codes.Code
	}{
		{"another service's event", "mailbox", event(stageChanged), codes.PermissionDenied},
		{"a type without a handler", "outreach", event("candidate.merged"), codes.FailedPrecondition},
		{"no id", "outreach", &eventsv1.Event{Type: stageChanged, Source: "outreach", OrganizationId: "o", AggregateId: "a", Payload: payload}, codes.InvalidArgument},
		{"no payload", "outreach", &eventsv1.Event{Id: "np", Type: stageChanged, Source: "outreach", OrganizationId: "o", AggregateId: "a"}, codes.InvalidArgument},
	}
	for _, c := range cases {
		_, err := s.sinkClient(c.caller).Deliver(t.Context(), &eventsv1.DeliverRequest{Event: c.ev})
		if status.Code(err) != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// No service token: the policy refuses before the sink runs.
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = eventsv1.NewEventSinkServiceClient(conn).Deliver(t.Context(), &eventsv1.DeliverRequest{Event: event(stageChanged)})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("without a service token: %v, want Unauthenticated", err)
	}
	// A sink served without the authenticator refuses everyone.
	_, err = events.NewSink(s.receiver).Deliver(t.Context(), &eventsv1.DeliverRequest{Event: event(stageChanged)})
	if st, _ := grpcserver.ToStatus(err); st.Code() != codes.PermissionDenied {
		t.Errorf("without a caller in the context: %v, want PermissionDenied", err)
	}
	if got := s.applied("cand-1"); len(got) != 0 {
		t.Fatalf("applied %v from refused calls", got)
	}
}
