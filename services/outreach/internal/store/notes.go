package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// KindNote is the timeline entry of a note added.
const KindNote = "note"

// Note is a note on a candidate.
type Note struct {
	ID           string
	OrgID        string
	CandidateID  string
	AuthorUserID string
	Body         string
	Private      bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NoteChange is a note before and after a change: Before is nil for a
// note created, After for one deleted.
type NoteChange struct {
	Before, After *Note
}

// PublishNote is called inside the transaction of each change of a note;
// its error rolls the change back.
type PublishNote func(ctx context.Context, tx pgx.Tx, c NoteChange) error

// Viewer is who reads: private notes (and their timeline entries) are
// shown to their author and to admins only.
type Viewer struct {
	UserID string
	Admin  bool
}

const noteColumns = `id::text, org_id::text, candidate_id::text, author_user_id, body, private, created_at, updated_at`

func scanNote(row pgx.Row) (Note, error) {
	var n Note
	err := row.Scan(&n.ID, &n.OrgID, &n.CandidateID, &n.AuthorUserID, &n.Body, &n.Private, &n.CreatedAt, &n.UpdatedAt)
	return n, postgres.MapError(err)
}

func visibility(private bool) string {
	if private {
		return "private"
	}
	return "public"
}

// CreateNote adds a note to a live candidate (a merged id: its survivor),
// with an entry on its timeline; publish runs last.
func (s *Store) CreateNote(ctx context.Context, orgID, candidateID string, n Note, publish PublishNote) (_ Note, err error) {
	ctx, sp := span(ctx, "CreateNote")
	defer func() { end(sp, err) }()
	var out Note
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err := candidate(ctx, tx, orgID, candidateID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if !c.Live() {
			return ErrNotLive
		}
		id, err := newID()
		if err != nil {
			return err
		}
		out, err = scanNote(tx.QueryRow(ctx, `INSERT INTO notes (id, org_id, candidate_id, author_user_id, body, private, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, now(), now()) RETURNING `+noteColumns, id, orgID, c.ID, n.AuthorUserID, n.Body, n.Private))
		if err != nil {
			return err
		}
		if err := addEntry(ctx, tx, orgID, c.ID, KindNote, n.AuthorUserID, map[string]string{"note_id": id, "visibility": visibility(n.Private)}); err != nil {
			return err
		}
		return publish(ctx, tx, NoteChange{After: &out})
	})
	return out, err
}

// Notes returns the notes of a candidate (and of those merged into it) that
// v may see, newest first.
func (s *Store) Notes(ctx context.Context, orgID, candidateID string, v Viewer) (_ []Note, err error) {
	ctx, sp := span(ctx, "Notes")
	defer func() { end(sp, err) }()
	c, err := candidate(ctx, s.db, orgID, candidateID, "")
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+noteColumns+` FROM notes
		WHERE org_id = $1 AND (candidate_id = $2 OR candidate_id IN (SELECT id FROM candidates WHERE org_id = $1 AND merged_into = $2))
		  AND (NOT private OR author_user_id = $3 OR $4)
		ORDER BY created_at DESC, id DESC`, orgID, c.ID, v.UserID, v.Admin)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	out := []Note{}
	for rows.Next() {
		n, err := scanNote(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, postgres.MapError(rows.Err())
}

func lockNote(ctx context.Context, tx pgx.Tx, orgID, id string) (Note, error) {
	if !isUUID(id) {
		return Note{}, postgres.ErrNotFound
	}
	return scanNote(tx.QueryRow(ctx, `SELECT `+noteColumns+` FROM notes WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id))
}

// UpdateNote changes a note under its row lock: change sees it as it is and
// returns it as it should be, or refuses. Its timeline entry follows its
// visibility; publish runs last.
func (s *Store) UpdateNote(ctx context.Context, orgID, id string, change func(Note) (Note, error), publish PublishNote) (_ Note, err error) {
	ctx, sp := span(ctx, "UpdateNote")
	defer func() { end(sp, err) }()
	var out Note
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := lockNote(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		out, err = scanNote(tx.QueryRow(ctx, `UPDATE notes SET body = $2, private = $3, updated_at = now() WHERE id = $1 RETURNING `+noteColumns,
			cur.ID, next.Body, next.Private))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE timeline_entries SET detail = jsonb_set(detail, '{visibility}', to_jsonb($3::text))
			WHERE org_id = $1 AND kind = 'note' AND detail->>'note_id' = $2`, orgID, cur.ID, visibility(out.Private))
		if err != nil {
			return postgres.MapError(err)
		}
		return publish(ctx, tx, NoteChange{Before: &cur, After: &out})
	})
	return out, err
}

// DeleteNote deletes a note and its timeline entry, unless allow (which
// sees the note under its row lock) refuses; publish runs last.
func (s *Store) DeleteNote(ctx context.Context, orgID, id string, allow func(Note) error, publish PublishNote) (err error) {
	ctx, sp := span(ctx, "DeleteNote")
	defer func() { end(sp, err) }()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := lockNote(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if err := allow(cur); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM timeline_entries WHERE org_id = $1 AND kind = 'note' AND detail->>'note_id' = $2`, orgID, cur.ID); err != nil {
			return postgres.MapError(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM notes WHERE id = $1`, cur.ID); err != nil {
			return postgres.MapError(err)
		}
		return publish(ctx, tx, NoteChange{Before: &cur})
	})
}
