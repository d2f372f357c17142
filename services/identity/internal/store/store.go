// Package store keeps the identity service's records in Postgres:
// organizations, users, sessions, API tokens, connections, data keys and
// signing keys. Every query is scoped by organization where the object
// belongs to one; driver errors become the sentinels of platform/postgres.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
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
	// mailboxEvents, when set, publishes mailbox connections' status
	// changes.
	mailboxEvents EventPublisher
}

// New returns a store over db (whose search_path is the identity schema).
// Its reads are run again when they meet a dead pooled connection
// (postgres.DB).
func New(db *pgxpool.Pool) *Store { return &Store{db: postgres.NewDB(db)} }

func span(ctx context.Context, name string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "store."+name)
}

// end closes a store span, recording err on it. A row that is not there is
// an answer, not a failure, so it leaves the span's status alone.
func end(sp trace.Span, err error) {
	if err != nil && !errors.Is(err, postgres.ErrNotFound) {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, "store call failed")
	}
	sp.End()
}

// isUUID reports whether s is a UUID in its canonical 36-character form,
// the only form the store's ids take: anything else cannot name a row, and
// Postgres would refuse to compare it with a uuid column.
func isUUID(s string) bool {
	return len(s) == 36 && uuid.Validate(s) == nil
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
func (s *Store) SignInUser(ctx context.Context, in SignIn) (_ Organization, _ User, _ bool, err error) {
	ctx, sp := span(ctx, "SignInUser")
	defer func() { end(sp, err) }()
	var org Organization
	var user User
	created := false
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
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
func (s *Store) Organization(ctx context.Context, orgID string) (_ Organization, err error) {
	ctx, sp := span(ctx, "Organization")
	defer func() { end(sp, err) }()
	return scanOrg(s.db.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, orgID))
}

// OrganizationByTenant returns the organization of a Microsoft tenant.
func (s *Store) OrganizationByTenant(ctx context.Context, tenantID string) (_ Organization, err error) {
	ctx, sp := span(ctx, "OrganizationByTenant")
	defer func() { end(sp, err) }()
	return scanOrg(s.db.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations WHERE microsoft_tenant_id = $1`, tenantID))
}

// OrganizationUpdate holds the fields to change; nil leaves a field alone.
type OrganizationUpdate struct {
	DisplayName *string
	DefaultRole *authz.Role
}

// UpdateOrganization changes the organization's settings.
func (s *Store) UpdateOrganization(ctx context.Context, orgID string, u OrganizationUpdate) (_ Organization, err error) {
	ctx, sp := span(ctx, "UpdateOrganization")
	defer func() { end(sp, err) }()
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
func (s *Store) MarkAdminConsent(ctx context.Context, orgID string, at time.Time) (err error) {
	ctx, sp := span(ctx, "MarkAdminConsent")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE organizations SET admin_consent_at = $2 WHERE id = $1`, orgID, at)
	return postgres.MapError(err)
}

// User returns an active user of the organization.
func (s *Store) User(ctx context.Context, orgID, userID string) (_ User, err error) {
	ctx, sp := span(ctx, "User")
	defer func() { end(sp, err) }()
	if !isUUID(userID) {
		return User{}, postgres.ErrNotFound
	}
	return scanUser(s.db.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 AND id = $2 AND removed_at IS NULL`, orgID, userID))
}

// Users lists active users of the organization by creation, after the user
// id `after` (a page token), at most limit.
func (s *Store) Users(ctx context.Context, orgID, after string, limit int) (_ []User, err error) {
	ctx, sp := span(ctx, "Users")
	defer func() { end(sp, err) }()
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

// RoleChange is what changing a user's role did.
type RoleChange struct {
	User User
	// Previous is the role before the change.
	Previous authz.Role
	// EndedSessions are the sessions the change ended: their access tokens
	// carry the previous role.
	EndedSessions []string
	// RevokedTokens are the API tokens the user created with a role above
	// the new one, revoked by the change.
	RevokedTokens []string
}

// ChangeUserRole gives a user of the organization a new role in one
// transaction: under the organization's lock and the user's row lock, allow
// sees the user as they are now and may refuse; the organization keeps at
// least one Super Admin; and a role that changes ends the user's sessions
// and revokes the API tokens they created with a role above the new one: a
// token never carries more than its creator may hold now.
func (s *Store) ChangeUserRole(ctx context.Context, orgID, userID string, role authz.Role, at time.Time, allow func(current User) error) (_ RoleChange, err error) {
	ctx, sp := span(ctx, "ChangeUserRole")
	defer func() { end(sp, err) }()
	if !isUUID(userID) {
		return RoleChange{}, postgres.ErrNotFound
	}
	var out RoleChange
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		current, err := lockUser(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if err := allow(current); err != nil {
			return err
		}
		if role != authz.RoleSuperAdmin {
			if err := keepOneSuperAdmin(ctx, tx, orgID, userID); err != nil {
				return err
			}
		}
		out.Previous = current.Role
		if out.User, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET role = $3 WHERE org_id = $1 AND id = $2
			RETURNING `+userColumns, orgID, userID, string(role))); err != nil {
			return err
		}
		if role == current.Role {
			return nil
		}
		if out.EndedSessions, err = revokeUserSessions(ctx, tx, userID, at); err != nil {
			return err
		}
		out.RevokedTokens, err = revokeCreatedTokens(ctx, tx, userID, at, func(r authz.Role) bool { return !role.AtLeast(r) })
		return err
	})
	return out, err
}

// Removal is what removing a user did.
type Removal struct {
	User          User
	EndedSessions []string
	// RevokedTokens are the API tokens the user had created.
	RevokedTokens []string
}

// RemoveUser removes a user from the organization, ends their sessions and
// revokes the API tokens they created, in one transaction: under the
// organization's lock and the user's row lock, allow sees the user as they
// are now and may refuse; the last Super Admin stays.
func (s *Store) RemoveUser(ctx context.Context, orgID, userID string, at time.Time, allow func(current User) error) (_ Removal, err error) {
	ctx, sp := span(ctx, "RemoveUser")
	defer func() { end(sp, err) }()
	if !isUUID(userID) {
		return Removal{}, postgres.ErrNotFound
	}
	var out Removal
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		current, err := lockUser(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if err := allow(current); err != nil {
			return err
		}
		if err := keepOneSuperAdmin(ctx, tx, orgID, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET removed_at = $3 WHERE org_id = $1 AND id = $2`, orgID, userID, at); err != nil {
			return postgres.MapError(err)
		}
		out.User = current
		if out.EndedSessions, err = revokeUserSessions(ctx, tx, userID, at); err != nil {
			return err
		}
		out.RevokedTokens, err = revokeCreatedTokens(ctx, tx, userID, at, func(authz.Role) bool { return true })
		return err
	})
	return out, err
}

// lockUser takes the organization's row lock (which serialises every
// change of roles in it, so the Super Admin count holds) and then the
// user's, and returns the active user as they are under the lock.
func lockUser(ctx context.Context, tx pgx.Tx, orgID, userID string) (User, error) {
	if err := lockOrg(ctx, tx, orgID); err != nil {
		return User{}, err
	}
	return scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 AND id = $2 AND removed_at IS NULL FOR UPDATE`, orgID, userID))
}

// revokeUserSessions ends every open session of a user and returns their
// ids.
func revokeUserSessions(ctx context.Context, tx pgx.Tx, userID string, at time.Time) ([]string, error) {
	rows, err := tx.Query(ctx, `UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id::text`, userID, at)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.MapError(err)
}

// revokeCreatedTokens revokes the live API tokens a user created whose role
// is one of those revoke picks, and returns their ids.
func revokeCreatedTokens(ctx context.Context, tx pgx.Tx, userID string, at time.Time, revoke func(authz.Role) bool) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id::text, role FROM api_tokens WHERE created_by = $1 AND revoked_at IS NULL FOR UPDATE`, userID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	type token struct {
		ID   string
		Role string
	}
	live, err := pgx.CollectRows(rows, pgx.RowToStructByPos[token])
	if err != nil {
		return nil, postgres.MapError(err)
	}
	var ids []string
	for _, t := range live {
		if revoke(authz.Role(t.Role)) {
			ids = append(ids, t.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	_, err = tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = ANY($1::uuid[])`, ids, at)
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

// DataKeys implements envelope.DataKeyStore and DataKeyReplacer on the
// data_keys table.
type DataKeys struct{ db *postgres.DB }

// DataKeys returns the data-key store.
func (s *Store) DataKeys() *DataKeys { return &DataKeys{db: s.db} }

// GetWrapped implements envelope.DataKeyStore.
func (d *DataKeys) GetWrapped(ctx context.Context, orgID string) (_ string, err error) {
	ctx, sp := span(ctx, "DataKeys.GetWrapped")
	defer func() { end(sp, err) }()
	var w string
	err = d.db.QueryRow(ctx, `SELECT wrapped FROM data_keys WHERE org_id = $1`, orgID).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", envelope.ErrDataKeyNotFound
	}
	return w, postgres.MapError(err)
}

// PutWrapped implements envelope.DataKeyStore: insert if absent.
func (d *DataKeys) PutWrapped(ctx context.Context, orgID, wrapped string) (err error) {
	ctx, sp := span(ctx, "DataKeys.PutWrapped")
	defer func() { end(sp, err) }()
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
func (d *DataKeys) ReplaceWrapped(ctx context.Context, orgID, old, new string) (err error) {
	ctx, sp := span(ctx, "DataKeys.ReplaceWrapped")
	defer func() { end(sp, err) }()
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
func (d *DataKeys) OrgIDs(ctx context.Context) (_ []string, err error) {
	ctx, sp := span(ctx, "DataKeys.OrgIDs")
	defer func() { end(sp, err) }()
	rows, err := d.db.Query(ctx, `SELECT org_id FROM data_keys ORDER BY org_id`)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, postgres.MapError(err)
}
