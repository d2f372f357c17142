package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Connection statuses.
const (
	StatusConnected             = "connected"
	StatusAwaitingAdminApproval = "awaiting_admin_approval"
	StatusReconnectRequired     = "reconnect_required"
	StatusDisconnected          = "disconnected"
)

// Providers of connections.
const (
	// ProviderMicrosoftMailbox is a user's Outlook mailbox.
	ProviderMicrosoftMailbox = "microsoft_mailbox"
	// ProviderLever is an organization's Lever account (one per
	// organization).
	ProviderLever = "lever"
)

// Connection is the durable record of a connection to a provider account.
type Connection struct {
	ID              string
	OrgID           string
	UserID          string
	Provider        string
	Status          string
	Reason          string
	Account         string
	Scopes          []string
	AdminConsentURL string
	RefreshedAt     *time.Time
	UpdatedAt       time.Time
}

const connColumns = `id::text, org_id::text, coalesce(user_id::text, ''), provider, status, reason, account, scopes, admin_consent_url, refreshed_at, updated_at`

func scanConn(row pgx.Row) (Connection, error) {
	var c Connection
	err := row.Scan(&c.ID, &c.OrgID, &c.UserID, &c.Provider, &c.Status, &c.Reason, &c.Account, &c.Scopes, &c.AdminConsentURL, &c.RefreshedAt, &c.UpdatedAt)
	return c, postgres.MapError(err)
}

// UpsertPersonalConnection records the state of a user's connection to a
// provider, creating it on first use. A mailbox whose status changes
// publishes its mailbox.* event in the same transaction
// (PublishMailboxChanges).
func (s *Store) UpsertPersonalConnection(ctx context.Context, c Connection) (_ Connection, err error) {
	ctx, sp := span(ctx, "UpsertPersonalConnection")
	defer func() { end(sp, err) }()
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	var out Connection
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		before := ""
		err := tx.QueryRow(ctx, `SELECT status FROM connections WHERE user_id = $1 AND provider = $2 FOR UPDATE`, c.UserID, c.Provider).Scan(&before)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out, err = scanConn(tx.QueryRow(ctx, `INSERT INTO connections (org_id, user_id, provider, status, reason, account, scopes, admin_consent_url, refreshed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (user_id, provider) WHERE user_id IS NOT NULL DO UPDATE SET
			status = excluded.status, reason = excluded.reason,
			account = CASE WHEN excluded.account = '' THEN connections.account ELSE excluded.account END,
			scopes = CASE WHEN cardinality(excluded.scopes) = 0 THEN connections.scopes ELSE excluded.scopes END,
			admin_consent_url = excluded.admin_consent_url,
			refreshed_at = coalesce(excluded.refreshed_at, connections.refreshed_at),
			updated_at = now()
		RETURNING `+connColumns, c.OrgID, c.UserID, c.Provider, c.Status, c.Reason, c.Account, c.Scopes, c.AdminConsentURL, c.RefreshedAt))
		if err != nil {
			return err
		}
		return s.publishMailboxChange(ctx, tx, before, out)
	})
	return out, postgres.MapError(err)
}

// UpsertOrgConnection records the state of the organization's connection
// to a provider (Lever), one per organization, creating it on first use.
// An ATS connection whose status changes publishes ats.connection_changed
// in the same transaction (PublishAtsConnectionChanges).
func (s *Store) UpsertOrgConnection(ctx context.Context, c Connection) (_ Connection, err error) {
	ctx, sp := span(ctx, "UpsertOrgConnection")
	defer func() { end(sp, err) }()
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	var out Connection
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		before := ""
		err := tx.QueryRow(ctx, `SELECT status FROM connections WHERE org_id = $1 AND provider = $2 AND user_id IS NULL FOR UPDATE`, c.OrgID, c.Provider).Scan(&before)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out, err = scanConn(tx.QueryRow(ctx, `INSERT INTO connections (org_id, provider, status, reason, account, scopes, refreshed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (org_id, provider) WHERE user_id IS NULL DO UPDATE SET
			status = excluded.status, reason = excluded.reason,
			account = CASE WHEN excluded.account = '' THEN connections.account ELSE excluded.account END,
			scopes = CASE WHEN cardinality(excluded.scopes) = 0 THEN connections.scopes ELSE excluded.scopes END,
			refreshed_at = coalesce(excluded.refreshed_at, connections.refreshed_at),
			updated_at = now()
		RETURNING `+connColumns, c.OrgID, c.Provider, c.Status, c.Reason, c.Account, c.Scopes, c.RefreshedAt))
		if err != nil {
			return err
		}
		return s.publishAtsChange(ctx, tx, before, out)
	})
	return out, postgres.MapError(err)
}

// OrgConnection returns the organization's connection to a provider.
func (s *Store) OrgConnection(ctx context.Context, orgID, provider string) (_ Connection, err error) {
	ctx, sp := span(ctx, "OrgConnection")
	defer func() { end(sp, err) }()
	return scanConn(s.db.QueryRow(ctx, `SELECT `+connColumns+` FROM connections WHERE org_id = $1 AND provider = $2 AND user_id IS NULL`, orgID, provider))
}

// PersonalConnection returns a user's connection to a provider.
func (s *Store) PersonalConnection(ctx context.Context, orgID, userID, provider string) (_ Connection, err error) {
	ctx, sp := span(ctx, "PersonalConnection")
	defer func() { end(sp, err) }()
	return scanConn(s.db.QueryRow(ctx, `SELECT `+connColumns+` FROM connections WHERE org_id = $1 AND user_id = $2 AND provider = $3`, orgID, userID, provider))
}

// Connection returns a connection of the organization.
func (s *Store) Connection(ctx context.Context, orgID, id string) (_ Connection, err error) {
	ctx, sp := span(ctx, "Connection")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Connection{}, postgres.ErrNotFound
	}
	return scanConn(s.db.QueryRow(ctx, `SELECT `+connColumns+` FROM connections WHERE org_id = $1 AND id = $2`, orgID, id))
}

// ConnectionByID returns a connection whatever its organization, for
// internal callers that name connections by id.
func (s *Store) ConnectionByID(ctx context.Context, id string) (_ Connection, err error) {
	ctx, sp := span(ctx, "ConnectionByID")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Connection{}, postgres.ErrNotFound
	}
	return scanConn(s.db.QueryRow(ctx, `SELECT `+connColumns+` FROM connections WHERE id = $1`, id))
}

// SetConnectionStatus changes a connection's status and reason; a mailbox
// or an ATS connection whose status changes publishes its event in the
// same transaction.
func (s *Store) SetConnectionStatus(ctx context.Context, orgID, id, status, reason string) (err error) {
	ctx, sp := span(ctx, "SetConnectionStatus")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return nil
	}
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		before := ""
		err := tx.QueryRow(ctx, `SELECT status FROM connections WHERE org_id = $1 AND id = $2 FOR UPDATE`, orgID, id).Scan(&before)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if before == StatusDisconnected && status == StatusReconnectRequired {
			// Disconnected stays so: a token read racing the disconnect
			// finds the credentials gone, which is no reason to ask for a
			// reconnection the customer did not want.
			return nil
		}
		c, err := scanConn(tx.QueryRow(ctx, `UPDATE connections SET status = $3, reason = $4, updated_at = now() WHERE org_id = $1 AND id = $2
			RETURNING `+connColumns, orgID, id, status, reason))
		if err != nil {
			return err
		}
		if err := s.publishMailboxChange(ctx, tx, before, c); err != nil {
			return err
		}
		return s.publishAtsChange(ctx, tx, before, c)
	})
	return postgres.MapError(err)
}

// MarkRefreshed records a successful token refresh.
func (s *Store) MarkRefreshed(ctx context.Context, orgID, id string, at time.Time) (err error) {
	ctx, sp := span(ctx, "MarkRefreshed")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE connections SET refreshed_at = $3 WHERE org_id = $1 AND id = $2`, orgID, id, at)
	return postgres.MapError(err)
}

// IdleConnections lists connected connections not refreshed since before.
func (s *Store) IdleConnections(ctx context.Context, before time.Time, limit int) (_ []Connection, err error) {
	ctx, sp := span(ctx, "IdleConnections")
	defer func() { end(sp, err) }()
	return s.connections(ctx, `SELECT `+connColumns+` FROM connections
		WHERE status = 'connected' AND (refreshed_at IS NULL OR refreshed_at < $1) ORDER BY refreshed_at NULLS FIRST LIMIT $2`, before, limit)
}

// ConnectedConnections lists, in id order, at most limit connected
// connections whose id sorts after afterID: the pages of a pass over all
// of them.
func (s *Store) ConnectedConnections(ctx context.Context, afterID string, limit int) (_ []Connection, err error) {
	ctx, sp := span(ctx, "ConnectedConnections")
	defer func() { end(sp, err) }()
	return s.connections(ctx, `SELECT `+connColumns+` FROM connections
		WHERE status = 'connected' AND ($1 = '' OR id > $1::uuid) ORDER BY id LIMIT $2`, afterID, limit)
}

// connections runs a query of connColumns and scans every row.
func (s *Store) connections(ctx context.Context, sql string, args ...any) ([]Connection, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []Connection
	for rows.Next() {
		c, err := scanConn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, postgres.MapError(rows.Err())
}

// MarkReconnectRequired records that a connection's grant no longer works;
// a disconnected connection stays disconnected.
func (s *Store) MarkReconnectRequired(ctx context.Context, orgID, id, reason string) error {
	return s.SetConnectionStatus(ctx, orgID, id, StatusReconnectRequired, reason)
}
