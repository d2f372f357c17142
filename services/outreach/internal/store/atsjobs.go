package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// UpsertExternalJob makes j the organization's job with j's external
// source and id, in tx: a new job the first time, the same job updated
// (title, team, department, location, status) after. An ATS's job is
// mirrored this way (ats.job_synced).
func UpsertExternalJob(ctx context.Context, tx pgx.Tx, j Job) (_ Job, err error) {
	ctx, sp := span(ctx, "UpsertExternalJob")
	defer func() { end(sp, err) }()
	id, err := newID()
	if err != nil {
		return Job{}, err
	}
	return scanJob(tx.QueryRow(ctx, `INSERT INTO jobs (id, org_id, title, department, team, location, status, external_source, external_id, create_user_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', now(), now())
		ON CONFLICT (org_id, external_source, external_id) WHERE external_source IS NOT NULL DO UPDATE SET
			title = EXCLUDED.title, department = EXCLUDED.department, team = EXCLUDED.team, location = EXCLUDED.location,
			status = EXCLUDED.status, updated_at = now()
		RETURNING `+jobColumns,
		id, j.OrgID, j.Title, j.Department, j.Team, j.Location, j.Status, j.ExternalSource, j.ExternalID))
}
