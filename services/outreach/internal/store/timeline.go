package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Entry is one thing that happened to a candidate.
type Entry struct {
	ID          string
	CandidateID string
	Kind        string
	ActorUserID string
	OccurredAt  time.Time
	// Detail is the kind's own data.
	Detail map[string]string
}

// addEntry puts an entry on a candidate's timeline, in tx.
func addEntry(ctx context.Context, tx pgx.Tx, orgID, candidateID, kind, actor string, detail map[string]string) error {
	id, err := newID()
	if err != nil {
		return err
	}
	if detail == nil {
		detail = map[string]string{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("timeline detail: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO timeline_entries (id, org_id, candidate_id, kind, actor_user_id, occurred_at, detail)
		VALUES ($1, $2, $3, $4, $5, clock_timestamp(), $6)`, id, orgID, candidateID, kind, actor, b)
	return postgres.MapError(err)
}

// Timeline returns at most limit entries of a candidate that v may see, in
// the order they happened, after the entry id after ("" from the start),
// of the kinds given (none: every kind). A survivor's timeline holds the
// entries of the candidates merged into it too.
func (s *Store) Timeline(ctx context.Context, orgID, candidateID string, v Viewer, kinds []string, after string, limit int) (_ []Entry, err error) {
	ctx, sp := span(ctx, "Timeline")
	defer func() { end(sp, err) }()
	if after != "" && !isUUID(after) {
		return nil, postgres.ErrNotFound
	}
	rows, err := s.db.Query(ctx, `SELECT t.id::text, t.candidate_id::text, t.kind, t.actor_user_id, t.occurred_at, t.detail
		FROM timeline_entries t
		WHERE t.org_id = $1
		  AND (t.candidate_id = $2 OR t.candidate_id IN (SELECT id FROM candidates WHERE org_id = $1 AND merged_into = $2))
		  AND (cardinality($3::text[]) = 0 OR t.kind = ANY($3))
		  AND ($4 = '' OR (t.occurred_at, t.id) > (SELECT occurred_at, id FROM timeline_entries WHERE id::text = $4))
		  AND NOT (t.kind = 'note' AND t.detail->>'visibility' = 'private' AND t.actor_user_id <> $6 AND NOT $7)
		ORDER BY t.occurred_at, t.id LIMIT $5`, orgID, candidateID, nonNil(kinds), after, limit, v.UserID, v.Admin)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var detail []byte
		if err := rows.Scan(&e.ID, &e.CandidateID, &e.Kind, &e.ActorUserID, &e.OccurredAt, &detail); err != nil {
			return nil, postgres.MapError(err)
		}
		if err := json.Unmarshal(detail, &e.Detail); err != nil {
			return nil, fmt.Errorf("timeline entry %s: %w", e.ID, err)
		}
		out = append(out, e)
	}
	return out, postgres.MapError(rows.Err())
}

// MergedCandidateIDs returns the ids of the organization's candidates
// merged into survivorID, whose history its timeline holds too.
func (s *Store) MergedCandidateIDs(ctx context.Context, orgID, survivorID string) (_ []string, err error) {
	ctx, sp := span(ctx, "MergedCandidateIDs")
	defer func() { end(sp, err) }()
	if !isUUID(survivorID) {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT id::text FROM candidates WHERE org_id = $1 AND merged_into = $2 ORDER BY id`, orgID, survivorID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.MapError(err)
}
