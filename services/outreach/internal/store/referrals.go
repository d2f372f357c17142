package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// KindReferralCreated is the timeline entry of a referral.
const KindReferralCreated = "referral_created"

// ErrJobNotOpen is a referral to a job that is closed or a draft.
var ErrJobNotOpen = errors.New("job is not open")

// ReferralExistsError says the referrer has referred the candidate to the
// job already.
type ReferralExistsError struct {
	// ReferralID is the referral made before.
	ReferralID string
}

func (e *ReferralExistsError) Error() string { return "referred before: referral " + e.ReferralID }

// Referral is a member's referral of a person to a job.
type Referral struct {
	ID             string
	OrgID          string
	ReferrerUserID string
	JobID          string
	CandidateID    string
	Name           string
	Email          string
	LinkedInURL    string
	Relationship   string
	Note           string
	// CandidateCreated says the referral created its candidate rather than
	// finding one by its e-mail address.
	CandidateCreated bool
	CreatedAt        time.Time
}

// ReferralMade is what a referral's transaction publishes.
type ReferralMade struct {
	Referral Referral
	Job      Job
}

// PublishReferral is called inside the transaction of a referral; its
// error rolls the referral back, the candidate it created with it.
type PublishReferral func(ctx context.Context, tx pgx.Tx, r ReferralMade) error

const referralColumns = `id::text, org_id::text, referrer_user_id, job_id::text, candidate_id::text, name, email, linkedin_url,
	relationship, note, candidate_created, created_at`

func scanReferral(row pgx.Row) (Referral, error) {
	var r Referral
	err := row.Scan(&r.ID, &r.OrgID, &r.ReferrerUserID, &r.JobID, &r.CandidateID, &r.Name, &r.Email, &r.LinkedInURL,
		&r.Relationship, &r.Note, &r.CandidateCreated, &r.CreatedAt)
	return r, postgres.MapError(err)
}

// CreateReferral records r (its id, candidate and time are set here) to an
// open job of the organization, in one transaction with the candidate:
// the one that has r.Email, locked, or else newCandidate, created by the
// referrer. The same referrer, job and candidate again is a
// *ReferralExistsError; an unknown job is postgres.ErrNotFound, one not
// open ErrJobNotOpen, a deleted candidate with the address ErrNotLive. The
// referral goes on the candidate's timeline, and publish runs last.
func (s *Store) CreateReferral(ctx context.Context, r Referral, newCandidate Candidate, publish PublishReferral) (_ Referral, err error) {
	ctx, sp := span(ctx, "CreateReferral")
	defer func() { end(sp, err) }()
	var out Referral
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// A share lock keeps the job open until the referral commits.
		j, err := job(ctx, tx, r.OrgID, r.JobID, "FOR SHARE")
		if err != nil {
			return err
		}
		if j.Status != JobOpen {
			return ErrJobNotOpen
		}
		c, created, err := findOrCreateCandidate(ctx, tx, r.OrgID, r.Email, newCandidate, r.ReferrerUserID)
		if err != nil {
			return err
		}
		// Under the candidate's row lock, a referral of the same referrer
		// and job committed before is seen here.
		var before string
		err = tx.QueryRow(ctx, `SELECT id::text FROM referrals WHERE org_id = $1 AND referrer_user_id = $2 AND job_id = $3 AND candidate_id = $4`,
			r.OrgID, r.ReferrerUserID, j.ID, c.ID).Scan(&before)
		switch {
		case err == nil:
			return &ReferralExistsError{ReferralID: before}
		case !errors.Is(err, pgx.ErrNoRows):
			return postgres.MapError(err)
		}
		id, err := newID()
		if err != nil {
			return err
		}
		out, err = scanReferral(tx.QueryRow(ctx, `INSERT INTO referrals (id, org_id, referrer_user_id, job_id, candidate_id, name, email, linkedin_url, relationship, note, candidate_created, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now()) RETURNING `+referralColumns,
			id, r.OrgID, r.ReferrerUserID, j.ID, c.ID, r.Name, r.Email, r.LinkedInURL, r.Relationship, r.Note, created))
		if err != nil {
			return err
		}
		if err := addEntry(ctx, tx, r.OrgID, c.ID, KindReferralCreated, r.ReferrerUserID, map[string]string{
			"referral_id": out.ID, "job_id": j.ID, "job_title": j.Title, "referrer_user_id": r.ReferrerUserID,
		}); err != nil {
			return err
		}
		return publish(ctx, tx, ReferralMade{Referral: out, Job: j})
	})
	return out, err
}

// findOrCreateCandidate returns the live candidate of the organization with
// the address, locked, or creates c (which holds the address) by actor.
func findOrCreateCandidate(ctx context.Context, tx pgx.Tx, orgID, email string, c Candidate, actor string) (Candidate, bool, error) {
	for range 2 {
		var owner string
		err := tx.QueryRow(ctx, `SELECT candidate_id::text FROM candidate_emails WHERE org_id = $1 AND lower(btrim(email)) = lower(btrim($2))`,
			orgID, email).Scan(&owner)
		if err == nil {
			found, err := candidate(ctx, tx, orgID, owner, "FOR UPDATE")
			if err != nil {
				return Candidate{}, false, err
			}
			if !found.Live() {
				return Candidate{}, false, ErrNotLive
			}
			return found, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return Candidate{}, false, postgres.MapError(err)
		}
		// Behind a savepoint: a concurrent referral that created the same
		// person first makes this insert a duplicate, and the next round
		// finds that candidate.
		var made Candidate
		err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			var err error
			made, err = createCandidate(ctx, sp, c, actor)
			return err
		})
		var dup *DuplicateEmailError
		if errors.As(err, &dup) {
			continue
		}
		if err != nil {
			return Candidate{}, false, err
		}
		// Lock it like a found one, for the same reason.
		if _, err := candidate(ctx, tx, orgID, made.ID, "FOR UPDATE"); err != nil {
			return Candidate{}, false, err
		}
		return made, true, nil
	}
	return Candidate{}, false, errors.New("referral: the candidate's address changed hands twice")
}

// Referral returns a referral of the organization.
func (s *Store) Referral(ctx context.Context, orgID, id string) (_ Referral, err error) {
	ctx, sp := span(ctx, "Referral")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Referral{}, postgres.ErrNotFound
	}
	return scanReferral(s.db.QueryRow(ctx, `SELECT `+referralColumns+` FROM referrals WHERE org_id = $1 AND id = $2`, orgID, id))
}

// ReferralFilter selects referrals; empty fields select everything.
type ReferralFilter struct {
	ReferrerUserID string
	JobID          string
	// CandidateID is a live candidate's id (merges move referrals to the
	// survivor).
	CandidateID string
}

// Referrals returns at most limit referrals of the organization matching
// f, newest first, after the referral id after ("" from the start).
func (s *Store) Referrals(ctx context.Context, orgID string, f ReferralFilter, after string, limit int) (_ []Referral, err error) {
	ctx, sp := span(ctx, "Referrals")
	defer func() { end(sp, err) }()
	for _, id := range []string{f.JobID, f.CandidateID} {
		if id != "" && !isUUID(id) {
			return []Referral{}, nil // nothing has this id
		}
	}
	if after != "" && !isUUID(after) {
		return nil, postgres.ErrNotFound
	}
	// Only the filters given are in the query, so each list uses its index
	// whatever plan Postgres caches.
	where, args := []string{"org_id = $1"}, []any{orgID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.ReferrerUserID != "" {
		where = append(where, "referrer_user_id = "+arg(f.ReferrerUserID))
	}
	if f.JobID != "" {
		where = append(where, "job_id = "+arg(f.JobID)+"::uuid")
	}
	if f.CandidateID != "" {
		where = append(where, "candidate_id = "+arg(f.CandidateID)+"::uuid")
	}
	if after != "" {
		where = append(where, "id < "+arg(after)+"::uuid")
	}
	rows, err := s.db.Query(ctx, `SELECT `+referralColumns+` FROM referrals WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id DESC LIMIT `+arg(limit), args...)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Referral, error) { return scanReferral(r) })
	return out, postgres.MapError(err)
}
