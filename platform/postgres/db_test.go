package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/codes"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
)

func TestMapErrorUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	_, refused := pgx.Connect(t.Context(), "postgres://postgres@"+closed+"/x?connect_timeout=2")
	var ce *pgconn.ConnectError
	if !errors.As(refused, &ce) {
		t.Fatalf("connecting to a closed port: %v", refused)
	}
	for name, err := range map[string]error{
		"terminated":        &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"},
		"shutting down":     &pgconn.PgError{Code: "57P03"},
		"too many":          &pgconn.PgError{Code: "53300"},
		"statement timeout": &pgconn.PgError{Code: "57014"},
		"connection lost":   &pgconn.PgError{Code: "08006"},
		"refused":           refused,
		"deadline":          fmt.Errorf("query: %w", context.DeadlineExceeded),
		"eof":               fmt.Errorf("read: %w", io.ErrUnexpectedEOF),
	} {
		mapped := postgres.MapError(err)
		if !errors.Is(mapped, postgres.ErrUnavailable) || !errors.Is(mapped, apperr.ErrUnavailable) {
			t.Errorf("%s: %v is not Unavailable", name, mapped)
		}
		if st, _ := grpcserver.ToStatus(mapped); st.Code() != codes.Unavailable || st.Message() != postgres.UnavailableMessage {
			t.Errorf("%s: status %v", name, st)
		}
		// Unmapped, as a store that forgot MapError returns it: still
		// not Internal at the edge.
		if st, _ := grpcserver.ToStatus(fmt.Errorf("store: %w", err)); st.Code() == codes.Internal || st.Code() == codes.Unknown {
			t.Errorf("%s unmapped: status %v", name, st)
		}
	}
	for name, err := range map[string]error{
		"unique":    &pgconn.PgError{Code: "23505"},
		"syntax":    &pgconn.PgError{Code: "42601"},
		"cancelled": fmt.Errorf("query: %w", context.Canceled),
		"other":     errors.New("boom"),
	} {
		if mapped := postgres.MapError(err); errors.Is(mapped, postgres.ErrUnavailable) || postgres.Unavailable(err) {
			t.Errorf("%s: %v taken for Unavailable", name, mapped)
		}
	}
	if !errors.Is(postgres.MapError(&pgconn.PgError{Code: "23505"}), postgres.ErrConflict) {
		t.Error("unique violation is no longer a conflict")
	}
}

// busyPool is a pool on a fresh database that, as under load, never pings
// a connection it hands out, with its connections warmed up and in the
// pool.
func busyPool(t *testing.T, url string, conns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = conns
	cfg.ConnConfig.RuntimeParams["application_name"] = "busy-" + pgtest.RandomSuffix()
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	held := make([]*pgxpool.Conn, conns)
	for i := range held {
		if held[i], err = pool.Acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range held {
		c.Release()
	}
	return pool
}

// terminate ends every backend of pool's application name and waits until
// they are gone.
func terminate(t *testing.T, url string, pool *pgxpool.Pool) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = $1`,
		pool.Config().ConnConfig.RuntimeParams["application_name"]).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReadsSurviveTerminatedBackends(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := t.Context()

	// Without the retry, a read on a terminated backend fails.
	raw := busyPool(t, url, 2)
	if n := terminate(t, url, raw); n != 2 {
		t.Fatalf("terminated %d backends, want 2", n)
	}
	var one int
	err := raw.QueryRow(ctx, "SELECT 1").Scan(&one)
	if err == nil {
		t.Fatal("a read on a terminated backend succeeded without the retry: the test shows nothing")
	}
	if !postgres.Unavailable(err) {
		t.Fatalf("the failure is not Unavailable: %v", err)
	}

	for name, read := range map[string]func(*postgres.DB) error{
		"QueryRow": func(db *postgres.DB) error { return db.QueryRow(ctx, "SELECT 1").Scan(&one) },
		"Query": func(db *postgres.DB) error {
			rows, err := db.Query(ctx, "SELECT generate_series(1, 3)")
			if err != nil {
				return err
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[int])
			if err == nil && len(got) != 3 {
				err = fmt.Errorf("got %v", got)
			}
			return err
		},
		"Begin": func(db *postgres.DB) error {
			return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error { return tx.QueryRow(ctx, "SELECT 1").Scan(&one) })
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := postgres.NewDB(busyPool(t, url, 4))
			if n := terminate(t, url, db.Pool()); n != 4 {
				t.Fatalf("terminated %d backends, want 4", n)
			}
			// Every pooled connection is dead: the read goes through on a
			// new one.
			if err := read(db); err != nil {
				t.Fatalf("read after its backends were terminated: %v", err)
			}
		})
	}

	t.Run("writes are not run twice", func(t *testing.T) {
		db := postgres.NewDB(busyPool(t, url, 2))
		if _, err := db.Exec(ctx, "CREATE TABLE IF NOT EXISTS hits (n int)"); err != nil {
			t.Fatal(err)
		}
		terminate(t, url, db.Pool())
		_, err := db.Exec(ctx, "INSERT INTO hits VALUES (1)")
		if err == nil {
			t.Fatal("a write on a dead connection was run again")
		}
		if mapped := postgres.MapError(err); !errors.Is(mapped, apperr.ErrUnavailable) {
			t.Fatalf("the write's failure is %v, want Unavailable", mapped)
		}
	})
}

// Issue 16, item 4: backends terminated again and again under load (every
// 20 ms, new connections too); no request's error is Internal, and reads
// go through but for the rare one whose every attempt met a backend just
// terminated (without the retry, about a quarter fail).
func TestTerminatedBackendsUnderLoadAreNeverInternal(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	db := postgres.NewDB(busyPool(t, url, 4))
	if _, err := db.Exec(t.Context(), "CREATE TABLE hits (n int)"); err != nil {
		t.Fatal(err)
	}

	var reads, readFailures, writes, internal atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				var err error
				if (w+i)%3 == 0 {
					writes.Add(1)
					_, err = db.Exec(ctx, "INSERT INTO hits VALUES ($1)", i)
				} else {
					reads.Add(1)
					var n int
					err = db.QueryRow(ctx, "SELECT count(*) FROM hits").Scan(&n)
					if err != nil && ctx.Err() == nil {
						readFailures.Add(1)
						t.Logf("read failed: %v", err)
					}
				}
				if err == nil || ctx.Err() != nil {
					continue
				}
				if st, _ := grpcserver.ToStatus(postgres.MapError(err)); st.Code() != codes.Unavailable {
					internal.Add(1)
					t.Errorf("status %v for %v", st, err)
				}
			}
		})
	}
	killer, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(context.Background())
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	kills := 0
	for ctx.Err() == nil {
		var n int
		if err := killer.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
			db.Pool().Config().ConnConfig.RuntimeParams["application_name"]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		kills += n
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	wg.Wait()
	t.Logf("%d reads (%d failed), %d writes, %d backends terminated", reads.Load(), readFailures.Load(), writes.Load(), kills)
	if kills == 0 || reads.Load() == 0 {
		t.Fatal("no load or no terminations: the test shows nothing")
	}
	if internal.Load() != 0 {
		t.Fatalf("%d errors were not Unavailable", internal.Load())
	}
	if readFailures.Load()*10 > reads.Load() {
		t.Fatalf("%d of %d reads failed", readFailures.Load(), reads.Load())
	}
}
