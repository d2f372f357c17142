package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
)

var migrations = fstest.MapFS{
	"00001_widgets.sql":      {Data: []byte("-- +goose Up\nCREATE TABLE widgets (id text PRIMARY KEY, name text NOT NULL);\n-- +goose Down\nDROP TABLE widgets;\n")},
	"00002_widget_color.sql": {Data: []byte("-- +goose Up\nALTER TABLE widgets ADD COLUMN color text;\n-- +goose Down\nALTER TABLE widgets DROP COLUMN color;\n")},
}

func TestMigrateOwnSchemaConcurrentlyAndIdempotent(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	log := logging.Discard()

	// Three replicas start at once: the advisory lock lets one migrate.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			pool, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "svc_a"})
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = postgres.Migrate(ctx, pool, "svc_a", migrations, log)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	pool, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "svc_a"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Unqualified names resolve in the service's schema.
	if _, err := pool.Exec(ctx, "INSERT INTO widgets (id, name, color) VALUES ('w1', 'one', 'red')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM svc_a.schema_migrations WHERE version_id > 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("want 2 applied migrations, got %d", n)
	}
	// Running again applies nothing and keeps the data.
	if err := postgres.Migrate(ctx, pool, "svc_a", migrations, log); err != nil {
		t.Fatal(err)
	}
	// Another service's schema is separate.
	other, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "svc_b"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.Exec(ctx, "SELECT 1 FROM widgets")
	if err == nil {
		t.Fatal("svc_b should not see svc_a's tables")
	}
}

func TestMigrateFailureIsReported(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "broken"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	bad := fstest.MapFS{"00001_bad.sql": {Data: []byte("-- +goose Up\nCREATE TABLE (;\n")}}
	if err := postgres.Migrate(ctx, pool, "broken", bad, logging.Discard()); err == nil {
		t.Fatal("want an error for a broken migration")
	}
}

func TestOpenRejectsBadSchemaAndHidesURL(t *testing.T) {
	ctx := context.Background()
	if _, err := postgres.Open(ctx, postgres.Options{URL: pgtest.AdminURL(), Schema: "x; DROP"}); err == nil {
		t.Fatal("want error for bad schema")
	}
	_, err := postgres.Open(ctx, postgres.Options{URL: "postgres://u:s3cret@%zz", Schema: "ok"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("want error without the password, got %v", err)
	}
}

func TestMapError(t *testing.T) {
	if !errors.Is(postgres.MapError(pgx.ErrNoRows), postgres.ErrNotFound) {
		t.Fatal("no rows should map to ErrNotFound")
	}
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, "INSERT INTO t VALUES (1)")
	if !errors.Is(postgres.MapError(err), postgres.ErrConflict) {
		t.Fatalf("duplicate key should map to ErrConflict, got %v", err)
	}
}

func TestMigrationsRoundTrip(t *testing.T) {
	pgtest.MigrationsRoundTrip(t, migrations)
}

func TestMigrateDown(t *testing.T) {
	// Down runs each Down section and forgets the versions; what a Down
	// section leaves behind stays (MigrationsRoundTrip reports it).
	leaky := fstest.MapFS{
		"00001_widgets.sql": {Data: []byte("-- +goose Up\nCREATE TABLE widgets (id text PRIMARY KEY);\nCREATE TABLE gadgets (id text);\n-- +goose Down\nDROP TABLE widgets;\n")},
	}
	pool, err := postgres.Open(t.Context(), postgres.Options{URL: pgtest.NewDatabase(t), Schema: "leaky"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := logging.Discard()
	if err := postgres.Migrate(t.Context(), pool, "leaky", leaky, log); err != nil {
		t.Fatal(err)
	}
	if err := postgres.MigrateDown(t.Context(), pool, "leaky", leaky, log, 0); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM leaky.schema_migrations WHERE version_id > 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("after MigrateDown to 0, %d versions remain recorded", n)
	}
	if _, err := pool.Exec(t.Context(), "SELECT 1 FROM leaky.gadgets"); err != nil {
		t.Fatalf("the leaked table should still be there: %v", err)
	}
	if _, err := pool.Exec(t.Context(), "SELECT 1 FROM leaky.widgets"); err == nil {
		t.Fatal("the Down section did not run")
	}
}

// A platform package's migration set shares the schema with the service's
// migrations but numbers its versions on its own: both have a version 1, and
// each applies, and rolls back, without touching the other.
func TestMigrateSetIsTrackedApart(t *testing.T) {
	ctx := t.Context()
	pool, err := postgres.Open(ctx, postgres.Options{URL: pgtest.NewDatabase(t), Schema: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := logging.Discard()
	set := fstest.MapFS{
		"00001_gizmos.sql": {Data: []byte("-- +goose Up\nCREATE TABLE gizmos (id text PRIMARY KEY);\n-- +goose Down\nDROP TABLE gizmos;\n")},
	}
	if err := postgres.Migrate(ctx, pool, "svc", migrations, log); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := postgres.MigrateSet(ctx, pool, "svc", "gizmo", set, log); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, "INSERT INTO gizmos VALUES ('a'); INSERT INTO widgets (id, name) VALUES ('w', 'n')"); err != nil {
		t.Fatalf("both sets' tables should exist: %v", err)
	}
	if err := postgres.MigrateSetDown(ctx, pool, "svc", "gizmo", set, log, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "SELECT 1 FROM gizmos"); err == nil {
		t.Fatal("the set's Down section did not run")
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM svc.schema_migrations WHERE version_id > 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("the service's migrations are recorded %d times, want 2, untouched by the set", n)
	}
	if err := postgres.MigrateSet(ctx, pool, "svc", "Bad-Name", set, log); err == nil {
		t.Fatal("an invalid set name was accepted")
	}
}
