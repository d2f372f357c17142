package postgres_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
)

// A statement is cancelled by Postgres after the pool's statement timeout;
// a migration is not (issue 16, item 5).
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "svc", StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, "SELECT pg_sleep(5)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("a statement longer than the timeout: %v, want query_canceled (57014)", err)
	}
	slow := fstest.MapFS{"00001_slow.sql": {Data: []byte("-- +goose Up\nSELECT pg_sleep(0.5);\n-- +goose Down\nSELECT 1;\n")}}
	if err := postgres.Migrate(ctx, pool, "svc", slow, logging.Discard()); err != nil {
		t.Fatalf("a migration longer than the statement timeout: %v", err)
	}

	def, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	var got string
	if err := def.QueryRow(ctx, "SHOW statement_timeout").Scan(&got); err != nil || got != "30s" {
		t.Fatalf("default statement_timeout %q (%v), want 30s", got, err)
	}
}

// A server that accepts connections and never answers costs the connect
// timeout, not the caller's whole deadline.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() }) // held open, never answered
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	url := "postgres://postgres@" + lis.Addr().String() + "/x?sslmode=disable"
	_, err = postgres.Open(ctx, postgres.Options{URL: url, Schema: "svc", ConnectTimeout: 200 * time.Millisecond})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("connecting to a server that never answers: %v (caller's context: %v), want the connect timeout first", err, ctx.Err())
	}
	if strings.Contains(err.Error(), "postgres@") {
		t.Fatalf("the error names the URL: %v", err)
	}
}
