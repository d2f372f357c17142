package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
)

// APIToken is a long-lived token's record; the token itself is stored only
// as its hash.
type APIToken struct {
	ID          string
	OrgID       string
	DisplayName string
	Role        authz.Role
	CreatedBy   string
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

const apiTokenColumns = `id::text, org_id::text, display_name, role, coalesce(created_by::text, ''), created_at, revoked_at`

func scanAPIToken(row pgx.Row) (APIToken, error) {
	var t APIToken
	var role string
	err := row.Scan(&t.ID, &t.OrgID, &t.DisplayName, &role, &t.CreatedBy, &t.CreatedAt, &t.RevokedAt)
	t.Role = authz.Role(role)
	return t, postgres.MapError(err)
}

// CreateAPIToken stores a token's hash. A token with a creator is made
// under the creator's row lock, which a role change or removal of theirs
// also takes: allow sees the creator as they are now and may refuse, so a
// token is never made from a role its creator no longer holds. (A token
// without a creator, from before every token had one, takes no lock.)
func (s *Store) CreateAPIToken(ctx context.Context, t APIToken, hash []byte, allow func(creator User) error) (_ APIToken, err error) {
	ctx, sp := span(ctx, "CreateAPIToken")
	defer func() { end(sp, err) }()
	var out APIToken
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if t.CreatedBy != "" {
			if !isUUID(t.CreatedBy) {
				return postgres.ErrNotFound
			}
			creator, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 AND id = $2 AND removed_at IS NULL FOR SHARE`, t.OrgID, t.CreatedBy))
			if err != nil {
				return err
			}
			if allow != nil {
				if err := allow(creator); err != nil {
					return err
				}
			}
		}
		var err error
		out, err = scanAPIToken(tx.QueryRow(ctx, `INSERT INTO api_tokens (org_id, display_name, role, token_hash, created_by)
			VALUES ($1, $2, $3, $4, nullif($5, '')::uuid) RETURNING `+apiTokenColumns, t.OrgID, t.DisplayName, string(t.Role), hash, t.CreatedBy))
		return err
	})
	return out, err
}

// APITokenByHash finds an unrevoked token by its hash.
func (s *Store) APITokenByHash(ctx context.Context, hash []byte) (_ APIToken, err error) {
	ctx, sp := span(ctx, "APITokenByHash")
	defer func() { end(sp, err) }()
	return scanAPIToken(s.db.QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, hash))
}

// APITokens lists the organization's tokens, newest first.
func (s *Store) APITokens(ctx context.Context, orgID string) (_ []APIToken, err error) {
	ctx, sp := span(ctx, "APITokens")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE org_id = $1 ORDER BY created_at DESC, id`, orgID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, postgres.MapError(rows.Err())
}

// RevokeAPIToken revokes a token of the organization (again is fine).
func (s *Store) RevokeAPIToken(ctx context.Context, orgID, id string, at time.Time) (_ APIToken, err error) {
	ctx, sp := span(ctx, "RevokeAPIToken")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return APIToken{}, postgres.ErrNotFound
	}
	return scanAPIToken(s.db.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $3)
		WHERE org_id = $1 AND id = $2 RETURNING `+apiTokenColumns, orgID, id, at))
}
