package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func stageNames(ss []store.Stage) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func mustStages(t *testing.T, st *store.Store, org string) []store.Stage {
	t.Helper()
	ss, err := st.Stages(t.Context(), org, false)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// recorder is a Publish that keeps what it was given.
type recorder struct {
	mu    sync.Mutex
	moves []store.StageMove
	fail  error
}

func (r *recorder) publish(_ context.Context, _ pgx.Tx, m store.StageMove) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.moves = append(r.moves, m)
	return nil
}

func TestDefaultStagesOnceEvenWhenFirstUsesRace(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { _, errs[i] = st.Stages(t.Context(), org, false) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ss, err := st.Stages(t.Context(), org, true)
	if err != nil || !slices.Equal(stageNames(ss), store.DefaultStages) {
		t.Fatalf("stages %v, %v", stageNames(ss), err)
	}
	c := mustCreate(t, st, store.Candidate{OrgID: org, Name: "New one"})
	if c.StageID != ss[0].ID || c.StageVersion != 0 {
		t.Fatalf("a new candidate starts in %s: %+v", ss[0].Name, c)
	}
}

func TestStageSetChanges(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	added, err := st.CreateStage(t.Context(), org, "Phone screen")
	if err != nil || added.Position != len(store.DefaultStages) {
		t.Fatalf("add: %+v, %v", added, err)
	}
	if _, err := st.CreateStage(t.Context(), org, "phone SCREEN"); !errors.Is(err, store.ErrStageNameTaken) {
		t.Fatalf("a second stage of one name: %v", err)
	}
	renamed, err := st.RenameStage(t.Context(), org, added.ID, "Screen")
	if err != nil || renamed.Name != "Screen" {
		t.Fatalf("rename: %+v, %v", renamed, err)
	}
	if _, err := st.RenameStage(t.Context(), newOrg(), added.ID, "Mine"); !errors.Is(err, store.ErrStageNotFound) {
		t.Fatalf("renaming another organization's stage: %v", err)
	}
	ss := mustStages(t, st, org)
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[len(ss)-1-i] = s.ID
	}
	reordered, err := st.ReorderStages(t.Context(), org, ids)
	if err != nil || reordered[0].Name != "Screen" || reordered[len(reordered)-1].Name != "New" {
		t.Fatalf("reorder: %v, %v", stageNames(reordered), err)
	}
	if _, err := st.ReorderStages(t.Context(), org, ids[1:]); !errors.Is(err, store.ErrStageOrder) {
		t.Fatalf("an order missing a stage: %v", err)
	}
	if _, err := st.ReorderStages(t.Context(), org, append(ids[1:], ids[1])); !errors.Is(err, store.ErrStageOrder) {
		t.Fatalf("an order naming a stage twice: %v", err)
	}
}

func TestMoveIsVersionedOnTheTimelineAndPublishedInTheTransaction(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	c := mustCreate(t, st, store.Candidate{OrgID: org, Name: "Mover"})
	ss := mustStages(t, st, org)
	rec := &recorder{}
	moved, err := st.MoveCandidate(t.Context(), org, c.ID, ss[1].ID, store.Move{Actor: "u", Reason: "sent", Source: "user"}, rec.publish)
	if err != nil || moved.StageID != ss[1].ID || moved.StageVersion != 1 {
		t.Fatalf("move: %+v, %v", moved, err)
	}
	if len(rec.moves) != 1 || rec.moves[0].From.ID != ss[0].ID || rec.moves[0].To.Name != "Contacted" || rec.moves[0].Candidate.StageVersion != 1 {
		t.Fatalf("published %+v", rec.moves)
	}
	// The same stage again changes nothing.
	if again, err := st.MoveCandidate(t.Context(), org, c.ID, ss[1].ID, store.Move{Source: "ats"}, rec.publish); err != nil || again.StageVersion != 1 || len(rec.moves) != 1 {
		t.Fatalf("a move to the current stage: %+v, %v, %d published", again, err, len(rec.moves))
	}
	// A publish that fails takes the move back with it.
	rec.fail = errors.New("outbox down")
	if _, err := st.MoveCandidate(t.Context(), org, c.ID, ss[2].ID, store.Move{Source: "user"}, rec.publish); !errors.Is(err, rec.fail) {
		t.Fatalf("want the publish error, got %v", err)
	}
	got, err := st.Candidate(t.Context(), org, c.ID)
	if err != nil || got.StageID != ss[1].ID || got.StageVersion != 1 {
		t.Fatalf("a failed publish left the move: %+v, %v", got, err)
	}
	entries, err := st.Timeline(t.Context(), org, c.ID, store.Viewer{}, []string{store.KindStageChanged}, "", 10)
	if err != nil || len(entries) != 1 || entries[0].Detail["from_stage_name"] != "New" || entries[0].Detail["to_stage_name"] != "Contacted" ||
		entries[0].Detail["reason"] != "sent" || entries[0].ActorUserID != "u" {
		t.Fatalf("timeline %+v, %v", entries, err)
	}
	rec.fail = nil
	if _, err := st.MoveCandidate(t.Context(), newOrg(), c.ID, ss[2].ID, store.Move{}, rec.publish); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("moving another organization's candidate: %v", err)
	}
	other := newOrg()
	otherStages := mustStages(t, st, other)
	if _, err := st.MoveCandidate(t.Context(), org, c.ID, otherStages[2].ID, store.Move{}, rec.publish); !errors.Is(err, store.ErrStageNotFound) {
		t.Fatalf("moving to another organization's stage: %v", err)
	}
}

func TestRetireAsksWhereCandidatesGo(t *testing.T) {
	t.Parallel()
	st := newStore(t)
	org := newOrg()
	ss := mustStages(t, st, org)
	rec := &recorder{}
	for i := range 3 {
		c := mustCreate(t, st, store.Candidate{OrgID: org, Name: fmt.Sprintf("c%d", i)})
		if _, err := st.MoveCandidate(t.Context(), org, c.ID, ss[3].ID, store.Move{Source: "user"}, rec.publish); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := st.RetireStage(t.Context(), org, ss[3].ID, "", store.Move{}, rec.publish)
	var full *store.StageHasCandidatesError
	if !errors.As(err, &full) || full.Candidates != 3 {
		t.Fatalf("retiring a stage with candidates: %v", err)
	}
	before := len(rec.moves)
	retired, moved, err := st.RetireStage(t.Context(), org, ss[3].ID, ss[4].ID, store.Move{Actor: "admin", Source: "user"}, rec.publish)
	if err != nil || moved != 3 || retired.RetiredAt == nil || len(rec.moves) != before+3 {
		t.Fatalf("retire: %+v moved %d, %v", retired, moved, err)
	}
	found, err := st.SearchCandidates(t.Context(), org, store.Filter{StageID: ss[4].ID}, store.ByName, nil, 10)
	if err != nil || len(found) != 3 || found[0].StageVersion != 2 {
		t.Fatalf("the candidates should be in %s: %+v, %v", ss[4].Name, found, err)
	}
	active := mustStages(t, st, org)
	if slices.Contains(stageNames(active), ss[3].Name) {
		t.Fatalf("a retired stage is listed as active: %v", stageNames(active))
	}
	if _, err := st.MoveCandidate(t.Context(), org, found[0].ID, ss[3].ID, store.Move{}, rec.publish); !errors.Is(err, store.ErrStageNotFound) {
		t.Fatalf("moving to a retired stage: %v", err)
	}
	// A retired stage's name is free again.
	if _, err := st.CreateStage(t.Context(), org, ss[3].Name); err != nil {
		t.Fatal(err)
	}
}
