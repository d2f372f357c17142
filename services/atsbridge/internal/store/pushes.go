package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// States of a push.
const (
	PushPending   = "pending"
	PushHeld      = "held"
	PushSucceeded = "succeeded"
	PushFailed    = "failed"
	PushSkipped   = "skipped"
)

// Push is one write to the ATS, from the event that asked for it to its
// result.
type Push struct {
	OperationID  string
	Seq          int64
	OrgID        string
	ConnectionID string
	CandidateID  string
	Kind         string
	Payload      json.RawMessage
	State        string
	Attempts     int
	LastError    string
	RemoteID     string
	TriggerID    string
	TriggerType  string
	ActorUserID  string
	ClaimedBy    *int64
	ClaimExpires *time.Time
	CreatedAt    time.Time
}

// Open reports whether the push still has to go.
func (p Push) Open() bool { return p.State == PushPending || p.State == PushHeld }

const pushColumns = `operation_id, seq, org_id::text, connection_id::text, candidate_id::text, kind, payload, state, attempts, last_error,
	remote_id, trigger_id, trigger_type, actor_user_id, claimed_by, claim_expires_at, created_at`

func scanPush(row pgx.Row) (Push, error) {
	var p Push
	err := row.Scan(&p.OperationID, &p.Seq, &p.OrgID, &p.ConnectionID, &p.CandidateID, &p.Kind, &p.Payload, &p.State, &p.Attempts,
		&p.LastError, &p.RemoteID, &p.TriggerID, &p.TriggerType, &p.ActorUserID, &p.ClaimedBy, &p.ClaimExpires, &p.CreatedAt)
	return p, postgres.MapError(err)
}

// LockCandidate serialises, until tx ends, everything that decides which
// push of a candidate goes next: adding one, finishing one.
func LockCandidate(ctx context.Context, tx pgx.Tx, connectionID, candidateID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 15))`, connectionID+"/"+candidateID)
	return postgres.MapError(err)
}

// AddPush stores p in tx (under the candidate's lock) unless its operation
// is stored already. It reports whether it was added and whether it is the
// candidate's next push to go (the caller enqueues its job then; a later
// push waits for the one before it to finish).
func AddPush(ctx context.Context, tx pgx.Tx, p Push) (added, next bool, err error) {
	if err := LockCandidate(ctx, tx, p.ConnectionID, p.CandidateID); err != nil {
		return false, false, err
	}
	payload := p.Payload
	if payload == nil {
		payload = json.RawMessage(`{}`)
	}
	state := p.State
	if state == "" {
		state = PushPending
	}
	var seq int64
	err = tx.QueryRow(ctx, `INSERT INTO ats_pushes (operation_id, org_id, connection_id, candidate_id, kind, payload, state, trigger_id, trigger_type, actor_user_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (operation_id) DO NOTHING RETURNING seq`,
		p.OperationID, p.OrgID, p.ConnectionID, p.CandidateID, p.Kind, payload, state, p.TriggerID, p.TriggerType, p.ActorUserID).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, postgres.MapError(err)
	}
	var before bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ats_pushes WHERE connection_id = $1 AND candidate_id = $2
		AND state IN ('pending', 'held') AND seq < $3)`, p.ConnectionID, p.CandidateID, seq).Scan(&before)
	return true, !before && state == PushPending, postgres.MapError(err)
}

// PushForWork reads a push under its row lock in tx (which holds the
// candidate's lock), and whether an earlier open push of the candidate
// must go first.
func PushForWork(ctx context.Context, tx pgx.Tx, operationID string) (_ Push, waits bool, err error) {
	p, err := scanPush(tx.QueryRow(ctx, `SELECT `+pushColumns+` FROM ats_pushes WHERE operation_id = $1 FOR UPDATE`, operationID))
	if err != nil {
		return p, false, err
	}
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ats_pushes WHERE connection_id = $1 AND candidate_id = $2
		AND state IN ('pending', 'held') AND seq < $3)`, p.ConnectionID, p.CandidateID, p.Seq).Scan(&waits)
	return p, waits, postgres.MapError(err)
}

// PushConnectionKey returns the connection and candidate of a push, for
// taking the candidate's lock before PushForWork.
func (s *Store) PushConnectionKey(ctx context.Context, operationID string) (connectionID, candidateID string, err error) {
	err = s.db.QueryRow(ctx, `SELECT connection_id::text, candidate_id::text FROM ats_pushes WHERE operation_id = $1`, operationID).
		Scan(&connectionID, &candidateID)
	return connectionID, candidateID, postgres.MapError(err)
}

// ClaimPush marks p as worked by job until expires, counting an attempt.
func ClaimPush(ctx context.Context, tx pgx.Tx, operationID string, job int64, expires time.Time) (attempts int, err error) {
	err = tx.QueryRow(ctx, `UPDATE ats_pushes SET claimed_by = $2, claim_expires_at = $3, attempts = attempts + 1, state = 'pending',
		updated_at = now() WHERE operation_id = $1 RETURNING attempts`, operationID, job, expires).Scan(&attempts)
	return attempts, postgres.MapError(err)
}

// HoldPush parks p until its connection can call the ATS again.
func HoldPush(ctx context.Context, tx pgx.Tx, operationID, reason string) error {
	_, err := tx.Exec(ctx, `UPDATE ats_pushes SET state = 'held', last_error = $2, claimed_by = NULL, claim_expires_at = NULL,
		updated_at = now() WHERE operation_id = $1`, operationID, reason)
	return postgres.MapError(err)
}

// RetryPush records a failed attempt that will be tried again, releasing
// the claim.
func RetryPush(ctx context.Context, tx pgx.Tx, operationID, lastError string, next time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE ats_pushes SET last_error = $2, next_attempt_at = $3, claimed_by = NULL, claim_expires_at = NULL,
		updated_at = now() WHERE operation_id = $1`, operationID, lastError, next)
	return postgres.MapError(err)
}

// FinishPush ends p as state (succeeded, failed or skipped) with its
// result, and returns the candidate's next open push, if any, for the
// caller to enqueue. tx holds the candidate's lock.
func FinishPush(ctx context.Context, tx pgx.Tx, p Push, state, remoteID, lastError string) (next *Push, err error) {
	if state != PushSucceeded && state != PushFailed && state != PushSkipped {
		return nil, fmt.Errorf("store: %q does not finish a push", state)
	}
	if _, err := tx.Exec(ctx, `UPDATE ats_pushes SET state = $2, remote_id = $3, last_error = $4, claimed_by = NULL, claim_expires_at = NULL,
		next_attempt_at = NULL, completed_at = now(), updated_at = now() WHERE operation_id = $1`, p.OperationID, state, remoteID, lastError); err != nil {
		return nil, postgres.MapError(err)
	}
	n, err := scanPush(tx.QueryRow(ctx, `SELECT `+pushColumns+` FROM ats_pushes WHERE connection_id = $1 AND candidate_id = $2
		AND state IN ('pending', 'held') ORDER BY seq LIMIT 1`, p.ConnectionID, p.CandidateID))
	if errors.Is(err, postgres.ErrNotFound) {
		return nil, nil
	}
	if err != nil || n.State != PushPending {
		return nil, err
	}
	return &n, nil
}

// ReleaseHeld turns the connection's held pushes pending again, in tx,
// and returns those that go first for their candidate, for the caller to
// enqueue.
func ReleaseHeld(ctx context.Context, tx pgx.Tx, connectionID string) ([]string, error) {
	if _, err := tx.Exec(ctx, `UPDATE ats_pushes SET state = 'pending', updated_at = now() WHERE connection_id = $1 AND state = 'held'`, connectionID); err != nil {
		return nil, postgres.MapError(err)
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT ON (candidate_id) operation_id FROM ats_pushes
		WHERE connection_id = $1 AND state = 'pending' ORDER BY candidate_id, seq`, connectionID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.MapError(err)
}

// StrandedPushes returns up to limit pending pushes that go first for
// their candidate and that no job will work: none is queued for them, and
// their claim expired (the process working them died) or they have not
// changed for longer than idle. Each is marked
// touched, so the next sweep does not return it again at once.
func (s *Store) StrandedPushes(ctx context.Context, idle time.Duration, limit int) (_ []string, err error) {
	ctx, sp := span(ctx, "StrandedPushes")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `UPDATE ats_pushes p SET updated_at = now() WHERE operation_id IN (
			SELECT operation_id FROM ats_pushes o WHERE o.state = 'pending' AND o.updated_at < now() - $1::interval
			  AND (o.claim_expires_at IS NULL OR o.claim_expires_at < now())
			  AND (o.next_attempt_at IS NULL OR o.next_attempt_at < now() - $1::interval)
			  AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'atsbridge_push' AND j.state IN ('available', 'scheduled', 'retryable', 'pending')
			                  AND j.args->>'operation_id' = o.operation_id)
			  AND NOT EXISTS (SELECT 1 FROM ats_pushes b WHERE b.connection_id = o.connection_id AND b.candidate_id = o.candidate_id
			                  AND b.state IN ('pending', 'held') AND b.seq < o.seq)
			ORDER BY o.updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING operation_id`, idle.String(), limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.MapError(err)
}

// HasSyncState reports whether a candidate is known to the connection: a
// link, or a push on its way.
func HasSyncState(ctx context.Context, tx pgx.Tx, connectionID, candidateID string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM candidate_links WHERE connection_id = $1 AND candidate_id = $2)
		OR EXISTS (SELECT 1 FROM ats_pushes WHERE connection_id = $1 AND candidate_id = $2 AND state IN ('pending', 'held'))`,
		connectionID, candidateID).Scan(&ok)
	return ok, postgres.MapError(err)
}

// OrgConnectionTx is OrgConnection in tx.
func OrgConnectionTx(ctx context.Context, tx pgx.Tx, orgID string) (Connection, error) {
	if !isUUID(orgID) {
		return Connection{}, postgres.ErrNotFound
	}
	return scanConn(tx.QueryRow(ctx, `SELECT `+connColumns+` FROM ats_connections WHERE org_id = $1`, orgID))
}

// ConnectionTx is ConnectionByID in tx.
func ConnectionTx(ctx context.Context, tx pgx.Tx, id string) (Connection, error) {
	if !isUUID(id) {
		return Connection{}, postgres.ErrNotFound
	}
	return scanConn(tx.QueryRow(ctx, `SELECT `+connColumns+` FROM ats_connections WHERE id = $1`, id))
}

// CandidateLinks are the candidate's links to the connection's ATS.
func CandidateLinks(ctx context.Context, tx pgx.Tx, connectionID, candidateID string) ([]Link, error) {
	rows, err := tx.Query(ctx, `SELECT candidate_id::text, remote_candidate_id, remote_opportunity_id, ats_stage_id, archive_reason_id, mapping_version
		FROM candidate_links WHERE connection_id = $1 AND candidate_id = $2 ORDER BY created_at, remote_opportunity_id FOR UPDATE`, connectionID, candidateID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Link, error) {
		var l Link
		return l, r.Scan(&l.CandidateID, &l.RemoteCandidateID, &l.RemoteOpportunityID, &l.ATS.StageID, &l.ATS.ArchiveReasonID, &l.MappingVersion)
	})
	return out, postgres.MapError(err)
}

// PendingPlace is what candidate_links.pending_stage_id holds while a push
// writes place: the stage id, or "archived:" and the archive reason. A
// webhook reporting it is Tandem's own change coming back.
func PendingPlace(p Place) string {
	if p.ArchiveReasonID != "" {
		return "archived:" + p.ArchiveReasonID
	}
	return p.StageID
}

// SetPending records, in tx, the place a push is writing for the
// candidate's opportunities ("" when none is).
func SetPending(ctx context.Context, tx pgx.Tx, connectionID string, opportunityIDs []string, pending string) error {
	_, err := tx.Exec(ctx, `UPDATE candidate_links SET pending_stage_id = $3, updated_at = now()
		WHERE connection_id = $1 AND remote_opportunity_id = ANY($2)`, connectionID, opportunityIDs, pending)
	return postgres.MapError(err)
}

// PlaceWritten records in tx that a push wrote place on an opportunity,
// with the mapping version it applied; the pending place is cleared. at
// is the ATS's time of the write (zero when it gave none): a webhook
// triggered before it reports an older place (the echo of an earlier
// push, arriving late) and is stale, however it compares with the place.
func PlaceWritten(ctx context.Context, tx pgx.Tx, connectionID, opportunityID string, p Place, mappingVersion int, at time.Time) error {
	var when *time.Time
	if !at.IsZero() {
		when = &at
	}
	_, err := tx.Exec(ctx, `UPDATE candidate_links SET ats_stage_id = $3, archive_reason_id = $4, mapping_version = $5, pending_stage_id = '',
		last_inbound_at = CASE WHEN $6::timestamptz IS NULL THEN last_inbound_at ELSE GREATEST(COALESCE(last_inbound_at, $6), $6) END,
		updated_at = now() WHERE connection_id = $1 AND remote_opportunity_id = $2`, connectionID, opportunityID, p.StageID, p.ArchiveReasonID, mappingVersion, when)
	return postgres.MapError(err)
}

// LinkTx records a link in tx.
func LinkTx(ctx context.Context, tx pgx.Tx, connectionID, orgID string, l Link) error {
	_, err := tx.Exec(ctx, `INSERT INTO candidate_links (connection_id, org_id, candidate_id, remote_candidate_id, remote_opportunity_id,
		ats_stage_id, archive_reason_id, mapping_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (connection_id, remote_opportunity_id) DO UPDATE SET candidate_id = EXCLUDED.candidate_id,
		remote_candidate_id = EXCLUDED.remote_candidate_id, ats_stage_id = EXCLUDED.ats_stage_id,
		archive_reason_id = EXCLUDED.archive_reason_id, mapping_version = EXCLUDED.mapping_version, pending_stage_id = '', updated_at = now()`,
		connectionID, orgID, l.CandidateID, l.RemoteCandidateID, l.RemoteOpportunityID, l.ATS.StageID, l.ATS.ArchiveReasonID, l.MappingVersion)
	return postgres.MapError(err)
}

// TouchSuccess records a call the ATS answered.
func TouchSuccess(ctx context.Context, tx pgx.Tx, connectionID string, at time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE ats_connections SET last_success_at = greatest(coalesce(last_success_at, $2), $2) WHERE id = $1`, connectionID, at)
	return postgres.MapError(err)
}

// UserByEmail finds the connection's active ATS user with that e-mail, as
// the last import brought them in.
func (s *Store) UserByEmail(ctx context.Context, connectionID, email string) (_ User, err error) {
	ctx, sp := span(ctx, "UserByEmail")
	defer func() { end(sp, err) }()
	var u User
	err = s.db.QueryRow(ctx, `SELECT remote_id, name, email, access_role, deactivated FROM ats_users
		WHERE connection_id = $1 AND lower(email) = $2 AND NOT deactivated ORDER BY remote_id LIMIT 1`, connectionID, strings.ToLower(strings.TrimSpace(email))).
		Scan(&u.RemoteID, &u.Name, &u.Email, &u.AccessRole, &u.Deactivated)
	return u, postgres.MapError(err)
}
