package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// SealedCredentials implements vault.DurableStore on the
// connection_credentials table: the durable copy of each connection's
// sealed credentials.
type SealedCredentials struct{ db *postgres.DB }

// SealedCredentials returns the durable credential store.
func (s *Store) SealedCredentials() *SealedCredentials { return &SealedCredentials{db: s.db} }

var _ vault.DurableStore = (*SealedCredentials)(nil)

// Get implements vault.DurableStore.
func (c *SealedCredentials) Get(ctx context.Context, connID string) (vault.Kept, error) {
	ctx, sp := span(ctx, "SealedCredentials.Get")
	defer sp.End()
	if !isUUID(connID) {
		return vault.Kept{}, vault.ErrNotKept
	}
	var k vault.Kept
	var sealed *string
	err := c.db.QueryRow(ctx, `SELECT org_id::text, sealed, refused, version FROM connection_credentials WHERE connection_id = $1`, connID).
		Scan(&k.OrgID, &sealed, &k.Refused, &k.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return vault.Kept{}, vault.ErrNotKept
	}
	if err != nil {
		return vault.Kept{}, postgres.MapError(err)
	}
	if sealed != nil {
		k.Sealed = *sealed
	}
	return k, nil
}

// Put implements vault.DurableStore. The connection must exist in the
// organization: the row is made from it.
func (c *SealedCredentials) Put(ctx context.Context, orgID, connID, sealed string) (int64, error) {
	ctx, sp := span(ctx, "SealedCredentials.Put")
	defer sp.End()
	if !isUUID(connID) || !isUUID(orgID) {
		return 0, vault.ErrNotKept
	}
	var version int64
	err := c.db.QueryRow(ctx, `INSERT INTO connection_credentials (connection_id, org_id, sealed, version)
		SELECT id, org_id, $3, 1 FROM connections WHERE id = $1 AND org_id = $2
		ON CONFLICT (connection_id) DO UPDATE SET sealed = excluded.sealed, refused = '',
			version = connection_credentials.version + 1, updated_at = now()
		WHERE connection_credentials.org_id = excluded.org_id
		RETURNING version`, connID, orgID, sealed).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, vault.ErrNotKept
	}
	return version, postgres.MapError(err)
}

// Swap implements vault.DurableStore.
func (c *SealedCredentials) Swap(ctx context.Context, orgID, connID string, from int64, sealed string) (int64, error) {
	ctx, sp := span(ctx, "SealedCredentials.Swap")
	defer sp.End()
	if !isUUID(connID) || !isUUID(orgID) {
		return 0, vault.ErrVersionChanged
	}
	q := `UPDATE connection_credentials SET sealed = $3, refused = '', version = version + 1, updated_at = now()
		WHERE connection_id = $1 AND org_id = $2 AND version = $4 AND sealed IS NOT NULL RETURNING version`
	if from == 0 {
		q = `INSERT INTO connection_credentials (connection_id, org_id, sealed, version)
			SELECT id, org_id, $3, 1 FROM connections WHERE id = $1 AND org_id = $2 AND $4::bigint = 0
			ON CONFLICT (connection_id) DO NOTHING RETURNING version`
	}
	var version int64
	err := c.db.QueryRow(ctx, q, connID, orgID, sealed, from).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, vault.ErrVersionChanged
	}
	return version, postgres.MapError(err)
}

// Refuse implements vault.DurableStore.
func (c *SealedCredentials) Refuse(ctx context.Context, orgID, connID string, from int64, reason string) error {
	ctx, sp := span(ctx, "SealedCredentials.Refuse")
	defer sp.End()
	if !isUUID(connID) || !isUUID(orgID) {
		return vault.ErrVersionChanged
	}
	tag, err := c.db.Exec(ctx, `UPDATE connection_credentials SET sealed = NULL, refused = $4, version = version + 1, updated_at = now()
		WHERE connection_id = $1 AND org_id = $2 AND version = $3`, connID, orgID, from, reason)
	if err != nil {
		return postgres.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return vault.ErrVersionChanged
	}
	return nil
}

// Delete implements vault.DurableStore.
func (c *SealedCredentials) Delete(ctx context.Context, connID string) error {
	ctx, sp := span(ctx, "SealedCredentials.Delete")
	defer sp.End()
	if !isUUID(connID) {
		return nil
	}
	_, err := c.db.Exec(ctx, `DELETE FROM connection_credentials WHERE connection_id = $1`, connID)
	return postgres.MapError(err)
}
