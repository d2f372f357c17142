package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// DefaultStages are every organization's first stage set (DESIGN §7).
var DefaultStages = []string{"New", "Contacted", "Replied", "Interested", "Not interested", "Hired"}

// KindStageChanged is the timeline entry of a stage move.
const KindStageChanged = "stage_changed"

// Sentinels of the stage set.
var (
	// ErrStageNotFound is a stage the organization does not have, or a
	// retired one where an active one is needed.
	ErrStageNotFound = errors.New("stage not found")
	// ErrStageNameTaken is a name another active stage has.
	ErrStageNameTaken = errors.New("an active stage has this name")
	// ErrStageOrder is a new order that does not name every active stage
	// exactly once.
	ErrStageOrder = errors.New("the order must name every active stage once")
	// ErrLastStage is retiring the only active stage.
	ErrLastStage = errors.New("the last active stage cannot be retired")
)

// StageHasCandidatesError is retiring a stage that holds candidates
// without saying where they go.
type StageHasCandidatesError struct{ Candidates int }

func (e *StageHasCandidatesError) Error() string {
	return fmt.Sprintf("the stage holds %d candidates", e.Candidates)
}

// Stage is a step of an organization's pipeline.
type Stage struct {
	ID        string
	OrgID     string
	Name      string
	Position  int
	RetiredAt *time.Time
}

// Move is who moves a candidate and why.
type Move struct {
	Actor  string
	Reason string
	// Source is "user" or "ats".
	Source string
}

// StageMove is a move as it was applied, for the event the caller
// publishes in the same transaction.
type StageMove struct {
	Move
	Candidate Candidate // after the move
	From, To  Stage
}

// Publish is called inside the transaction of each move; its error rolls
// the move back.
type Publish func(ctx context.Context, tx pgx.Tx, m StageMove) error

const stageColumns = `id::text, org_id::text, name, position, retired_at`

func scanStage(row pgx.Row) (Stage, error) {
	var s Stage
	err := row.Scan(&s.ID, &s.OrgID, &s.Name, &s.Position, &s.RetiredAt)
	return s, postgres.MapError(err)
}

// ensureStages gives the organization its default stages the first time it
// needs any. The stage_sets row is the once: a concurrent first use waits
// on its key and then finds it.
func ensureStages(ctx context.Context, tx pgx.Tx, orgID string) error {
	tag, err := tx.Exec(ctx, `INSERT INTO stage_sets (org_id) VALUES ($1) ON CONFLICT DO NOTHING`, orgID)
	if err != nil {
		return postgres.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	for i, name := range DefaultStages {
		id, err := newID()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO stages (id, org_id, name, position) VALUES ($1, $2, $3, $4)`, id, orgID, name, i); err != nil {
			return postgres.MapError(err)
		}
	}
	return nil
}

// lockStageSet creates the set if needed and takes its lock, which every
// change to the set holds.
func lockStageSet(ctx context.Context, tx pgx.Tx, orgID string) error {
	if err := ensureStages(ctx, tx, orgID); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT 1 FROM stage_sets WHERE org_id = $1 FOR UPDATE`, orgID)
	return postgres.MapError(err)
}

func stages(ctx context.Context, tx pgx.Tx, orgID string, retired bool) ([]Stage, error) {
	rows, err := tx.Query(ctx, `SELECT `+stageColumns+` FROM stages WHERE org_id = $1 AND ($2 OR retired_at IS NULL) ORDER BY retired_at IS NOT NULL, position, id`, orgID, retired)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []Stage
	for rows.Next() {
		s, err := scanStage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, postgres.MapError(rows.Err())
}

// Stages returns the organization's stages in order (the retired ones
// after the active ones, when asked for), creating the defaults on first
// use.
func (s *Store) Stages(ctx context.Context, orgID string, retired bool) (_ []Stage, err error) {
	ctx, sp := span(ctx, "Stages")
	defer func() { end(sp, err) }()
	var out []Stage
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := ensureStages(ctx, tx, orgID); err != nil {
			return err
		}
		out, err = stages(ctx, tx, orgID, retired)
		return err
	})
	return out, err
}

// CreateStage adds an active stage at the end.
func (s *Store) CreateStage(ctx context.Context, orgID, name string) (_ Stage, err error) {
	ctx, sp := span(ctx, "CreateStage")
	defer func() { end(sp, err) }()
	var out Stage
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockStageSet(ctx, tx, orgID); err != nil {
			return err
		}
		id, err := newID()
		if err != nil {
			return err
		}
		out, err = scanStage(tx.QueryRow(ctx, `INSERT INTO stages (id, org_id, name, position)
			VALUES ($1, $2, $3, (SELECT coalesce(max(position), -1) + 1 FROM stages WHERE org_id = $2 AND retired_at IS NULL))
			RETURNING `+stageColumns, id, orgID, name))
		return nameTaken(err)
	})
	return out, err
}

func nameTaken(err error) error {
	if errors.Is(err, postgres.ErrConflict) {
		return fmt.Errorf("%w: %w", ErrStageNameTaken, err)
	}
	return err
}

// RenameStage renames an active stage.
func (s *Store) RenameStage(ctx context.Context, orgID, id, name string) (_ Stage, err error) {
	ctx, sp := span(ctx, "RenameStage")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Stage{}, ErrStageNotFound
	}
	out, err := scanStage(s.db.QueryRow(ctx, `UPDATE stages SET name = $3 WHERE org_id = $1 AND id = $2 AND retired_at IS NULL RETURNING `+stageColumns, orgID, id, name))
	if errors.Is(err, postgres.ErrNotFound) {
		return Stage{}, ErrStageNotFound
	}
	return out, nameTaken(err)
}

// ReorderStages puts the active stages in the order of ids, which must name
// each of them once.
func (s *Store) ReorderStages(ctx context.Context, orgID string, ids []string) (_ []Stage, err error) {
	ctx, sp := span(ctx, "ReorderStages")
	defer func() { end(sp, err) }()
	var out []Stage
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockStageSet(ctx, tx, orgID); err != nil {
			return err
		}
		current, err := stages(ctx, tx, orgID, false)
		if err != nil {
			return err
		}
		if len(ids) != len(current) {
			return ErrStageOrder
		}
		active := map[string]bool{}
		for _, st := range current {
			active[st.ID] = true
		}
		for i, id := range ids {
			if !active[id] {
				return ErrStageOrder
			}
			delete(active, id)
			if _, err := tx.Exec(ctx, `UPDATE stages SET position = $3 WHERE org_id = $1 AND id = $2`, orgID, id, i); err != nil {
				return postgres.MapError(err)
			}
		}
		out, err = stages(ctx, tx, orgID, false)
		return err
	})
	return out, err
}

// RetireStage retires an active stage. Its candidates (live or deleted,
// not merged) go to moveTo, each move on their timeline and published; a
// stage with candidates and no moveTo is a *StageHasCandidatesError.
func (s *Store) RetireStage(ctx context.Context, orgID, id, moveTo string, m Move, publish Publish) (_ Stage, moved int, err error) {
	ctx, sp := span(ctx, "RetireStage")
	defer func() { end(sp, err) }()
	var out Stage
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockStageSet(ctx, tx, orgID); err != nil {
			return err
		}
		st, err := activeStage(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		var active int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM stages WHERE org_id = $1 AND retired_at IS NULL`, orgID).Scan(&active); err != nil {
			return postgres.MapError(err)
		}
		if active == 1 {
			return ErrLastStage
		}
		rows, err := tx.Query(ctx, `SELECT id::text FROM candidates WHERE org_id = $1 AND stage_id = $2 AND merged_into IS NULL ORDER BY id FOR UPDATE`, orgID, st.ID)
		if err != nil {
			return postgres.MapError(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return postgres.MapError(err)
		}
		if len(ids) > 0 && moveTo == "" {
			return &StageHasCandidatesError{Candidates: len(ids)}
		}
		if len(ids) > 0 {
			to, err := activeStage(ctx, tx, orgID, moveTo)
			if err != nil {
				return err
			}
			if to.ID == st.ID {
				return ErrStageNotFound
			}
			for _, cid := range ids {
				c, err := candidate(ctx, tx, orgID, cid, "FOR UPDATE")
				if err != nil {
					return err
				}
				if _, err := moveCandidate(ctx, tx, c, st, to, m, publish); err != nil {
					return err
				}
			}
		}
		moved = len(ids)
		out, err = scanStage(tx.QueryRow(ctx, `UPDATE stages SET retired_at = now() WHERE id = $1 RETURNING `+stageColumns, st.ID))
		return err
	})
	return out, moved, err
}

func activeStage(ctx context.Context, tx pgx.Tx, orgID, id string) (Stage, error) {
	if !isUUID(id) {
		return Stage{}, ErrStageNotFound
	}
	st, err := scanStage(tx.QueryRow(ctx, `SELECT `+stageColumns+` FROM stages WHERE org_id = $1 AND id = $2 AND retired_at IS NULL`, orgID, id))
	if errors.Is(err, postgres.ErrNotFound) {
		return Stage{}, ErrStageNotFound
	}
	return st, err
}

// MoveCandidate moves a live candidate to an active stage under its row
// lock: the stage version grows by one, the move goes on the timeline, and
// publish runs in the same transaction. A move to the stage it is in
// changes nothing and publishes nothing.
func (s *Store) MoveCandidate(ctx context.Context, orgID, candidateID, stageID string, m Move, publish Publish) (_ Candidate, err error) {
	ctx, sp := span(ctx, "MoveCandidate")
	defer func() { end(sp, err) }()
	var out Candidate
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = MoveCandidateTx(ctx, tx, orgID, candidateID, stageID, m, publish)
		return err
	})
	return out, err
}

// MoveCandidateTx is MoveCandidate in the caller's transaction (an event
// applied by the sink).
func MoveCandidateTx(ctx context.Context, tx pgx.Tx, orgID, candidateID, stageID string, m Move, publish Publish) (Candidate, error) {
	if err := ensureStages(ctx, tx, orgID); err != nil {
		return Candidate{}, err
	}
	c, err := candidate(ctx, tx, orgID, candidateID, "FOR UPDATE")
	if err != nil {
		return Candidate{}, err
	}
	if !c.Live() {
		return Candidate{}, ErrNotLive
	}
	to, err := activeStage(ctx, tx, orgID, stageID)
	if err != nil {
		return Candidate{}, err
	}
	if c.StageID == to.ID {
		return c, nil
	}
	var from Stage
	if c.StageID != "" {
		if from, err = scanStage(tx.QueryRow(ctx, `SELECT `+stageColumns+` FROM stages WHERE id = $1`, c.StageID)); err != nil {
			return Candidate{}, err
		}
	}
	return moveCandidate(ctx, tx, c, from, to, m, publish)
}

func moveCandidate(ctx context.Context, tx pgx.Tx, c Candidate, from, to Stage, m Move, publish Publish) (Candidate, error) {
	if _, err := tx.Exec(ctx, `UPDATE candidates SET stage_id = $2, stage_version = stage_version + 1, updated_at = now() WHERE id = $1`, c.ID, to.ID); err != nil {
		return Candidate{}, postgres.MapError(err)
	}
	if err := addEntry(ctx, tx, c.OrgID, c.ID, KindStageChanged, m.Actor, map[string]string{
		"from_stage_id": from.ID, "from_stage_name": from.Name, "to_stage_id": to.ID, "to_stage_name": to.Name,
		"reason": m.Reason, "source": m.Source,
	}); err != nil {
		return Candidate{}, err
	}
	after, err := scanCandidate(tx.QueryRow(ctx, `SELECT `+candidateColumns+` FROM candidates c WHERE c.id = $1`, c.ID))
	if err != nil {
		return Candidate{}, err
	}
	if err := afterStageMove(ctx, tx, after, to); err != nil {
		return Candidate{}, fmt.Errorf("flows after a stage move: %w", err)
	}
	if err := publish(ctx, tx, StageMove{Move: m, Candidate: after, From: from, To: to}); err != nil {
		return Candidate{}, fmt.Errorf("publish stage move: %w", err)
	}
	return after, nil
}
