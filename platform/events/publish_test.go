package events

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
)

type recordingInserter struct{ params []river.InsertManyParams }

func (r *recordingInserter) InsertManyTx(_ context.Context, _ pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	r.params = append(r.params, params...)
	return nil, nil
}

type noRows struct{}

func (noRows) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errors.New("not queried in this test")
}

func newTestPublisher(t *testing.T, jobs jobInserter, tp *sdktrace.TracerProvider) *Publisher {
	t.Helper()
	subs, err := ParseSubscribers("atsbridge=a:1,mailbox=b:2,identity=c:3", "atsbridge=candidate.*,mailbox=candidate.stage_changed,identity=user.*")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPublisher(jobs, PublisherOptions{Source: "outreach", Subscribers: subs, Schema: "outreach", DB: noRows{}, MaxAttempts: 7, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// Publish inserts one job per subscriber whose routes match, on the events
// queue, carrying the event as published and the publish span's context.
func TestPublishRoutesAndEncodes(t *testing.T) {
	jobs := &recordingInserter{}
	tp := sdktrace.NewTracerProvider()
	p := newTestPublisher(t, jobs, tp)
	id, err := p.Publish(t.Context(), nil, Event{Type: "candidate.stage_changed", OrganizationID: "org", AggregateID: "cand", Version: 3, Payload: wrapperspb.String("Replied")})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.params) != 2 {
		t.Fatalf("%d jobs, want one each for atsbridge and mailbox", len(jobs.params))
	}
	for i, want := range []string{"atsbridge", "mailbox"} {
		job := jobs.params[i]
		args := job.Args.(deliveryArgs)
		if args.Subscriber != want || args.EventID != id || job.InsertOpts.Queue != Queue || job.InsertOpts.MaxAttempts != 7 {
			t.Fatalf("job %d = %+v %+v", i, args, job.InsertOpts)
		}
		var ev eventsv1.Event
		if err := proto.Unmarshal(args.Event, &ev); err != nil {
			t.Fatal(err)
		}
		var note wrapperspb.StringValue
		if err := ev.GetPayload().UnmarshalTo(&note); err != nil || note.GetValue() != "Replied" {
			t.Fatalf("payload %v (%v)", note.GetValue(), err)
		}
		if ev.GetSource() != "outreach" || ev.GetVersion() != 3 || ev.GetOccurredAt() == nil || ev.GetTraceparent() == "" {
			t.Fatalf("event %v", &ev)
		}
	}
	// No subscriber wants it: nothing stored, still an id.
	jobs.params = nil
	if id, err := p.Publish(t.Context(), nil, Event{Type: "flow.created", OrganizationID: "org", AggregateID: "f", Payload: wrapperspb.String("x")}); err != nil || id == "" || len(jobs.params) != 0 {
		t.Fatalf("unrouted event: id %q, err %v, %d jobs", id, err, len(jobs.params))
	}
}

func TestPublishRefusesInvalidEvents(t *testing.T) {
	jobs := &recordingInserter{}
	p := newTestPublisher(t, jobs, sdktrace.NewTracerProvider())
	valid := Event{Type: "candidate.stage_changed", OrganizationID: "org", AggregateID: "cand", Payload: wrapperspb.String("x")}
	for name, mutate := range map[string]func(*Event){
		"no type":         func(e *Event) { e.Type = "" },
		"type without .":  func(e *Event) { e.Type = "candidate" },
		"upper case type": func(e *Event) { e.Type = "Candidate.Moved" },
		"no organization": func(e *Event) { e.OrganizationID = "" },
		"no aggregate":    func(e *Event) { e.AggregateID = "" },
		"negative":        func(e *Event) { e.Version = -1 },
		"no payload":      func(e *Event) { e.Payload = nil },
	} {
		ev := valid
		mutate(&ev)
		if _, err := p.Publish(t.Context(), nil, ev); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: %v, want ErrInvalidEvent", name, err)
		}
	}
	if len(jobs.params) != 0 {
		t.Fatalf("invalid events inserted %d jobs", len(jobs.params))
	}
}
