package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Statuses of an ATS connection.
const (
	StatusConnected         = "connected"
	StatusSyncing           = "syncing"
	StatusReconnectRequired = "reconnect_required"
	StatusDisconnected      = "disconnected"
)

// Kinds of recorded errors.
const (
	ErrorRateLimited  = "rate_limited"
	ErrorUnauthorized = "unauthorized"
	ErrorForbidden    = "forbidden"
	ErrorUnavailable  = "unavailable"
	ErrorFailed       = "failed"
)

// Connection is an organization's ATS connection and its health.
type Connection struct {
	ID             string
	OrgID          string
	Provider       string
	Account        string
	Status         string
	Reason         string
	StatusVersion  int64
	SyncGeneration int64
	SyncStartedAt  *time.Time
	LastSyncAt     *time.Time
	LastSuccessAt  *time.Time
	// RecoveredAt is when the connection last came back to connected
	// after it was reconnect_required or disconnected.
	RecoveredAt *time.Time
	Counts      Counts
	UpdatedAt   time.Time
}

// Counts are what the last import brought in.
type Counts struct {
	Stages, Postings, PublishedPostings, Users, ArchiveReasons int
}

// RecentErrors sums up the failed calls of a window.
type RecentErrors struct {
	Total, RateLimited int64
	Last               string
	LastAt             *time.Time
}

const connColumns = `id::text, org_id::text, provider, account, status, status_reason, status_version, sync_generation,
	sync_started_at, last_sync_at, last_success_at, recovered_at, stages, postings, published_postings, users, archive_reasons, updated_at`

func scanConn(row pgx.Row) (Connection, error) {
	var c Connection
	err := row.Scan(&c.ID, &c.OrgID, &c.Provider, &c.Account, &c.Status, &c.Reason, &c.StatusVersion, &c.SyncGeneration,
		&c.SyncStartedAt, &c.LastSyncAt, &c.LastSuccessAt, &c.RecoveredAt, &c.Counts.Stages, &c.Counts.Postings, &c.Counts.PublishedPostings,
		&c.Counts.Users, &c.Counts.ArchiveReasons, &c.UpdatedAt)
	return c, postgres.MapError(err)
}

// StatusChange is identity's report of a connection's status.
type StatusChange struct {
	ID, OrgID, Provider, Account string
	// Status is connected, reconnect_required or disconnected as identity
	// says it; connected is recorded as syncing, with an import to run.
	Status, Reason string
	Version        int64
	At             time.Time
}

// ApplyStatus records c in tx unless a newer status is recorded. It bumps
// the sync generation, so an import running for the status before lands
// nothing. A connection connected again after it was reconnect_required
// or disconnected is recovered at c.At. applied is false for an older
// version.
func (s *Store) ApplyStatus(ctx context.Context, tx pgx.Tx, c StatusChange) (_ Connection, applied bool, err error) {
	ctx, sp := span(ctx, "ApplyStatus")
	defer func() { end(sp, err) }()
	status, started := c.Status, (*time.Time)(nil)
	if status == StatusConnected {
		status, started = StatusSyncing, &c.At
	}
	out, err := scanConn(tx.QueryRow(ctx, `INSERT INTO ats_connections (id, org_id, provider, account, status, status_reason, status_version, sync_generation, sync_started_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, status_reason = excluded.status_reason,
			status_version = excluded.status_version, sync_generation = ats_connections.sync_generation + 1,
			sync_started_at = coalesce(excluded.sync_started_at, ats_connections.sync_started_at),
			account = CASE WHEN excluded.account = '' THEN ats_connections.account ELSE excluded.account END,
			recovered_at = CASE WHEN excluded.status = 'syncing' AND ats_connections.status IN ('reconnect_required', 'disconnected')
				THEN $9 ELSE ats_connections.recovered_at END,
			updated_at = now()
		WHERE ats_connections.status_version < excluded.status_version
		RETURNING `+connColumns, c.ID, c.OrgID, c.Provider, c.Account, status, c.Reason, c.Version, started, c.At))
	if errors.Is(err, postgres.ErrNotFound) {
		return Connection{}, false, nil
	}
	if err != nil {
		return Connection{}, false, err
	}
	return out, true, nil
}

// OrgConnection returns the organization's ATS connection.
func (s *Store) OrgConnection(ctx context.Context, orgID string) (_ Connection, err error) {
	ctx, sp := span(ctx, "OrgConnection")
	defer func() { end(sp, err) }()
	if !isUUID(orgID) {
		return Connection{}, postgres.ErrNotFound
	}
	return scanConn(s.db.QueryRow(ctx, `SELECT `+connColumns+` FROM ats_connections WHERE org_id = $1`, orgID))
}

// ConnectionByID returns a connection whatever its organization, for the
// jobs that name it by id.
func (s *Store) ConnectionByID(ctx context.Context, id string) (_ Connection, err error) {
	ctx, sp := span(ctx, "ConnectionByID")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Connection{}, postgres.ErrNotFound
	}
	return scanConn(s.db.QueryRow(ctx, `SELECT `+connColumns+` FROM ats_connections WHERE id = $1`, id))
}

// MarkRefused records that the ATS refused the connection's token while
// generation's work ran: reconnect_required with the reason, unless the
// status changed since (a newer generation). It reports whether it did.
func (s *Store) MarkRefused(ctx context.Context, id string, generation int64, reason string) (_ bool, err error) {
	ctx, sp := span(ctx, "MarkRefused")
	defer func() { end(sp, err) }()
	tag, err := s.db.Exec(ctx, `UPDATE ats_connections SET status = 'reconnect_required', status_reason = $3,
		sync_generation = sync_generation + 1, updated_at = now() WHERE id = $1 AND sync_generation = $2`, id, generation, reason)
	return tag.RowsAffected() == 1, postgres.MapError(err)
}

// MarkSyncFailed ends generation's import without its data: the
// connection is connected, saying the import failed.
func (s *Store) MarkSyncFailed(ctx context.Context, id string, generation int64, reason string) (err error) {
	ctx, sp := span(ctx, "MarkSyncFailed")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE ats_connections SET status = 'connected', status_reason = $3, updated_at = now()
		WHERE id = $1 AND sync_generation = $2 AND status = 'syncing'`, id, generation, reason)
	return postgres.MapError(err)
}

// RecordError keeps a failed call for the health record and forgets those
// older than a week.
func (s *Store) RecordError(ctx context.Context, id, kind, description string) (err error) {
	ctx, sp := span(ctx, "RecordError")
	defer func() { end(sp, err) }()
	return postgres.MapError(pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO ats_connection_errors (connection_id, kind, description) VALUES ($1, $2, $3)`, id, kind, description); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM ats_connection_errors WHERE connection_id = $1 AND occurred_at < now() - interval '7 days'`, id)
		return err
	}))
}

// RecentErrors sums up the connection's failed calls since since.
func (s *Store) RecentErrors(ctx context.Context, id string, since time.Time) (_ RecentErrors, err error) {
	ctx, sp := span(ctx, "RecentErrors")
	defer func() { end(sp, err) }()
	var r RecentErrors
	var last *string
	err = s.db.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE kind = 'rate_limited'),
			(SELECT description FROM ats_connection_errors WHERE connection_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT 1),
			(SELECT max(occurred_at) FROM ats_connection_errors WHERE connection_id = $1)
		FROM ats_connection_errors WHERE connection_id = $1 AND occurred_at >= $2`, id, since).Scan(&r.Total, &r.RateLimited, &last, &r.LastAt)
	if last != nil {
		r.Last = *last
	}
	return r, postgres.MapError(err)
}

// SyncHealth is how the connection's pushes and webhooks are doing.
type SyncHealth struct {
	// Pushes waiting to go out, and those held until reconnection.
	PendingPushes, HeldPushes int64
	// The earliest a pending push is tried again; nil when none waits
	// for a time.
	NextRetryAt *time.Time
	// Pushes that failed for good in the window.
	FailedPushes int64
	// Webhook deliveries received in the window, and of those the ones
	// applied and the ones ignored (echoes, nothing linked).
	Webhooks, WebhooksApplied, WebhooksIgnored int64
	// The last delivery received, whenever it was.
	LastWebhookAt *time.Time
}

// SyncHealth sums up the connection's pushes and webhook deliveries since
// since. Each count reads an index: the open pushes, the failed ones by
// time, the deliveries by time.
func (s *Store) SyncHealth(ctx context.Context, id string, since time.Time) (_ SyncHealth, err error) {
	ctx, sp := span(ctx, "SyncHealth")
	defer func() { end(sp, err) }()
	var h SyncHealth
	if !isUUID(id) {
		return h, nil
	}
	err = s.db.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM ats_pushes WHERE connection_id = $1 AND state = 'pending'),
			(SELECT count(*) FROM ats_pushes WHERE connection_id = $1 AND state = 'held'),
			(SELECT min(next_attempt_at) FROM ats_pushes WHERE connection_id = $1 AND state = 'pending'),
			(SELECT count(*) FROM ats_pushes WHERE connection_id = $1 AND state = 'failed' AND updated_at >= $2),
			d.total, d.applied, d.ignored,
			(SELECT max(received_at) FROM ats_webhook_deliveries WHERE connection_id = $1)
		FROM (SELECT count(*) AS total, count(*) FILTER (WHERE state = 'applied') AS applied,
				count(*) FILTER (WHERE state = 'ignored') AS ignored
			FROM ats_webhook_deliveries WHERE connection_id = $1 AND received_at >= $2) d`, id, since).
		Scan(&h.PendingPushes, &h.HeldPushes, &h.NextRetryAt, &h.FailedPushes, &h.Webhooks, &h.WebhooksApplied, &h.WebhooksIgnored, &h.LastWebhookAt)
	return h, postgres.MapError(err)
}
