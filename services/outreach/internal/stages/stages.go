// Package stages holds the rules of an organization's stage set (created
// with the defaults on first use; renamed, extended, reordered and retired
// by admins) and of moving a candidate between stages: on the timeline, and
// published as `candidate.stage_changed` in the same transaction, versioned
// by the candidate's stage version.
package stages

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/validate"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// EventStageChanged is the type of the event a move publishes.
const EventStageChanged = "candidate.stage_changed"

// Sources of a move.
const (
	SourceUser = "user"
	SourceATS  = "ats"
)

// Limits of the input.
const (
	MaxNameLen   = 50
	MaxReasonLen = 500
)

// Store is what the package needs of the store.
type Store interface {
	Stages(ctx context.Context, orgID string, retired bool) ([]store.Stage, error)
	CreateStage(ctx context.Context, orgID, name string) (store.Stage, error)
	RenameStage(ctx context.Context, orgID, id, name string) (store.Stage, error)
	ReorderStages(ctx context.Context, orgID string, ids []string) ([]store.Stage, error)
	RetireStage(ctx context.Context, orgID, id, moveTo string, m store.Move, publish store.Publish) (store.Stage, int, error)
	MoveCandidate(ctx context.Context, orgID, candidateID, stageID string, m store.Move, publish store.Publish) (store.Candidate, error)
}

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// Stages runs the rules over the store.
type Stages struct {
	store Store
	pub   Publisher
	now   func() time.Time
}

// New returns the rules over st, publishing with pub; now is the clock
// (time.Now when nil).
func New(st Store, pub Publisher, now func() time.Time) *Stages {
	if now == nil {
		now = time.Now
	}
	return &Stages{store: st, pub: pub, now: now}
}

// List returns the organization's stages in order.
func (s *Stages) List(ctx context.Context, orgID string, retired bool) ([]store.Stage, error) {
	return s.store.Stages(ctx, orgID, retired)
}

// Create adds a stage at the end.
func (s *Stages) Create(ctx context.Context, orgID, name string) (store.Stage, error) {
	name, err := validate.Text("stage.name", name, MaxNameLen)
	if err != nil {
		return store.Stage{}, err
	}
	st, err := s.store.CreateStage(ctx, orgID, name)
	return st, mapStore(err)
}

// Rename renames an active stage; paths must be exactly "name".
func (s *Stages) Rename(ctx context.Context, orgID, id, name string, paths []string) (store.Stage, error) {
	if len(paths) != 1 || paths[0] != "name" {
		return store.Stage{}, apperr.InvalidArgument("update_mask", `must be exactly "name"`)
	}
	name, err := validate.Text("stage.name", name, MaxNameLen)
	if err != nil {
		return store.Stage{}, err
	}
	st, err := s.store.RenameStage(ctx, orgID, id, name)
	return st, mapStore(err)
}

// Reorder puts the active stages in the order of ids.
func (s *Stages) Reorder(ctx context.Context, orgID string, ids []string) ([]store.Stage, error) {
	seen := map[string]bool{}
	for i, id := range ids {
		if seen[id] {
			return nil, apperr.InvalidArgument(fmt.Sprintf("stage_ids[%d]", i), "is listed twice")
		}
		seen[id] = true
	}
	out, err := s.store.ReorderStages(ctx, orgID, ids)
	return out, mapStore(err)
}

// Retire retires a stage, moving its candidates to moveTo.
func (s *Stages) Retire(ctx context.Context, caller authz.Principal, id, moveTo string) (store.Stage, int, error) {
	if moveTo != "" && moveTo == id {
		return store.Stage{}, 0, apperr.InvalidArgument("move_to_stage_id", "must be another stage")
	}
	st, moved, err := s.store.RetireStage(ctx, caller.OrgID, id, moveTo, store.Move{Actor: caller.UserID, Source: SourceUser,
		Reason: "stage retired"}, s.publish)
	return st, moved, mapStore(err)
}

// Move moves a candidate to a stage by the caller (source user).
func (s *Stages) Move(ctx context.Context, caller authz.Principal, candidateID, stageID, reason string) (store.Candidate, error) {
	if reason != "" {
		var err error
		if reason, err = validate.Text("reason", reason, MaxReasonLen); err != nil {
			return store.Candidate{}, err
		}
	}
	return s.move(ctx, caller.OrgID, candidateID, stageID, store.Move{Actor: caller.UserID, Reason: reason, Source: SourceUser})
}

// ApplyATSMove moves a candidate as the ATS says (source ats): applied as a
// person's move is, and marked so that atsbridge never pushes it back.
func (s *Stages) ApplyATSMove(ctx context.Context, orgID, candidateID, stageID, reason string) (store.Candidate, error) {
	return s.move(ctx, orgID, candidateID, stageID, store.Move{Reason: reason, Source: SourceATS})
}

func (s *Stages) move(ctx context.Context, orgID, candidateID, stageID string, m store.Move) (store.Candidate, error) {
	c, err := s.store.MoveCandidate(ctx, orgID, candidateID, stageID, m, s.publish)
	return c, mapStore(err)
}

var sourceToProto = map[string]outreachv1.StageChangeSource{
	SourceUser: outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_USER,
	SourceATS:  outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_ATS,
}

// publish is the store's callback: the event goes out with the move's
// transaction, or not at all.
func (s *Stages) publish(ctx context.Context, tx pgx.Tx, m store.StageMove) error {
	_, err := s.pub.Publish(ctx, tx, events.Event{
		Type:           EventStageChanged,
		OrganizationID: m.Candidate.OrgID,
		AggregateID:    m.Candidate.ID,
		Version:        m.Candidate.StageVersion,
		OccurredAt:     s.now(),
		Payload: &outreachv1.CandidateStageChanged{
			CandidateId: m.Candidate.ID, FromStageId: m.From.ID, FromStageName: m.From.Name,
			ToStageId: m.To.ID, ToStageName: m.To.Name, Source: sourceToProto[m.Source],
			ActorUserId: m.Actor, Reason: m.Reason,
		},
	})
	return err
}

// mapStore turns the store's refusals into client errors; anything else
// passes (a candidate not found is named by the handler).
func mapStore(err error) error {
	var full *store.StageHasCandidatesError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrStageNotFound):
		return apperr.NotFound("stage").Wrap(err)
	case errors.Is(err, store.ErrStageNameTaken):
		return (&apperr.Error{Kind: apperr.KindAlreadyExists, Field: "stage.name", Public: "an active stage has this name"}).Wrap(err)
	case errors.Is(err, store.ErrStageOrder):
		return apperr.InvalidArgument("stage_ids", "must name every active stage exactly once").Wrap(err)
	case errors.Is(err, store.ErrLastStage):
		return apperr.FailedPrecondition("last_stage", "the last active stage cannot be retired").Wrap(err)
	case errors.Is(err, store.ErrNotLive):
		return apperr.FailedPrecondition("candidate_not_live", "the candidate is deleted or merged").Wrap(err)
	case errors.As(err, &full):
		return apperr.FailedPrecondition("stage_has_candidates",
			fmt.Sprintf("the stage holds %d candidates: say where they go with move_to_stage_id", full.Candidates)).Wrap(err)
	}
	return err
}
