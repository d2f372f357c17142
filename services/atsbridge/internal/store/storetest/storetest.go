// Package storetest gives atsbridge's tests a migrated atsbridge schema on
// a database of their own.
package storetest

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/atsbridge/migrations"
)

// New returns a pool on the atsbridge schema of a fresh database, with the
// service's, the events' and River's migrations applied, closed when the
// test ends.
func New(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := t.Context()
	pool, err := postgres.Open(ctx, postgres.Options{URL: pgtest.NewDatabase(t), Schema: "atsbridge"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := postgres.Migrate(ctx, pool, "atsbridge", migrations.FS, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	if err := events.Migrate(ctx, pool, "atsbridge", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Migrate(ctx, pool, "atsbridge", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	return pool
}
