package subscriptions

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemhq/tandem/platform/postgres"
)

var tracer = otel.Tracer("github.com/tandemhq/tandem/services/mailbox/internal/subscriptions")

// Statuses of a mailbox's Inbox subscription.
const (
	// StatusPending: being created (or recreated); notifications of an
	// earlier subscription are no longer taken.
	StatusPending = "pending"
	StatusActive  = "active"
	// StatusFailed: Graph refused to create it; retried on schedule.
	StatusFailed = "failed"
	// StatusStopped: the mailbox is no longer connected.
	StatusStopped = "stopped"
)

// Watch is a mailbox's subscription row.
type Watch struct {
	MailboxID       string
	OrgID           string
	SubscriptionID  string
	ClientStateHash []byte
	Status          string
	ExpiresAt       *time.Time
	LastError       string
	WatchSince      time.Time
	LastCatchUpAt   *time.Time
	LastFullSyncAt  *time.Time
	UpdatedAt       time.Time
}

// Store keeps the subscriptions in Postgres (the inbox_subscriptions table).
type Store struct{ db *pgxpool.Pool }

// NewStore returns the store over db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

func span(ctx context.Context, name string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "subscriptions.store."+name)
}

func end(sp trace.Span, err error) {
	if err != nil && !errors.Is(err, postgres.ErrNotFound) {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, "store call failed")
	}
	sp.End()
}

const watchColumns = `mailbox_id::text, org_id::text, coalesce(subscription_id, ''), client_state_hash, status, expires_at,
	last_error, watch_since, last_catch_up_at, last_full_sync_at, updated_at`

func scanWatch(row pgx.Row) (Watch, error) {
	var w Watch
	err := row.Scan(&w.MailboxID, &w.OrgID, &w.SubscriptionID, &w.ClientStateHash, &w.Status, &w.ExpiresAt,
		&w.LastError, &w.WatchSince, &w.LastCatchUpAt, &w.LastFullSyncAt, &w.UpdatedAt)
	return w, postgres.MapError(err)
}

// Start records, in the caller's transaction, that a mailbox's Inbox is to
// be watched from now on. A mailbox watched before keeps its watch_since
// (mail that arrived while it was disconnected still answers what Tandem
// sent) and becomes pending again.
func (s *Store) Start(ctx context.Context, tx pgx.Tx, mailboxID, orgID string, now time.Time) (err error) {
	ctx, sp := span(ctx, "Start")
	defer func() { end(sp, err) }()
	_, err = tx.Exec(ctx, `INSERT INTO inbox_subscriptions (mailbox_id, org_id, client_state_hash, status, watch_since)
		VALUES ($1, $2, '', 'pending', $3)
		ON CONFLICT (mailbox_id) DO UPDATE SET status = 'pending', updated_at = now()
		WHERE inbox_subscriptions.status <> 'active'`, mailboxID, orgID, now)
	return postgres.MapError(err)
}

// Get returns a mailbox's row; postgres.ErrNotFound when it is not watched.
func (s *Store) Get(ctx context.Context, mailboxID string) (_ Watch, err error) {
	ctx, sp := span(ctx, "Get")
	defer func() { end(sp, err) }()
	return scanWatch(s.db.QueryRow(ctx, `SELECT `+watchColumns+` FROM inbox_subscriptions WHERE mailbox_id = $1`, mailboxID))
}

// BySubscriptionIDs returns the rows of Graph subscription ids.
func (s *Store) BySubscriptionIDs(ctx context.Context, ids []string) (_ []Watch, err error) {
	ctx, sp := span(ctx, "BySubscriptionIDs")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT `+watchColumns+` FROM inbox_subscriptions WHERE subscription_id = ANY($1)`, ids)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Watch, error) { return scanWatch(r) })
}

// Prepare forgets the subscription a mailbox had and keeps the hash of the
// next one's clientState, before Graph is asked to create it.
func (s *Store) Prepare(ctx context.Context, mailboxID string, hash []byte) (err error) {
	ctx, sp := span(ctx, "Prepare")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE inbox_subscriptions SET subscription_id = NULL, client_state_hash = $2, status = 'pending',
		expires_at = NULL, updated_at = now() WHERE mailbox_id = $1`, mailboxID, hash)
	return postgres.MapError(err)
}

// Activate records the subscription Graph created.
func (s *Store) Activate(ctx context.Context, mailboxID, subscriptionID string, expires time.Time) (err error) {
	ctx, sp := span(ctx, "Activate")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE inbox_subscriptions SET subscription_id = $2, status = 'active', expires_at = $3,
		last_error = '', updated_at = now() WHERE mailbox_id = $1`, mailboxID, subscriptionID, expires)
	return postgres.MapError(err)
}

// Renewed records a renewal's new expiry.
func (s *Store) Renewed(ctx context.Context, mailboxID string, expires time.Time) (err error) {
	ctx, sp := span(ctx, "Renewed")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE inbox_subscriptions SET expires_at = $2, last_error = '', updated_at = now()
		WHERE mailbox_id = $1`, mailboxID, expires)
	return postgres.MapError(err)
}

// SetStatus records a status and why, for health.
func (s *Store) SetStatus(ctx context.Context, mailboxID, status, reason string) (err error) {
	ctx, sp := span(ctx, "SetStatus")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE inbox_subscriptions SET status = $2, last_error = $3, updated_at = now()
		WHERE mailbox_id = $1`, mailboxID, status, reason)
	return postgres.MapError(err)
}

// Due lists the mailboxes whose subscription needs work, in id order after
// afterID: active ones expiring before renewBy, and pending or failed ones
// untouched since staleBefore (a creation that did not finish).
func (s *Store) Due(ctx context.Context, renewBy, staleBefore time.Time, afterID string, limit int) (_ []string, err error) {
	ctx, sp := span(ctx, "Due")
	defer func() { end(sp, err) }()
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.db.Query(ctx, `SELECT mailbox_id::text FROM inbox_subscriptions
		WHERE ((status = 'active' AND expires_at < $1) OR (status IN ('pending', 'failed') AND updated_at < $2))
		AND mailbox_id > $3::uuid ORDER BY mailbox_id LIMIT $4`, renewBy, staleBefore, afterID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Watched lists the mailboxes being watched (not stopped), in id order
// after afterID.
func (s *Store) Watched(ctx context.Context, afterID string, limit int) (_ []string, err error) {
	ctx, sp := span(ctx, "Watched")
	defer func() { end(sp, err) }()
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.db.Query(ctx, `SELECT mailbox_id::text FROM inbox_subscriptions
		WHERE status <> 'stopped' AND mailbox_id > $1::uuid ORDER BY mailbox_id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// CaughtUp records a finished catch-up (full: a round from scratch).
func (s *Store) CaughtUp(ctx context.Context, mailboxID string, at time.Time, full bool) (err error) {
	ctx, sp := span(ctx, "CaughtUp")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE inbox_subscriptions SET last_catch_up_at = $2,
		last_full_sync_at = CASE WHEN $3 THEN $2 ELSE last_full_sync_at END WHERE mailbox_id = $1`, mailboxID, at, full)
	return postgres.MapError(err)
}
