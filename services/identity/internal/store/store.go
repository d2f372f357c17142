// Package store keeps the identity service's records in Postgres:
// organizations, users, sessions, API tokens, connections, data keys and
// signing keys. Every query is scoped by organization where the object
// belongs to one; driver errors become the sentinels of platform/postgres.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/postgres"
)

var tracer = otel.Tracer("github.com/tandemhq/tandem/services/identity/internal/store")

// Sentinels of this package; postgres.ErrNotFound and ErrConflict come
// through too.
var (
	ErrLastSuperAdmin = errors.New("the last super admin cannot be removed or demoted")
	ErrUserRemoved    = errors.New("user was removed from the organization")
	ErrSessionReused  = errors.New("refresh token was already used")
	ErrRefreshRetry   = errors.New("refresh token was rotated moments ago into the same successor")
)

// Store is the identity schema.
type Store struct {
	db *postgres.DB
}

// New returns a store over db (whose search_path is the identity schema).
// Its reads are run again when they meet a dead pooled connection
// (postgres.DB).
func New(db *pgxpool.Pool) *Store { return &Store{db: postgres.NewDB(db)} }

func span(ctx context.Context, name string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "store."+name)
}

// Organization is a tenant's organization.
type Organization struct {
	ID                string
	MicrosoftTenantID string
	DisplayName       string
	DefaultRole       authz.Role
	AdminConsentAt    *time.Time
	CreatedAt         time.Time
}

// User is a person in an organization.
type User struct {
	ID                string
	OrgID             string
	MicrosoftObjectID string
	Email             string
	DisplayName       string
	Role              authz.Role
	CreatedAt         time.Time
}

const orgColumns = `id::text, microsoft_tenant_id, display_name, default_role, admin_consent_at, created_at`

func scanOrg(row pgx.Row) (Organization, error) {
	var o Organization
	var role string
	err := row.Scan(&o.ID, &o.MicrosoftTenantID, &o.DisplayName, &role, &o.AdminConsentAt, &o.CreatedAt)
	o.DefaultRole = authz.Role(role)
	return o, postgres.MapError(err)
}

const userColumns = `id::text, org_id::text, microsoft_object_id, email, display_name, role, created_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var role string
	err := row.Scan(&u.ID, &u.OrgID, &u.MicrosoftObjectID, &u.Email, &u.DisplayName, &role, &u.CreatedAt)
	u.Role = authz.Role(role)
	return u, postgres.MapError(err)
}

// SignIn describes a person who signed in with Microsoft.
type SignIn struct {
	TenantID    string
	ObjectID    string
	Email       string
	DisplayName string
	// OrgName names a new organization.
	OrgName string
}

// SignInUser finds or creates the organization of the tenant and the user in
// it, in one transaction. The first user of a new organization becomes its
// Super Admin; later users join with the default role. Signing in again finds
// the same user and refreshes their name and email.
func (s *Store) SignInUser(ctx context.Context, in SignIn) (Organization, User, bool, error) {
	ctx, sp := span(ctx, "SignInUser")
	defer sp.End()
	var org Organization
	var user User
	created := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO organizations (microsoft_tenant_id, display_name) VALUES ($1, $2)
			ON CONFLICT (microsoft_tenant_id) DO NOTHING`, in.TenantID, in.OrgName); err != nil {
			return postgres.MapError(err)
		}
		// The row lock serialises concurrent first sign-ins of one tenant, so
		// exactly one becomes Super Admin.
		var err error
		org, err = scanOrg(tx.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE microsoft_tenant_id = $1 FOR UPDATE`, in.TenantID))
		if err != nil {
			return err
		}
		var removed *time.Time
		err = tx.QueryRow(ctx, `SELECT removed_at FROM users WHERE org_id = $1 AND microsoft_object_id = $2`, org.ID, in.ObjectID).Scan(&removed)
		switch {
		case err == nil && removed != nil:
			return ErrUserRemoved
		case err == nil:
			user, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET email = $3, display_name = $4
				WHERE org_id = $1 AND microsoft_object_id = $2 RETURNING `+userColumns, org.ID, in.ObjectID, in.Email, in.DisplayName))
			return err
		case !errors.Is(err, pgx.ErrNoRows):
			return postgres.MapError(err)
		}
		var members int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE org_id = $1`, org.ID).Scan(&members); err != nil {
			return postgres.MapError(err)
		}
		role := org.DefaultRole
		if members == 0 {
			role = authz.RoleSuperAdmin
		}
		user, err = scanUser(tx.QueryRow(ctx, `INSERT INTO users (org_id, microsoft_object_id, email, display_name, role)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+userColumns, org.ID, in.ObjectID, in.Email, in.DisplayName, string(role)))
		created = err == nil
		return err
	})
	return org, user, created, err
}

// Organization returns the organization with id.
func (s *Store) Organization(ctx context.Context, orgID string) (Organization, error) {
	ctx, sp := span(ctx, "Organization")
	defer sp.End()
	return scanOrg(s.db.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, orgID))
}

// OrganizationByTenant returns the organization of a Microsoft tenant.
func (s *Store) OrganizationByTenant(ctx context.Context, tenantID string) (Organization, error) {
	ctx, sp := span(ctx, "OrganizationByTenant")
	defer sp.End()
	return scanOrg(s.db.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE microsoft_tenant_id = $1`, tenantID))
}

// OrganizationUpdate holds the fields to change; nil leaves a field alone.
type OrganizationUpdate struct {
	DisplayName *string
	DefaultRole *authz.Role
}

// UpdateOrganization changes the organization's settings.
func (s *Store) UpdateOrganization(ctx context.Context, orgID string, u OrganizationUpdate) (Organization, error) {
	ctx, sp := span(ctx, "UpdateOrganization")
	defer sp.End()
	var role *string
	if u.DefaultRole != nil {
		r := string(*u.DefaultRole)
		role = &r
	}
	return scanOrg(s.db.QueryRow(ctx, `UPDATE organizations SET display_name = coalesce($2, display_name),
		default_role = coalesce($3, default_role) WHERE id = $1 RETURNING `+orgColumns, orgID, u.DisplayName, role))
}

// MarkAdminConsent records that an admin of the organization, signed in,
// confirmed an admin consent.
func (s *Store) MarkAdminConsent(ctx context.Context, orgID string, at time.Time) error {
	ctx, sp := span(ctx, "MarkAdminConsent")
	defer sp.End()
	_, err := s.db.Exec(ctx, `UPDATE organizations SET admin_consent_at = $2 WHERE id = $1`, orgID, at)
	return postgres.MapError(err)
}

// User returns an active user of the organization.
func (s *Store) User(ctx context.Context, orgID, userID string) (User, error) {
	ctx, sp := span(ctx, "User")
	defer sp.End()
	if !isUUID(userID) {
		return User{}, postgres.ErrNotFound
	}
	return scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 AND id = $2 AND removed_at IS NULL`, orgID, userID))
}

// Users lists active users of the organization by creation, after the user
// id `after` (a page token), at most limit.
func (s *Store) Users(ctx context.Context, orgID, after string, limit int) ([]User, error) {
	ctx, sp := span(ctx, "Users")
	defer sp.End()
	rows, err := s.db.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE org_id = $1 AND removed_at IS NULL AND ($2 = '' OR (created_at, id) > (SELECT created_at, id FROM users WHERE id::text = $2))
		ORDER BY created_at, id LIMIT $3`, orgID, after, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, postgres.MapError(rows.Err())
}

// SetUserRole changes a user's role; the organization keeps at least one
// Super Admin.
func (s *Store) SetUserRole(ctx context.Context, orgID, userID string, role authz.Role) (User, error) {
	ctx, sp := span(ctx, "SetUserRole")
	defer sp.End()
	if !isUUID(userID) {
		return User{}, postgres.ErrNotFound
	}
	var out User
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := lockOrg(ctx, tx, orgID); err != nil {
			return err
		}
		if role != authz.RoleSuperAdmin {
			if err := keepOneSuperAdmin(ctx, tx, orgID, userID); err != nil {
				return err
			}
		}
		var err error
		out, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET role = $3 WHERE org_id = $1 AND id = $2 AND removed_at IS NULL
			RETURNING `+userColumns, orgID, userID, string(role)))
		return err
	})
	return out, err
}

// RemoveUser removes a user from the organization and ends their sessions;
// the last Super Admin stays.
func (s *Store) RemoveUser(ctx context.Context, orgID, userID string, at time.Time) ([]string, error) {
	ctx, sp := span(ctx, "RemoveUser")
	defer sp.End()
	if !isUUID(userID) {
		return nil, postgres.ErrNotFound
	}
	var sessions []string
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := lockOrg(ctx, tx, orgID); err != nil {
			return err
		}
		if err := keepOneSuperAdmin(ctx, tx, orgID, userID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE users SET removed_at = $3 WHERE org_id = $1 AND id = $2 AND removed_at IS NULL`, orgID, userID, at)
		if err != nil {
			return postgres.MapError(err)
		}
		if tag.RowsAffected() == 0 {
			return postgres.ErrNotFound
		}
		sessions, err = revokeUserSessions(ctx, tx, userID, at)
		return err
	})
	return sessions, err
}

// RevokeUserSessions ends every open session of a user of the organization
// and returns their ids.
func (s *Store) RevokeUserSessions(ctx context.Context, orgID, userID string, at time.Time) ([]string, error) {
	ctx, sp := span(ctx, "RevokeUserSessions")
	defer sp.End()
	if !isUUID(userID) {
		return nil, postgres.ErrNotFound
	}
	var ids []string
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		ids, err = revokeUserSessions(ctx, tx, userID, at, orgID)
		return err
	})
	return ids, err
}

// revokeUserSessions ends every open session of a user (of orgID, when
// given).
func revokeUserSessions(ctx context.Context, tx pgx.Tx, userID string, at time.Time, orgID ...string) ([]string, error) {
	q := `UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id::text`
	args := []any{userID, at}
	if len(orgID) > 0 {
		q = `UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND org_id = $3 AND revoked_at IS NULL RETURNING id::text`
		args = append(args, orgID[0])
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.MapError(err)
}

func lockOrg(ctx context.Context, tx pgx.Tx, orgID string) error {
	var id string
	return postgres.MapError(tx.QueryRow(ctx, `SELECT id::text FROM organizations WHERE id = $1 FOR UPDATE`, orgID).Scan(&id))
}

// keepOneSuperAdmin fails when userID is the organization's only active
// Super Admin. The caller holds the organization's row lock.
func keepOneSuperAdmin(ctx context.Context, tx pgx.Tx, orgID, userID string) error {
	var others int
	var isSuper bool
	err := tx.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE id <> $2 AND role = 'super_admin'),
		coalesce(bool_or(id = $2 AND role = 'super_admin'), false)
		FROM users WHERE org_id = $1 AND removed_at IS NULL`, orgID, userID).Scan(&others, &isSuper)
	if err != nil {
		return postgres.MapError(err)
	}
	if isSuper && others == 0 {
		return ErrLastSuperAdmin
	}
	return nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// DataKeys implements envelope.DataKeyStore and DataKeyReplacer on the
// data_keys table.
type DataKeys struct{ db *postgres.DB }

// DataKeys returns the data-key store.
func (s *Store) DataKeys() *DataKeys { return &DataKeys{db: s.db} }

// GetWrapped implements envelope.DataKeyStore.
func (d *DataKeys) GetWrapped(ctx context.Context, orgID string) (string, error) {
	ctx, sp := span(ctx, "DataKeys.GetWrapped")
	defer sp.End()
	var w string
	err := d.db.QueryRow(ctx, `SELECT wrapped FROM data_keys WHERE org_id = $1`, orgID).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", envelope.ErrDataKeyNotFound
	}
	return w, postgres.MapError(err)
}

// PutWrapped implements envelope.DataKeyStore: insert if absent.
func (d *DataKeys) PutWrapped(ctx context.Context, orgID, wrapped string) error {
	ctx, sp := span(ctx, "DataKeys.PutWrapped")
	defer sp.End()
	tag, err := d.db.Exec(ctx, `INSERT INTO data_keys (org_id, wrapped) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING`, orgID, wrapped)
	if err != nil {
		return postgres.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return envelope.ErrDataKeyExists
	}
	return nil
}

// ReplaceWrapped implements envelope.DataKeyReplacer: compare and swap.
func (d *DataKeys) ReplaceWrapped(ctx context.Context, orgID, old, new string) error {
	ctx, sp := span(ctx, "DataKeys.ReplaceWrapped")
	defer sp.End()
	tag, err := d.db.Exec(ctx, `UPDATE data_keys SET wrapped = $3, updated_at = now() WHERE org_id = $1 AND wrapped = $2`, orgID, old, new)
	if err != nil {
		return postgres.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		// Nothing to swap: either another value is stored, or none is.
		if _, err := d.GetWrapped(ctx, orgID); err != nil {
			return err
		}
		return envelope.ErrDataKeyChanged
	}
	return nil
}

// OrgIDs lists every organization that has a data key, for key rotation.
func (d *DataKeys) OrgIDs(ctx context.Context) ([]string, error) {
	rows, err := d.db.Query(ctx, `SELECT org_id FROM data_keys ORDER BY org_id`)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.MapError(err)
}
