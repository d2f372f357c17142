// Package storetest gives identity's tests a migrated identity schema on a
// database of their own.
package storetest

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/migrations"
)

// Open returns a pool on the identity schema of the database at url, with
// the migrations applied, closed when the test ends. Several calls on one
// url stand for several replicas.
func Open(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Open(t.Context(), postgres.Options{URL: url, Schema: "identity"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(t.Context(), pool, "identity", migrations.FS, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	return pool
}

// New is Open on a fresh database.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return Open(t, pgtest.NewDatabase(t))
}
