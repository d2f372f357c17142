package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Mailbox statuses.
const (
	StatusConnected         = "connected"
	StatusReconnectRequired = "reconnect_required"
	StatusDisconnected      = "disconnected"
)

// Mailbox is a connected (or once connected) mailbox.
type Mailbox struct {
	ID            string // identity's connection id
	OrgID         string
	UserID        string
	Account       string
	Address       string
	OwnAddresses  []string
	Status        string
	StatusReason  string
	StatusVersion int64
	// AddressesFetchedAt is when Graph last told its addresses.
	AddressesFetchedAt *time.Time
	DailyMessageLimit  int
	MinGap             time.Duration
	LastError          string
	LastErrorAt        *time.Time
	LastSentAt         *time.Time
	// RecoveredAt is when the mailbox last came back to connected after
	// it was reconnect_required or disconnected.
	RecoveredAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const mailboxColumns = `id::text, org_id::text, user_id::text, account, address, own_addresses, status, status_reason, status_version,
	addresses_fetched_at, daily_message_limit, min_gap_ms, last_error, last_error_at, last_sent_at, recovered_at, created_at, updated_at`

func scanMailbox(row pgx.Row) (Mailbox, error) {
	var m Mailbox
	var gapMs int64
	err := row.Scan(mailboxDest(&m, &gapMs)...)
	m.MinGap = time.Duration(gapMs) * time.Millisecond
	return m, postgres.MapError(err)
}

// mailboxDest is where a row of mailboxColumns scans into; the minimum
// gap comes as milliseconds in gapMs.
func mailboxDest(m *Mailbox, gapMs *int64) []any {
	return []any{&m.ID, &m.OrgID, &m.UserID, &m.Account, &m.Address, &m.OwnAddresses, &m.Status, &m.StatusReason, &m.StatusVersion,
		&m.AddressesFetchedAt, &m.DailyMessageLimit, gapMs, &m.LastError, &m.LastErrorAt, &m.LastSentAt, &m.RecoveredAt, &m.CreatedAt, &m.UpdatedAt}
}

// MailboxForSubmit reads a mailbox of the organization in tx and holds a
// share lock on it until tx ends: a message being submitted and the
// mailbox's head leaving (LockMailbox) are serialised, so a submit that
// finds a message ahead of its own knows that message's end will see its
// own (ADR 29).
func (s *Store) MailboxForSubmit(ctx context.Context, tx pgx.Tx, orgID, id string) (_ Mailbox, err error) {
	ctx, sp := span(ctx, "MailboxForSubmit")
	defer func() { end(sp, err) }()
	if !isUUID(id) || !isUUID(orgID) {
		return Mailbox{}, postgres.ErrNotFound
	}
	return scanMailbox(tx.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE org_id = $1 AND id = $2 FOR SHARE`, orgID, id))
}

// LockMailbox takes in tx the lock a message's end holds on its mailbox
// before it looks for the next head (see MailboxForSubmit). MarkSent takes
// it already.
func (s *Store) LockMailbox(ctx context.Context, tx pgx.Tx, id string) (err error) {
	ctx, sp := span(ctx, "LockMailbox")
	defer func() { end(sp, err) }()
	_, err = tx.Exec(ctx, `SELECT 1 FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE`, id)
	return postgres.MapError(err)
}

// StatusChange is identity's news about a mailbox connection.
type StatusChange struct {
	ID, OrgID, UserID, Account string
	Status, Reason             string
	// Version orders changes: a change older than the one stored is
	// ignored.
	Version int64
	// Defaults for a mailbox seen for the first time.
	DailyMessageLimit int
	MinGap            time.Duration
}

// ApplyStatus records c in tx unless a newer status is stored already;
// applied says whether it was. A mailbox connected again after it was
// reconnect_required or disconnected is recovered now. before is the status it replaced ("" for a
// new mailbox).
func (s *Store) ApplyStatus(ctx context.Context, tx pgx.Tx, c StatusChange) (m Mailbox, before string, applied bool, err error) {
	ctx, sp := span(ctx, "ApplyStatus")
	defer func() { end(sp, err) }()
	err = tx.QueryRow(ctx, `SELECT status FROM mailboxes WHERE id = $1 FOR UPDATE`, c.ID).Scan(&before)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Mailbox{}, "", false, postgres.MapError(err)
	}
	m, err = scanMailbox(tx.QueryRow(ctx, `INSERT INTO mailboxes (id, org_id, user_id, account, status, status_reason, status_version, daily_message_limit, min_gap_ms)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, status_reason = excluded.status_reason,
			status_version = excluded.status_version,
			account = CASE WHEN excluded.account = '' THEN mailboxes.account ELSE excluded.account END,
			recovered_at = CASE WHEN excluded.status = 'connected' AND mailboxes.status IN ('reconnect_required', 'disconnected')
				THEN now() ELSE mailboxes.recovered_at END,
			updated_at = now()
		WHERE mailboxes.status_version < excluded.status_version
		RETURNING `+mailboxColumns, c.ID, c.OrgID, c.UserID, c.Account, c.Status, c.Reason, c.Version, c.DailyMessageLimit, c.MinGap.Milliseconds()))
	if postgresNotFound(err) {
		return Mailbox{}, before, false, nil
	}
	if err != nil {
		return Mailbox{}, "", false, err
	}
	return m, before, true, nil
}

// SetAddresses records the mailbox's primary and own addresses as Graph
// told them at at.
func (s *Store) SetAddresses(ctx context.Context, id, address string, own []string, at time.Time) (err error) {
	ctx, sp := span(ctx, "SetAddresses")
	defer func() { end(sp, err) }()
	if own == nil {
		own = []string{}
	}
	_, err = s.db.Exec(ctx, `UPDATE mailboxes SET address = $2, own_addresses = $3, addresses_fetched_at = $4, updated_at = now() WHERE id = $1`,
		id, address, own, at)
	return postgres.MapError(err)
}

// Mailbox returns a mailbox of the organization.
func (s *Store) Mailbox(ctx context.Context, orgID, id string) (_ Mailbox, err error) {
	ctx, sp := span(ctx, "Mailbox")
	defer func() { end(sp, err) }()
	if !isUUID(id) || !isUUID(orgID) {
		return Mailbox{}, postgres.ErrNotFound
	}
	return scanMailbox(s.db.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE org_id = $1 AND id = $2`, orgID, id))
}

// MailboxByID returns a mailbox whatever its organization, for jobs that
// name it by id.
func (s *Store) MailboxByID(ctx context.Context, id string) (_ Mailbox, err error) {
	ctx, sp := span(ctx, "MailboxByID")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Mailbox{}, postgres.ErrNotFound
	}
	return scanMailbox(s.db.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE id = $1`, id))
}

// ListMailboxes returns, in id order, at most limit mailboxes of the
// organization whose id sorts after afterID.
func (s *Store) ListMailboxes(ctx context.Context, orgID, afterID string, limit int) (_ []Mailbox, err error) {
	ctx, sp := span(ctx, "ListMailboxes")
	defer func() { end(sp, err) }()
	if !isUUID(orgID) {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT `+mailboxColumns+` FROM mailboxes WHERE org_id = $1 AND ($2 = '' OR id > $2::uuid) ORDER BY id LIMIT $3`,
		orgID, afterID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, postgres.MapError(rows.Err())
}

// RecordMailboxError notes the last send failure of a mailbox, for its
// health.
func (s *Store) RecordMailboxError(ctx context.Context, id, reason string, at time.Time) (err error) {
	ctx, sp := span(ctx, "RecordMailboxError")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE mailboxes SET last_error = $2, last_error_at = $3 WHERE id = $1`, id, reason, at)
	return postgres.MapError(err)
}
