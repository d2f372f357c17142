package events

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/postgres"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the tables this package keeps in a receiving service's
// schema, applied by Migrate as their own set ("events").
var Migrations = func() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // a constant path into an embedded tree
	}
	return sub
}()

// MigrationSet names the set's version table, events_schema_migrations.
const MigrationSet = "events"

// Migrate brings the receiver's tables in schema up to date. It runs after
// the service's own migrations, whose first creates processed_events (the
// table is the service's: its rows are written in the service's
// transactions), and fails when that table is missing.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, log *slog.Logger) error {
	var found bool
	err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, "processed_events"}.Sanitize()).Scan(&found)
	if err != nil {
		return fmt.Errorf("events: migrate %s: %w", schema, err)
	}
	if !found {
		return fmt.Errorf("events: schema %s has no processed_events table; the service's migrations create it", schema)
	}
	if err := postgres.MigrateSet(ctx, pool, schema, MigrationSet, Migrations, log); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}
