package stages_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"google.golang.org/protobuf/proto"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/stages"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// fakeStore applies a move to one candidate and calls publish, as the
// store does inside its transaction; it records what reached it.
type fakeStore struct {
	c       store.Candidate
	stages  map[string]store.Stage
	calls   int
	lastArg string
	retire  error
}

func (f *fakeStore) Stages(context.Context, string, bool) ([]store.Stage, error) { return nil, nil }
func (f *fakeStore) CreateStage(_ context.Context, _, name string) (store.Stage, error) {
	f.calls++
	return store.Stage{Name: name}, nil
}
func (f *fakeStore) RenameStage(_ context.Context, _, id, name string) (store.Stage, error) {
	f.calls++
	return store.Stage{ID: id, Name: name}, nil
}
func (f *fakeStore) ReorderStages(_ context.Context, _ string, _ []string) ([]store.Stage, error) {
	f.calls++
	return nil, nil
}
func (f *fakeStore) RetireStage(_ context.Context, _, _, moveTo string, _ store.Move, _ store.Publish) (store.Stage, int, error) {
	f.calls++
	f.lastArg = moveTo
	return store.Stage{}, 0, f.retire
}
func (f *fakeStore) MoveCandidate(ctx context.Context, _, _, stageID string, m store.Move, publish store.Publish) (store.Candidate, error) {
	f.calls++
	from := f.stages[f.c.StageID]
	f.c.StageID = stageID
	f.c.StageVersion++
	return f.c, publish(ctx, nil, store.StageMove{Move: m, Candidate: f.c, From: from, To: f.stages[stageID]})
}

// outbox stands in for River: it keeps the jobs the real Publisher inserts.
type outbox struct{ params []river.InsertManyParams }

func (o *outbox) InsertManyTx(_ context.Context, _ pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	o.params = append(o.params, params...)
	return nil, nil
}

type noRows struct{}

func (noRows) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return nil, errors.New("not in this test")
}

func publisher(t *testing.T) (*events.Publisher, *outbox) {
	t.Helper()
	box := &outbox{}
	pub, err := events.NewPublisher(box, events.PublisherOptions{Source: "outreach", Schema: "outreach", DB: noRows{},
		Subscribers: []events.Subscriber{{Name: "atsbridge", Target: "localhost:1", Types: []string{"candidate.*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pub.Close(); err != nil {
			t.Error(err)
		}
	})
	return pub, box
}

// published decodes the events in the outbox.
func (o *outbox) published(t *testing.T) []*eventsv1.Event {
	t.Helper()
	var out []*eventsv1.Event
	for _, p := range o.params {
		b, err := json.Marshal(p.Args)
		if err != nil {
			t.Fatal(err)
		}
		var args struct {
			Event []byte `json:"event"`
		}
		if err := json.Unmarshal(b, &args); err != nil {
			t.Fatal(err)
		}
		ev := &eventsv1.Event{}
		if err := proto.Unmarshal(args.Event, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

var recruiter = authz.Principal{Kind: authz.KindUser, OrgID: "org", UserID: "u1", Role: authz.RoleRecruiter}

func newWorld(t *testing.T) (*stages.Stages, *fakeStore, *outbox) {
	pub, box := publisher(t)
	st := &fakeStore{c: store.Candidate{ID: "c1", OrgID: "org", StageID: "s-new", StageVersion: 4},
		stages: map[string]store.Stage{"s-new": {ID: "s-new", Name: "New"}, "s-int": {ID: "s-int", Name: "Interested"}}}
	return stages.New(st, pub, nil), st, box
}

func TestMovePublishesTheStageChangeWithTheVersion(t *testing.T) {
	s, _, box := newWorld(t)
	c, err := s.Move(t.Context(), recruiter, "c1", "s-int", " liked the role ")
	if err != nil || c.StageVersion != 5 {
		t.Fatalf("move: %+v, %v", c, err)
	}
	evs := box.published(t)
	if len(evs) != 1 {
		t.Fatalf("published %d events", len(evs))
	}
	ev := evs[0]
	if ev.GetType() != stages.EventStageChanged || ev.GetAggregateId() != "c1" || ev.GetVersion() != 5 || ev.GetOrganizationId() != "org" || ev.GetSource() != "outreach" {
		t.Fatalf("event %v", ev)
	}
	payload := &outreachv1.CandidateStageChanged{}
	if err := ev.GetPayload().UnmarshalTo(payload); err != nil {
		t.Fatal(err)
	}
	if payload.GetFromStageName() != "New" || payload.GetToStageName() != "Interested" || payload.GetSource() != outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_USER ||
		payload.GetActorUserId() != "u1" || payload.GetReason() != "liked the role" {
		t.Fatalf("payload %v", payload)
	}
}

// A move from the ATS is applied the same way, and marked as such.
func TestATSMoveIsMarked(t *testing.T) {
	s, _, box := newWorld(t)
	if _, err := s.ApplyATSMove(t.Context(), "org", "c1", "s-int", "moved in Lever"); err != nil {
		t.Fatal(err)
	}
	payload := &outreachv1.CandidateStageChanged{}
	if err := box.published(t)[0].GetPayload().UnmarshalTo(payload); err != nil {
		t.Fatal(err)
	}
	if payload.GetSource() != outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_ATS || payload.GetActorUserId() != "" {
		t.Fatalf("payload %v", payload)
	}
}

func TestBadInputReachesNoStore(t *testing.T) {
	s, st, _ := newWorld(t)
	for field, call := range map[string]func() error{
		"stage.name": func() error { _, err := s.Create(t.Context(), "org", " \t"); return err },
		"update_mask": func() error {
			_, err := s.Rename(t.Context(), "org", "s-new", "Fresh", []string{"position"})
			return err
		},
		"reason": func() error { _, err := s.Move(t.Context(), recruiter, "c1", "s-int", "a\x00b"); return err },
		"stage_ids[1]": func() error {
			_, err := s.Reorder(t.Context(), "org", []string{"a", "a"})
			return err
		},
		"move_to_stage_id": func() error { _, _, err := s.Retire(t.Context(), recruiter, "s-new", "s-new"); return err },
	} {
		var ae *apperr.Error
		if err := call(); !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if st.calls != 0 {
		t.Fatalf("bad input reached the store %d times", st.calls)
	}
}

func TestRetireWithCandidatesAsksWhereTheyGo(t *testing.T) {
	s, st, _ := newWorld(t)
	st.retire = &store.StageHasCandidatesError{Candidates: 2}
	_, _, err := s.Retire(t.Context(), recruiter, "s-new", "")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindFailedPrecondition || ae.Reason != "stage_has_candidates" {
		t.Fatalf("want stage_has_candidates, got %v", err)
	}
	st.retire = store.ErrStageNotFound
	if _, _, err := s.Retire(t.Context(), recruiter, "s-new", "gone"); !errors.As(err, &ae) || ae.Kind != apperr.KindNotFound || st.lastArg != "gone" {
		t.Fatalf("want NotFound, got %v", err)
	}
}
