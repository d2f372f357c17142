package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/store/storetest"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// newStore returns a store over a fresh, migrated database of its own, and
// the pool for the few checks that look at rows directly.
func newStore(t *testing.T) (*store.Store, *pgxpool.Pool) {
	t.Helper()
	pool := storetest.New(t)
	return store.New(pool), pool
}

// newID is a random id of the shape Microsoft uses for tenants and users.
func newID(t testing.TB) string {
	t.Helper()
	return uuid.NewString()
}

// person signs a new person of tenant in and returns them.
func person(t *testing.T, st *store.Store, tenant, email string) (store.Organization, store.User) {
	t.Helper()
	org, user, created, err := st.SignInUser(t.Context(), store.SignIn{TenantID: tenant, ObjectID: newID(t), Email: email, DisplayName: email, OrgName: "Org " + tenant[:8]})
	if err != nil {
		t.Fatalf("sign in %s: %v", email, err)
	}
	if !created {
		t.Fatalf("sign in %s: want a new user", email)
	}
	return org, user
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// exec runs SQL for set-ups the store has no method for.
func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(t.Context(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

// ctxTimeout bounds tests that wait on each other's transactions, so a lock
// that is never released fails the test instead of hanging it.
func ctxTimeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// anyone allows every change.
func anyone(store.User) error { return nil }

// setRole changes a user's role with no rule of the caller's.
func setRole(ctx context.Context, st *store.Store, orgID, userID string, role authz.Role) (store.User, error) {
	c, err := st.ChangeUserRole(ctx, orgID, userID, role, time.Now(), anyone)
	return c.User, err
}

// removeUser removes a user with no rule of the caller's and returns the
// sessions it ended.
func removeUser(ctx context.Context, st *store.Store, orgID, userID string, at time.Time) ([]string, error) {
	r, err := st.RemoveUser(ctx, orgID, userID, at, anyone)
	return r.EndedSessions, err
}
