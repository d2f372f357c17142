package pgtest

import (
	"io/fs"
	"log/slog"
	"testing"

	"github.com/tandemhq/tandem/platform/postgres"
)

// MigrationsRoundTrip applies every migration in fsys to a fresh database,
// rolls them all back, checks that nothing but goose's version table is
// left in the schema, and applies them again. It proves that each Down
// section undoes its Up section.
func MigrationsRoundTrip(t *testing.T, fsys fs.FS) {
	t.Helper()
	ctx := t.Context()
	const schema = "roundtrip"
	pool, err := postgres.Open(ctx, postgres.Options{URL: NewDatabase(t), Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	log := slog.New(slog.DiscardHandler)
	if err := postgres.Migrate(ctx, pool, schema, fsys, log); err != nil {
		t.Fatalf("up: %v", err)
	}
	if err := postgres.MigrateDown(ctx, pool, schema, fsys, log, 0); err != nil {
		t.Fatalf("down: %v", err)
	}
	rows, err := pool.Query(ctx, `SELECT c.relname || ' (' || c.relkind::text || ')' FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname NOT LIKE 'schema_migrations%'
		UNION ALL
		SELECT t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE n.nspname = $1 AND t.typtype IN ('e', 'd')
		UNION ALL
		SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		left = append(left, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("after rolling every migration back, the schema still has %v", left)
	}
	if err := postgres.Migrate(ctx, pool, schema, fsys, log); err != nil {
		t.Fatalf("up again after down: %v", err)
	}
}
