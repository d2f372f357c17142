// Package storetest gives outreach's tests a migrated outreach schema on a
// database of their own.
package storetest

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/migrations"
)

// New returns a pool on the outreach schema of a fresh database, with the
// migrations applied, closed when the test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.NewDatabase(t), Schema: "outreach"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(t.Context(), pool, "outreach", migrations.FS, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	return pool
}
