package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// SigningKeyRecord is a stored session-signing key.
type SigningKeyRecord struct {
	ID               string
	SealedPrivateKey string
	PublicKey        []byte
	CreatedAt        time.Time
	RetiredAt        *time.Time
}

// SigningKeys lists every signing key, newest first.
func (s *Store) SigningKeys(ctx context.Context) (_ []SigningKeyRecord, err error) {
	ctx, sp := span(ctx, "SigningKeys")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT id, sealed_private_key, public_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SigningKeyRecord, error) {
		var k SigningKeyRecord
		err := r.Scan(&k.ID, &k.SealedPrivateKey, &k.PublicKey, &k.CreatedAt, &k.RetiredAt)
		return k, err
	})
	return out, postgres.MapError(err)
}

// AddSigningKeyIfNone stores k unless a key exists already, atomically across
// replicas starting together. It reports whether k was stored.
func (s *Store) AddSigningKeyIfNone(ctx context.Context, k SigningKeyRecord) (_ bool, err error) {
	ctx, sp := span(ctx, "AddSigningKeyIfNone")
	defer func() { end(sp, err) }()
	added := false
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys'))`); err != nil {
			return postgres.MapError(err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM signing_keys WHERE retired_at IS NULL`).Scan(&n); err != nil {
			return postgres.MapError(err)
		}
		if n > 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (id, sealed_private_key, public_key) VALUES ($1, $2, $3)`, k.ID, k.SealedPrivateKey, k.PublicKey)
		added = err == nil
		return postgres.MapError(err)
	})
	return added, err
}
