package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Job statuses.
const (
	JobOpen   = "open"
	JobClosed = "closed"
	JobDraft  = "draft"
)

// Job is one of an organization's roles.
type Job struct {
	ID         string
	OrgID      string
	Title      string
	Department string
	Team       string
	Location   string
	Status     string
	// ExternalSource ("ashby", "lever") and ExternalID name the job in an
	// ATS: both set or both empty.
	ExternalSource string
	ExternalID     string
	CreateUserID   string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ExternalJobTakenError says another job of the organization has the
// external source and id.
type ExternalJobTakenError struct {
	// JobID is the job that has them.
	JobID string
}

func (e *ExternalJobTakenError) Error() string {
	return "the external id belongs to job " + e.JobID
}

const jobColumns = `id::text, org_id::text, title, department, team, location, status,
	coalesce(external_source, ''), coalesce(external_id, ''), create_user_id, created_at, updated_at`

func scanJob(row pgx.Row) (Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.OrgID, &j.Title, &j.Department, &j.Team, &j.Location, &j.Status,
		&j.ExternalSource, &j.ExternalID, &j.CreateUserID, &j.CreatedAt, &j.UpdatedAt)
	return j, postgres.MapError(err)
}

// nullable is s, or NULL when empty: the optional external ids.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreateJob stores a new job (its id and times are set here). External ids
// another job has are an *ExternalJobTakenError.
func (s *Store) CreateJob(ctx context.Context, j Job) (_ Job, err error) {
	ctx, sp := span(ctx, "CreateJob")
	defer func() { end(sp, err) }()
	id, err := newID()
	if err != nil {
		return Job{}, err
	}
	out, err := scanJob(s.db.QueryRow(ctx, `INSERT INTO jobs (id, org_id, title, department, team, location, status, external_source, external_id, create_user_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now(), now()) RETURNING `+jobColumns,
		id, j.OrgID, j.Title, j.Department, j.Team, j.Location, j.Status, nullable(j.ExternalSource), nullable(j.ExternalID), j.CreateUserID))
	if err != nil {
		return Job{}, s.externalTaken(ctx, j, err)
	}
	return out, nil
}

// externalTaken turns a unique violation of the external ids into an
// *ExternalJobTakenError naming the job that has them.
func (s *Store) externalTaken(ctx context.Context, j Job, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.ConstraintName != "jobs_external" {
		return err
	}
	var owner string
	if qerr := s.db.QueryRow(ctx, `SELECT id::text FROM jobs WHERE org_id = $1 AND external_source = $2 AND external_id = $3`,
		j.OrgID, j.ExternalSource, j.ExternalID).Scan(&owner); qerr != nil {
		return errors.Join(err, postgres.MapError(qerr))
	}
	return &ExternalJobTakenError{JobID: owner}
}

// Job returns a job of the organization.
func (s *Store) Job(ctx context.Context, orgID, id string) (_ Job, err error) {
	ctx, sp := span(ctx, "Job")
	defer func() { end(sp, err) }()
	return job(ctx, s.db, orgID, id, "")
}

func job(ctx context.Context, q querier, orgID, id, lock string) (Job, error) {
	if !isUUID(id) {
		return Job{}, postgres.ErrNotFound
	}
	return scanJob(q.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE org_id = $1 AND id = $2 `+lock, orgID, id))
}

// UpdateJob changes a job under its row lock: change sees it as it is and
// returns it as it should be, or refuses.
func (s *Store) UpdateJob(ctx context.Context, orgID, id string, change func(Job) (Job, error)) (_ Job, err error) {
	ctx, sp := span(ctx, "UpdateJob")
	defer func() { end(sp, err) }()
	var out, next Job
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := job(ctx, tx, orgID, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if next, err = change(cur); err != nil {
			return err
		}
		out, err = scanJob(tx.QueryRow(ctx, `UPDATE jobs SET title = $3, department = $4, team = $5, location = $6, status = $7,
			external_source = $8, external_id = $9, updated_at = now() WHERE org_id = $1 AND id = $2 RETURNING `+jobColumns,
			orgID, cur.ID, next.Title, next.Department, next.Team, next.Location, next.Status, nullable(next.ExternalSource), nullable(next.ExternalID)))
		return err
	})
	if err != nil {
		return Job{}, s.externalTaken(ctx, next, err)
	}
	return out, nil
}

// JobFilter selects jobs: of any status in Statuses (none: every status).
type JobFilter struct {
	Statuses []string
}

// Jobs returns at most limit jobs of the organization matching f, newest
// first, after the job id after ("" from the start).
func (s *Store) Jobs(ctx context.Context, orgID string, f JobFilter, after string, limit int) (_ []Job, err error) {
	ctx, sp := span(ctx, "Jobs")
	defer func() { end(sp, err) }()
	if after != "" && !isUUID(after) {
		return nil, postgres.ErrNotFound
	}
	// Only the filters given are in the query, so it uses its index
	// whatever plan Postgres caches.
	where, args := []string{"org_id = $1"}, []any{orgID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status = ANY("+arg(f.Statuses)+"::text[])")
	}
	if after != "" {
		where = append(where, "id < "+arg(after)+"::uuid")
	}
	rows, err := s.db.Query(ctx, `SELECT `+jobColumns+` FROM jobs WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT `+arg(limit), args...)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanJob(r) })
	return out, postgres.MapError(err)
}
