package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Candidate is a person an organization keeps in touch with.
type Candidate struct {
	ID    string
	OrgID string
	Name  string
	// Emails are the candidate's addresses, the primary one first.
	Emails      []string
	Phone       string
	Links       []Link
	Title       string
	Company     string
	Location    string
	TimeZone    string
	Tags        []string
	Source      string
	OwnerUserID string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeletedAt   *time.Time
	// MergedInto is the survivor of a merge this candidate went into.
	MergedInto string
	// StageID is the candidate's stage; StageVersion grows with each move.
	StageID      string
	StageVersion int64
	// CustomFields are the values of the organization's custom fields.
	CustomFields map[string]string
}

// Live reports whether the candidate is neither deleted nor merged.
func (c Candidate) Live() bool { return c.DeletedAt == nil && c.MergedInto == "" }

// Link is a profile of a candidate on the web.
type Link struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

const candidateColumns = `c.id::text, c.org_id::text, c.name,
	coalesce((SELECT array_agg(e.email ORDER BY e.position) FROM candidate_emails e WHERE e.candidate_id = c.id), '{}'),
	c.phone, c.links, c.title, c.company, c.location, c.time_zone, c.tags, c.source, c.owner_user_id,
	c.created_at, c.updated_at, c.deleted_at, coalesce(c.merged_into::text, ''), coalesce(c.stage_id::text, ''), c.stage_version, c.custom_fields`

func scanCandidate(row pgx.Row) (Candidate, error) {
	var cs candidateScan
	if err := row.Scan(cs.dest()...); err != nil {
		return Candidate{}, postgres.MapError(err)
	}
	return cs.finish()
}

// candidateScan is a candidate being read: dest are the destinations of
// candidateColumns, finish decodes what Scan cannot. A query that reads a
// candidate with other rows (StepChecks) scans into it among theirs.
type candidateScan struct {
	c             Candidate
	links, custom []byte
}

func (s *candidateScan) dest() []any {
	c := &s.c
	return []any{&c.ID, &c.OrgID, &c.Name, &c.Emails, &c.Phone, &s.links, &c.Title, &c.Company, &c.Location,
		&c.TimeZone, &c.Tags, &c.Source, &c.OwnerUserID, &c.CreatedAt, &c.UpdatedAt, &c.DeletedAt, &c.MergedInto, &c.StageID, &c.StageVersion, &s.custom}
}

func (s *candidateScan) finish() (Candidate, error) {
	c := s.c
	if err := json.Unmarshal(s.links, &c.Links); err != nil {
		return Candidate{}, fmt.Errorf("candidate %s: links: %w", c.ID, err)
	}
	if err := json.Unmarshal(s.custom, &c.CustomFields); err != nil {
		return Candidate{}, fmt.Errorf("candidate %s: custom fields: %w", c.ID, err)
	}
	return c, nil
}

// Timeline entry kinds this package writes.
const (
	KindCreated = "created"
	KindMerged  = "merged"
)

// CreateCandidate stores a new candidate (its id, CreatedAt and UpdatedAt
// are set here) with a "created" entry on its timeline by actor. An address
// another candidate of the organization has is a *DuplicateEmailError and
// stores nothing.
func (s *Store) CreateCandidate(ctx context.Context, c Candidate, actor string) (_ Candidate, err error) {
	ctx, sp := span(ctx, "CreateCandidate")
	defer func() { end(sp, err) }()
	var out Candidate
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = createCandidate(ctx, tx, c, actor)
		return err
	})
	return out, err
}

// BatchRow is what became of one candidate of CreateCandidates: created
// (Candidate set), matched (Duplicate set) or failed (Err set).
type BatchRow struct {
	Candidate Candidate
	Duplicate *DuplicateEmailError
}

// CreateCandidates stores each candidate as CreateCandidate does, all in one
// transaction, each row behind a savepoint: a row whose address exists
// (already, or from an earlier row) is reported as a duplicate and leaves
// nothing behind, and the other rows go on.
func (s *Store) CreateCandidates(ctx context.Context, cs []Candidate, actor string) (_ []BatchRow, err error) {
	ctx, sp := span(ctx, "CreateCandidates")
	defer func() { end(sp, err) }()
	out := make([]BatchRow, len(cs))
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		for i, c := range cs {
			err := pgx.BeginFunc(ctx, tx, func(row pgx.Tx) error {
				created, err := createCandidate(ctx, row, c, actor)
				out[i].Candidate = created
				return err
			})
			var dup *DuplicateEmailError
			switch {
			case errors.As(err, &dup):
				out[i] = BatchRow{Duplicate: dup}
			case err != nil:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func createCandidate(ctx context.Context, tx pgx.Tx, c Candidate, actor string) (Candidate, error) {
	id, err := newID()
	if err != nil {
		return Candidate{}, err
	}
	links, custom, err := encodeJSON(c)
	if err != nil {
		return Candidate{}, err
	}
	if err := ensureStages(ctx, tx, c.OrgID); err != nil {
		return Candidate{}, err
	}
	// A new candidate starts in the first active stage.
	if _, err := tx.Exec(ctx, `INSERT INTO candidates (id, org_id, name, phone, links, title, company, location, time_zone, tags, source, owner_user_id, created_at, updated_at, stage_id, custom_fields)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), now(),
		        (SELECT id FROM stages WHERE org_id = $2 AND retired_at IS NULL ORDER BY position LIMIT 1), $13)`,
		id, c.OrgID, c.Name, c.Phone, links, c.Title, c.Company, c.Location, c.TimeZone, nonNil(c.Tags), c.Source, c.OwnerUserID, custom); err != nil {
		return Candidate{}, postgres.MapError(err)
	}
	if err := insertEmails(ctx, tx, c.OrgID, id, c.Emails); err != nil {
		return Candidate{}, err
	}
	if err := addEntry(ctx, tx, c.OrgID, id, KindCreated, actor, nil); err != nil {
		return Candidate{}, err
	}
	return scanCandidate(tx.QueryRow(ctx, `SELECT `+candidateColumns+` FROM candidates c WHERE c.id = $1`, id))
}

// insertEmails gives the candidate its addresses in order. An address that
// is taken is a *DuplicateEmailError naming its candidate; the conflict
// clause waits for a concurrent insert of the same address and then sees it.
func insertEmails(ctx context.Context, tx pgx.Tx, orgID, candidateID string, emails []string) error {
	for i, e := range emails {
		tag, err := tx.Exec(ctx, `INSERT INTO candidate_emails (candidate_id, org_id, email, position) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, lower(btrim(email))) DO NOTHING`, candidateID, orgID, e, i)
		if err != nil {
			return postgres.MapError(err)
		}
		if tag.RowsAffected() == 1 {
			continue
		}
		var owner string
		if err := tx.QueryRow(ctx, `SELECT candidate_id::text FROM candidate_emails WHERE org_id = $1 AND lower(btrim(email)) = lower(btrim($2))`,
			orgID, e).Scan(&owner); err != nil {
			return postgres.MapError(err)
		}
		return &DuplicateEmailError{Email: e, CandidateID: owner}
	}
	return nil
}

// Candidate returns a candidate of the organization, deleted ones too. The
// id of a merged candidate answers its survivor.
func (s *Store) Candidate(ctx context.Context, orgID, id string) (_ Candidate, err error) {
	ctx, sp := span(ctx, "Candidate")
	defer func() { end(sp, err) }()
	return candidate(ctx, s.db, orgID, id, "")
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// candidate reads a candidate, following merges to the survivor, with
// lock appended to the query ("FOR UPDATE" or "").
func candidate(ctx context.Context, q querier, orgID, id, lock string) (Candidate, error) {
	if !isUUID(id) {
		return Candidate{}, postgres.ErrNotFound
	}
	// Merges are flattened (a survivor merged later passes its merged
	// candidates on), so one step reaches the survivor.
	c, err := scanCandidate(q.QueryRow(ctx, `SELECT `+candidateColumns+` FROM candidates c WHERE c.org_id = $1 AND c.id = $2 `+lock, orgID, id))
	if err != nil || c.MergedInto == "" {
		return c, err
	}
	return scanCandidate(q.QueryRow(ctx, `SELECT `+candidateColumns+` FROM candidates c WHERE c.org_id = $1 AND c.id = $2 `+lock, orgID, c.MergedInto))
}

// UpdateCandidate changes a live candidate under its row lock: change sees
// it as it is now and returns it as it should be (or an error, which
// changes nothing). Addresses are replaced by the new list; one that another
// candidate has is a *DuplicateEmailError.
func (s *Store) UpdateCandidate(ctx context.Context, orgID, id string, change func(Candidate) (Candidate, error)) (_ Candidate, err error) {
	ctx, sp := span(ctx, "UpdateCandidate")
	defer func() { end(sp, err) }()
	var out Candidate
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := candidate(ctx, tx, orgID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if !cur.Live() {
			return ErrNotLive
		}
		next, err := change(cur)
		if err != nil {
			return err
		}
		out, err = writeCandidate(ctx, tx, cur, next)
		return err
	})
	return out, err
}

// writeCandidate stores next over cur (same id) and returns it as stored.
func writeCandidate(ctx context.Context, tx pgx.Tx, cur, next Candidate) (Candidate, error) {
	links, custom, err := encodeJSON(next)
	if err != nil {
		return Candidate{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE candidates SET name = $3, phone = $4, links = $5, title = $6, company = $7, location = $8,
		time_zone = $9, tags = $10, source = $11, owner_user_id = $12, custom_fields = $13, updated_at = now() WHERE org_id = $1 AND id = $2`,
		cur.OrgID, cur.ID, next.Name, next.Phone, links, next.Title, next.Company, next.Location, next.TimeZone,
		nonNil(next.Tags), next.Source, next.OwnerUserID, custom); err != nil {
		return Candidate{}, postgres.MapError(err)
	}
	if !equalStrings(cur.Emails, next.Emails) {
		if _, err := tx.Exec(ctx, `DELETE FROM candidate_emails WHERE candidate_id = $1`, cur.ID); err != nil {
			return Candidate{}, postgres.MapError(err)
		}
		if err := insertEmails(ctx, tx, cur.OrgID, cur.ID, next.Emails); err != nil {
			return Candidate{}, err
		}
	}
	return scanCandidate(tx.QueryRow(ctx, `SELECT `+candidateColumns+` FROM candidates c WHERE c.id = $1`, cur.ID))
}

// DeleteCandidate marks a live candidate deleted at now; deleting a deleted
// one changes nothing and returns it.
func (s *Store) DeleteCandidate(ctx context.Context, orgID, id string) (_ Candidate, err error) {
	ctx, sp := span(ctx, "DeleteCandidate")
	defer func() { end(sp, err) }()
	var out Candidate
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := candidate(ctx, tx, orgID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if cur.DeletedAt != nil {
			out = cur
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE candidates SET deleted_at = now(), updated_at = now() WHERE id = $1`, cur.ID); err != nil {
			return postgres.MapError(err)
		}
		out, err = scanCandidate(tx.QueryRow(ctx, `SELECT `+candidateColumns+` FROM candidates c WHERE c.id = $1`, cur.ID))
		return err
	})
	return out, err
}

// UndeleteCandidate restores a deleted candidate under its row lock, if
// allow (which sees it as it is now) does not refuse.
func (s *Store) UndeleteCandidate(ctx context.Context, orgID, id string, allow func(Candidate) error) (_ Candidate, err error) {
	ctx, sp := span(ctx, "UndeleteCandidate")
	defer func() { end(sp, err) }()
	var out Candidate
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := candidate(ctx, tx, orgID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if cur.DeletedAt == nil {
			return ErrNotDeleted
		}
		if err := allow(cur); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE candidates SET deleted_at = NULL, updated_at = now() WHERE id = $1`, cur.ID); err != nil {
			return postgres.MapError(err)
		}
		out, err = scanCandidate(tx.QueryRow(ctx, `SELECT `+candidateColumns+` FROM candidates c WHERE c.id = $1`, cur.ID))
		return err
	})
	return out, err
}

// MergeCandidates merges the candidate mergedID into survivorID, both live,
// under both row locks (taken in id order, so two opposite merges cannot
// deadlock): combine returns the survivor as it should be, holding the
// addresses of both; the merged candidate and every candidate merged into
// it before resolve to the survivor from then on; the merged candidate's
// referrals and conversations move to the survivor; a "merged" entry goes
// on both timelines.
func (s *Store) MergeCandidates(ctx context.Context, orgID, survivorID, mergedID, actor string, combine func(survivor, merged Candidate) Candidate) (_ Candidate, err error) {
	ctx, sp := span(ctx, "MergeCandidates")
	defer func() { end(sp, err) }()
	var out Candidate
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		first, second := survivorID, mergedID
		if second < first {
			first, second = second, first
		}
		locked := map[string]Candidate{}
		for _, id := range []string{first, second} {
			c, err := candidate(ctx, tx, orgID, id, "FOR UPDATE")
			if err != nil {
				return err
			}
			locked[id] = c
		}
		survivor, merged := locked[survivorID], locked[mergedID]
		if survivor.ID == merged.ID || !survivor.Live() || !merged.Live() {
			return ErrNotLive
		}
		next := combine(survivor, merged)
		// The merged candidate's addresses move to the survivor: free them
		// before the survivor takes them.
		if _, err := tx.Exec(ctx, `DELETE FROM candidate_emails WHERE candidate_id = $1`, merged.ID); err != nil {
			return postgres.MapError(err)
		}
		if out, err = writeCandidate(ctx, tx, survivor, next); err != nil {
			return err
		}
		// Files move to the survivor (their blob keys do not name the
		// candidate, so nothing moves in the bucket).
		if _, err := tx.Exec(ctx, `UPDATE candidate_files SET candidate_id = $2
			WHERE candidate_id = $1 OR candidate_id IN (SELECT id FROM candidates WHERE merged_into = $1)`, merged.ID, survivor.ID); err != nil {
			return postgres.MapError(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE candidates SET merged_into = $2, updated_at = now() WHERE id = $1 OR merged_into = $1`, merged.ID, survivor.ID); err != nil {
			return postgres.MapError(err)
		}
		if err := moveEnrollments(ctx, tx, merged.ID, survivor.ID); err != nil {
			return err
		}
		// The survivor keeps the referrals and conversations (lists read
		// them by the live candidate); notes and timelines stay and are read
		// through merged_into.
		for _, q := range []string{
			`UPDATE referrals SET candidate_id = $2 WHERE org_id = $3 AND candidate_id = $1`,
			`UPDATE conversations SET candidate_id = $2 WHERE org_id = $3 AND candidate_id = $1`,
			`UPDATE candidate_emails_sent SET candidate_id = $2 WHERE org_id = $3 AND candidate_id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, merged.ID, survivor.ID, orgID); err != nil {
				return postgres.MapError(err)
			}
		}
		detail := map[string]string{"survivor_id": survivor.ID, "merged_id": merged.ID}
		if err := addEntry(ctx, tx, orgID, survivor.ID, KindMerged, actor, detail); err != nil {
			return err
		}
		return addEntry(ctx, tx, orgID, merged.ID, KindMerged, actor, detail)
	})
	return out, err
}

// Order is how a list of candidates is sorted.
type Order int

const (
	// ByName sorts by lower-case name, then id.
	ByName Order = iota
	// ByNewest sorts by creation, newest first, then id descending.
	ByNewest
)

// Filter selects live candidates; empty fields select everything.
type Filter struct {
	// Name and Company match a part, case-insensitively.
	Name    string
	Company string
	// Email matches an address, case-insensitively after trimming.
	Email       string
	OwnerUserID string
	Tag         string
	StageID     string
}

// Cursor is the position after the last candidate of a page.
type Cursor struct {
	Name      string // the lower-case name, for ByName
	CreatedAt time.Time
	ID        string
}

// SearchCandidates returns at most limit live candidates of the
// organization that match f, in order, after the cursor (nil: from the
// start).
func (s *Store) SearchCandidates(ctx context.Context, orgID string, f Filter, order Order, after *Cursor, limit int) (_ []Candidate, err error) {
	ctx, sp := span(ctx, "SearchCandidates")
	defer func() { end(sp, err) }()
	where := []string{"c.org_id = $1", "c.deleted_at IS NULL", "c.merged_into IS NULL"}
	args := []any{orgID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Name != "" {
		where = append(where, "c.name ILIKE "+arg("%"+escapeLike(f.Name)+"%"))
	}
	if f.Company != "" {
		where = append(where, "c.company ILIKE "+arg("%"+escapeLike(f.Company)+"%"))
	}
	if f.Email != "" {
		// An IN over the unique address index finds the one candidate; a
		// correlated EXISTS made Postgres test every candidate in turn.
		where = append(where, "c.id IN (SELECT e.candidate_id FROM candidate_emails e WHERE e.org_id = $1 AND lower(btrim(e.email)) = lower(btrim("+arg(f.Email)+")))")
	}
	if f.OwnerUserID != "" {
		where = append(where, "c.owner_user_id = "+arg(f.OwnerUserID))
	}
	if f.StageID != "" {
		if !isUUID(f.StageID) {
			return []Candidate{}, nil // no stage has this id
		}
		where = append(where, "c.stage_id = "+arg(f.StageID)+"::uuid")
	}
	if f.Tag != "" {
		where = append(where, "c.tags @> ARRAY["+arg(f.Tag)+"]::text[]")
	}
	orderBy := "lower(c.name), c.id"
	if order == ByNewest {
		orderBy = "c.created_at DESC, c.id DESC"
	}
	if after != nil {
		if !isUUID(after.ID) {
			return nil, postgres.ErrNotFound
		}
		if order == ByNewest {
			where = append(where, "(c.created_at, c.id) < ("+arg(after.CreatedAt)+", "+arg(after.ID)+"::uuid)")
		} else {
			where = append(where, "(lower(c.name), c.id) > ("+arg(after.Name)+", "+arg(after.ID)+"::uuid)")
		}
	}
	q := `SELECT ` + candidateColumns + ` FROM candidates c WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + orderBy + ` LIMIT ` + arg(limit)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []Candidate
	for rows.Next() {
		c, err := scanCandidate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, postgres.MapError(rows.Err())
}

// escapeLike makes s match itself in a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// encodeJSON is the candidate's links and custom fields as stored.
func encodeJSON(c Candidate) (links, custom []byte, err error) {
	if links, err = json.Marshal(nonNil(c.Links)); err != nil {
		return nil, nil, fmt.Errorf("links: %w", err)
	}
	fields := c.CustomFields
	if fields == nil {
		fields = map[string]string{}
	}
	if custom, err = json.Marshal(fields); err != nil {
		return nil, nil, fmt.Errorf("custom fields: %w", err)
	}
	return links, custom, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// PurgeDeletedCandidates removes for good up to limit candidates deleted
// before the given time, with everything that is theirs (addresses,
// timeline, notes, referrals, conversations, files, flow enrollments) and
// the candidates merged into them, and returns how many it removed. Their
// addresses are free again afterwards. The blob keys of their files go to
// removeBlobs in the same transaction.
func (s *Store) PurgeDeletedCandidates(ctx context.Context, before time.Time, limit int, removeBlobs RemoveBlobs) (_ int, err error) {
	ctx, sp := span(ctx, "PurgeDeletedCandidates")
	defer func() { end(sp, err) }()
	var n int
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text FROM candidates WHERE deleted_at < $1 AND merged_into IS NULL ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED`, before, limit)
		if err != nil {
			return postgres.MapError(err)
		}
		doomed, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return postgres.MapError(err)
		}
		n = len(doomed)
		if n == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, `DELETE FROM candidate_files
			WHERE candidate_id = ANY($1::uuid[]) OR candidate_id IN (SELECT id FROM candidates WHERE merged_into = ANY($1::uuid[]))
			RETURNING blob_key`, doomed)
		if err != nil {
			return postgres.MapError(err)
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return postgres.MapError(err)
		}
		if len(keys) > 0 {
			if err := removeBlobs(ctx, tx, keys); err != nil {
				return err
			}
		}
		for _, q := range []string{
			`DELETE FROM candidate_emails_sent WHERE candidate_id = ANY($1::uuid[])`,
			`DELETE FROM conversation_messages WHERE conversation_id IN (SELECT id FROM conversations WHERE candidate_id = ANY($1::uuid[]))`,
			`DELETE FROM conversations WHERE candidate_id = ANY($1::uuid[])`,
			`DELETE FROM referrals WHERE candidate_id = ANY($1::uuid[])`,
			`DELETE FROM notes WHERE candidate_id = ANY($1::uuid[]) OR candidate_id IN (SELECT id FROM candidates WHERE merged_into = ANY($1::uuid[]))`,
			`DELETE FROM enrollments WHERE candidate_id = ANY($1::uuid[]) OR candidate_id IN (SELECT id FROM candidates WHERE merged_into = ANY($1::uuid[]))`,
			`DELETE FROM timeline_entries WHERE candidate_id = ANY($1::uuid[]) OR candidate_id IN (SELECT id FROM candidates WHERE merged_into = ANY($1::uuid[]))`,
			`DELETE FROM candidate_emails WHERE candidate_id = ANY($1::uuid[])`,
			`DELETE FROM candidates WHERE merged_into = ANY($1::uuid[])`,
			`DELETE FROM candidates WHERE id = ANY($1::uuid[])`,
		} {
			if _, err := tx.Exec(ctx, q, doomed); err != nil {
				return postgres.MapError(err)
			}
		}
		return nil
	})
	return n, err
}

// moveEnrollments gives the survivor the merged candidate's enrollments. A
// candidate runs in one flow at a time and is in a flow once, so the
// merged one's running enrollment, when the survivor runs one too, and its
// enrollments in the survivor's flows stop with reason "merged" first
// (their queued step jobs then find them stopped). Flows left with nothing
// running complete.
func moveEnrollments(ctx context.Context, tx pgx.Tx, mergedID, survivorID string) error {
	rows, err := tx.Query(ctx, `UPDATE enrollments e SET status = 'stopped', stop_reason = 'merged', next_send_at = NULL,
			stopped_at = coalesce(stopped_at, now()), updated_at = now()
		WHERE e.candidate_id = $1 AND (
			(e.status IN ('active', 'paused') AND EXISTS (SELECT 1 FROM enrollments s WHERE s.candidate_id = $2 AND s.status IN ('active', 'paused')))
			OR EXISTS (SELECT 1 FROM enrollments s WHERE s.candidate_id = $2 AND s.flow_id = e.flow_id AND s.stop_reason <> 'merged'))
		RETURNING flow_id::text`, mergedID, survivorID)
	if err != nil {
		return postgres.MapError(err)
	}
	flowIDs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return postgres.MapError(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE enrollments SET candidate_id = $2, updated_at = now() WHERE candidate_id = $1`, mergedID, survivorID); err != nil {
		return postgres.MapError(err)
	}
	for _, id := range flowIDs {
		if _, err := CompleteIfDone(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}
