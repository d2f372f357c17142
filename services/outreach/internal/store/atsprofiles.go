package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// ATSProfile is a candidate's record in the ATS.
type ATSProfile struct {
	CandidateID, Provider, RemoteCandidateID, RemoteOpportunityID, URL, JobID string
	LinkedAt                                                                  time.Time
}

// UpsertATSProfile records p in tx (the ats.linked event's transaction).
// A candidacy linked again keeps one row, with what was sent last.
func (s *Store) UpsertATSProfile(ctx context.Context, tx pgx.Tx, orgID string, p ATSProfile) (err error) {
	ctx, sp := span(ctx, "UpsertATSProfile")
	defer func() { end(sp, err) }()
	if !isUUID(p.CandidateID) {
		return postgres.ErrNotFound
	}
	_, err = tx.Exec(ctx, `INSERT INTO candidate_ats_profiles (org_id, candidate_id, provider, remote_opportunity_id, remote_candidate_id, url, job_id, linked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (org_id, provider, remote_opportunity_id) DO UPDATE SET candidate_id = EXCLUDED.candidate_id,
		remote_candidate_id = EXCLUDED.remote_candidate_id, url = EXCLUDED.url, job_id = EXCLUDED.job_id, linked_at = EXCLUDED.linked_at`,
		orgID, p.CandidateID, p.Provider, p.RemoteOpportunityID, p.RemoteCandidateID, p.URL, p.JobID, p.LinkedAt)
	return postgres.MapError(err)
}

// ATSProfiles lists a candidate's ATS records, its merged candidates'
// too, oldest first.
func (s *Store) ATSProfiles(ctx context.Context, orgID, candidateID string) (_ []ATSProfile, err error) {
	ctx, sp := span(ctx, "ATSProfiles")
	defer func() { end(sp, err) }()
	if !isUUID(candidateID) {
		return nil, postgres.ErrNotFound
	}
	rows, err := s.db.Query(ctx, `SELECT candidate_id::text, provider, remote_candidate_id, remote_opportunity_id, url, job_id, linked_at
		FROM candidate_ats_profiles
		WHERE org_id = $1 AND (candidate_id = $2 OR candidate_id IN (SELECT id FROM candidates WHERE org_id = $1 AND merged_into = $2))
		ORDER BY linked_at, remote_opportunity_id`, orgID, candidateID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ATSProfile, error) {
		var p ATSProfile
		return p, r.Scan(&p.CandidateID, &p.Provider, &p.RemoteCandidateID, &p.RemoteOpportunityID, &p.URL, &p.JobID, &p.LinkedAt)
	})
	return out, postgres.MapError(err)
}
