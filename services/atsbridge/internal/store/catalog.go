package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Stage is a pipeline stage of the ATS.
type Stage struct {
	RemoteID, Name string
	Position       int
}

// Posting is a job posting of the ATS.
type Posting struct {
	RemoteID, Title, State                 string
	Team, Department, Location, Commitment string
	RemoteUpdatedAt                        *time.Time
}

// PostingPublished is the state of a posting offered for linking.
const PostingPublished = "published"

// Published reports whether the posting is offered for linking.
func (p Posting) Published() bool { return p.State == PostingPublished }

// User is a user of the ATS.
type User struct {
	RemoteID, Name, Email, AccessRole string
	Deactivated                       bool
}

// ArchiveReason is a reason the ATS archives a candidate for.
type ArchiveReason struct {
	RemoteID, Text, Type string
}

// Catalog is what an import brings in.
type Catalog struct {
	Stages         []Stage
	Postings       []Posting
	Users          []User
	ArchiveReasons []ArchiveReason
}

// PostingRemoved is the state of a posting the ATS no longer lists.
const PostingRemoved = "removed"

// PostingsChanged is told, in the import's transaction, the postings that
// are new or changed since the last import, and those gone (state
// PostingRemoved), so their mirrors follow in the same transaction.
type PostingsChanged func(ctx context.Context, tx pgx.Tx, changed []Posting) error

// ReplaceCatalog makes cat what the connection holds, in one transaction,
// and marks the import of generation done (connected, counts, last sync)
// at at. It lands nothing, and reports false, when the connection moved on
// meanwhile (another import, a reconnect, a disconnect). onPostings (may
// be nil) is told which postings changed.
func (s *Store) ReplaceCatalog(ctx context.Context, id string, generation int64, cat Catalog, at time.Time, onPostings PostingsChanged) (_ bool, err error) {
	ctx, sp := span(ctx, "ReplaceCatalog")
	defer func() { end(sp, err) }()
	applied := false
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var found string
		err := tx.QueryRow(ctx, `SELECT id::text FROM ats_connections WHERE id = $1 AND sync_generation = $2 AND status = 'syncing' FOR UPDATE`,
			id, generation).Scan(&found)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		before, err := postingsTx(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, t := range []string{"ats_stages", "ats_postings", "ats_users", "ats_archive_reasons"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE connection_id = $1`, id); err != nil {
				return err
			}
		}
		if err := copyRows(ctx, tx, "ats_stages", []string{"connection_id", "remote_id", "name", "position"}, len(cat.Stages), func(i int) []any {
			st := cat.Stages[i]
			return []any{id, st.RemoteID, st.Name, st.Position}
		}); err != nil {
			return err
		}
		published := 0
		for _, p := range cat.Postings {
			if p.Published() {
				published++
			}
		}
		if err := copyRows(ctx, tx, "ats_postings", []string{"connection_id", "remote_id", "title", "state", "team", "department", "location", "commitment", "remote_updated_at"},
			len(cat.Postings), func(i int) []any {
				p := cat.Postings[i]
				return []any{id, p.RemoteID, p.Title, p.State, p.Team, p.Department, p.Location, p.Commitment, p.RemoteUpdatedAt}
			}); err != nil {
			return err
		}
		if err := copyRows(ctx, tx, "ats_users", []string{"connection_id", "remote_id", "name", "email", "access_role", "deactivated"}, len(cat.Users), func(i int) []any {
			u := cat.Users[i]
			return []any{id, u.RemoteID, u.Name, u.Email, u.AccessRole, u.Deactivated}
		}); err != nil {
			return err
		}
		if err := copyRows(ctx, tx, "ats_archive_reasons", []string{"connection_id", "remote_id", "text", "type"}, len(cat.ArchiveReasons), func(i int) []any {
			r := cat.ArchiveReasons[i]
			return []any{id, r.RemoteID, r.Text, r.Type}
		}); err != nil {
			return err
		}
		if onPostings != nil {
			if err := onPostings(ctx, tx, changedPostings(before, cat.Postings)); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE ats_connections SET status = 'connected', status_reason = '', last_sync_at = $2, last_success_at = $2,
			stages = $3, postings = $4, published_postings = $5, users = $6, archive_reasons = $7, updated_at = now() WHERE id = $1`,
			id, at, len(cat.Stages), len(cat.Postings), published, len(cat.Users), len(cat.ArchiveReasons))
		applied = err == nil
		return err
	})
	return applied, postgres.MapError(err)
}

func postingsTx(ctx context.Context, tx pgx.Tx, connectionID string) (map[string]Posting, error) {
	rows, err := tx.Query(ctx, `SELECT remote_id, title, state, team, department, location, commitment, remote_updated_at
		FROM ats_postings WHERE connection_id = $1`, connectionID)
	if err != nil {
		return nil, err
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Posting, error) {
		var p Posting
		return p, r.Scan(&p.RemoteID, &p.Title, &p.State, &p.Team, &p.Department, &p.Location, &p.Commitment, &p.RemoteUpdatedAt)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Posting, len(ps))
	for _, p := range ps {
		out[p.RemoteID] = p
	}
	return out, nil
}

// changedPostings are the postings of after that before lacks or holds
// otherwise, then those before held that after lacks, as removed.
func changedPostings(before map[string]Posting, after []Posting) []Posting {
	var out []Posting
	seen := make(map[string]bool, len(after))
	for _, p := range after {
		seen[p.RemoteID] = true
		if old, ok := before[p.RemoteID]; !ok || !samePosting(old, p) {
			out = append(out, p)
		}
	}
	for id, p := range before {
		if !seen[id] {
			p.State = PostingRemoved
			out = append(out, p)
		}
	}
	return out
}

func samePosting(a, b Posting) bool {
	if (a.RemoteUpdatedAt == nil) != (b.RemoteUpdatedAt == nil) || (a.RemoteUpdatedAt != nil && !a.RemoteUpdatedAt.Equal(*b.RemoteUpdatedAt)) {
		return false
	}
	a.RemoteUpdatedAt, b.RemoteUpdatedAt = nil, nil
	return a == b
}

func copyRows(ctx context.Context, tx pgx.Tx, table string, columns []string, n int, row func(int) []any) error {
	if n == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil }))
	return err
}

// Stages lists the organization's ATS stages after position after (-1:
// from the start), in the ATS's order.
func (s *Store) Stages(ctx context.Context, orgID string, after, limit int) (_ []Stage, err error) {
	ctx, sp := span(ctx, "Stages")
	defer func() { end(sp, err) }()
	if !isUUID(orgID) {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT s.remote_id, s.name, s.position FROM ats_stages s JOIN ats_connections c ON c.id = s.connection_id
		WHERE c.org_id = $1 AND s.position > $2 ORDER BY s.position LIMIT $3`, orgID, after, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Stage, error) {
		var st Stage
		return st, r.Scan(&st.RemoteID, &st.Name, &st.Position)
	})
	return out, postgres.MapError(err)
}

// Postings lists the organization's ATS postings whose remote id sorts
// after afterID, published ones only when asked.
func (s *Store) Postings(ctx context.Context, orgID, afterID string, publishedOnly bool, limit int) (_ []Posting, err error) {
	ctx, sp := span(ctx, "Postings")
	defer func() { end(sp, err) }()
	if !isUUID(orgID) {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT p.remote_id, p.title, p.state, p.team, p.department, p.location, p.commitment, p.remote_updated_at
		FROM ats_postings p JOIN ats_connections c ON c.id = p.connection_id
		WHERE c.org_id = $1 AND p.remote_id > $2 AND (NOT $3 OR p.state = 'published') ORDER BY p.remote_id LIMIT $4`, orgID, afterID, publishedOnly, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Posting, error) {
		var p Posting
		return p, r.Scan(&p.RemoteID, &p.Title, &p.State, &p.Team, &p.Department, &p.Location, &p.Commitment, &p.RemoteUpdatedAt)
	})
	return out, postgres.MapError(err)
}

// Users lists the organization's ATS users whose remote id sorts after
// afterID.
func (s *Store) Users(ctx context.Context, orgID, afterID string, limit int) (_ []User, err error) {
	ctx, sp := span(ctx, "Users")
	defer func() { end(sp, err) }()
	if !isUUID(orgID) {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT u.remote_id, u.name, u.email, u.access_role, u.deactivated
		FROM ats_users u JOIN ats_connections c ON c.id = u.connection_id
		WHERE c.org_id = $1 AND u.remote_id > $2 ORDER BY u.remote_id LIMIT $3`, orgID, afterID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) {
		var u User
		return u, r.Scan(&u.RemoteID, &u.Name, &u.Email, &u.AccessRole, &u.Deactivated)
	})
	return out, postgres.MapError(err)
}

// ArchiveReasons lists the connection's archive reasons, for the sync
// that maps them.
func (s *Store) ArchiveReasons(ctx context.Context, orgID string) (_ []ArchiveReason, err error) {
	ctx, sp := span(ctx, "ArchiveReasons")
	defer func() { end(sp, err) }()
	if !isUUID(orgID) {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT r.remote_id, r.text, r.type FROM ats_archive_reasons r JOIN ats_connections c ON c.id = r.connection_id
		WHERE c.org_id = $1 ORDER BY r.remote_id`, orgID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ArchiveReason, error) {
		var a ArchiveReason
		return a, r.Scan(&a.RemoteID, &a.Text, &a.Type)
	})
	return out, postgres.MapError(err)
}
