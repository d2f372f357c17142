package events_test

import (
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
)

// The set's Down sections undo its Up sections, and Migrate insists on the
// service's processed_events table.
func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, err := postgres.Open(ctx, postgres.Options{URL: pgtest.NewDatabase(t), Schema: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := logging.Discard()
	if err := events.Migrate(ctx, pool, "svc", log); err == nil || !strings.Contains(err.Error(), "processed_events") {
		t.Fatalf("Migrate without processed_events: %v, want an error naming it", err)
	}
	if _, err := pool.Exec(ctx, processedEvents); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := events.Migrate(ctx, pool, "svc", log); err != nil {
			t.Fatal(err)
		}
	}
	if err := postgres.MigrateSetDown(ctx, pool, "svc", events.MigrationSet, events.Migrations, log, 0); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'svc'
		AND tablename NOT IN ('processed_events', 'events_schema_migrations')`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d tables left after rolling the set back", left)
	}
	if err := events.Migrate(ctx, pool, "svc", log); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
