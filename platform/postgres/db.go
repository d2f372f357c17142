package postgres

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is a pool whose reads survive dead pooled connections. A pooled
// connection whose backend was terminated (a failover, an operator's
// pg_terminate_backend, an idle timeout) is found dead only when used; the
// pool pings connections idle for over a second, but under load it hands
// them out as they are, and the statement fails.
//
// So a statement is run again, on the next connection, when:
//   - nothing of it reached the server (pgconn.SafeToRetry), whatever it is;
//   - or it is a read (it starts with SELECT) or a BEGIN and the connection
//     turned out dead (terminated by the server, closed, reset).
//
// A write that met a dead connection is not run again: the server may have
// committed it before the connection died. Its error is Unavailable (see
// MapError) and the caller decides. The dead connection leaves the pool,
// so each attempt takes another one; attempts stop at one more than the
// pool's size, at the caller's deadline, and at the first error of any
// other kind (a connection refused is the server down, not a stale
// connection).
//
// A SELECT that changes something through a function it calls is not a
// read here; run it with Exec.
type DB struct {
	pool     *pgxpool.Pool
	attempts int
}

// NewDB wraps pool.
func NewDB(pool *pgxpool.Pool) *DB {
	return &DB{pool: pool, attempts: int(pool.Config().MaxConns) + 1}
}

// Pool is the pool itself, for what takes one (jobs, migrations).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// retry reports whether a statement that failed with err on attempt may
// run again.
func (db *DB) retry(ctx context.Context, err error, read bool, attempt int) bool {
	if err == nil || attempt >= db.attempts || ctx.Err() != nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return false
	}
	return pgconn.SafeToRetry(err) || read && deadConnection(err)
}

// isRead reports whether sql is a SELECT.
func isRead(sql string) bool {
	s := strings.TrimLeft(sql, " \t\r\n(")
	return len(s) > 6 && strings.EqualFold(s[:6], "select") && strings.ContainsRune(" \t\r\n", rune(s[6]))
}

// Exec runs a statement, again only if nothing of it reached the server.
func (db *DB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	for attempt := 1; ; attempt++ {
		tag, err := db.pool.Exec(ctx, sql, args...)
		if !db.retry(ctx, err, false, attempt) {
			return tag, err
		}
	}
}

// QueryRow runs a query for one row; a read is run again on a dead
// connection. Errors come from Scan, as with pgx.
func (db *DB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return &retriedRow{db: db, ctx: ctx, sql: sql, args: args}
}

type retriedRow struct {
	db   *DB
	ctx  context.Context
	sql  string
	args []any
}

func (r *retriedRow) Scan(dest ...any) error {
	read := isRead(r.sql)
	for attempt := 1; ; attempt++ {
		err := r.db.pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
		if !r.db.retry(r.ctx, err, read, attempt) {
			return err
		}
	}
}

// Query runs a query; a read is run again on a dead connection as long as
// it has returned no row.
func (db *DB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	read := isRead(sql)
	for attempt := 1; ; attempt++ {
		rows, err := db.pool.Query(ctx, sql, args...)
		switch {
		case err != nil && db.retry(ctx, err, read, attempt):
			continue
		case err != nil || !read:
			return rows, err
		}
		return &retriedRows{Rows: rows, db: db, ctx: ctx, sql: sql, args: args, attempt: attempt}, nil
	}
}

// retriedRows runs its query again when it fails before the first row:
// pgx reports most failures of a query from Next, not from Query.
type retriedRows struct {
	pgx.Rows
	db      *DB
	ctx     context.Context
	sql     string
	args    []any
	attempt int
	seen    bool
}

func (r *retriedRows) Next() bool {
	for {
		if r.Rows.Next() {
			r.seen = true
			return true
		}
		if r.seen || !r.db.retry(r.ctx, r.Err(), true, r.attempt) {
			return false
		}
		r.Close()
		r.attempt++
		r.Rows, _ = r.db.pool.Query(r.ctx, r.sql, r.args...) //nolint:errcheck // on failure pgxpool returns rows holding the error: the next round's Next is false and Err tells it
	}
}

// Begin starts a transaction, again on a dead connection: nothing has
// happened in it yet.
func (db *DB) Begin(ctx context.Context) (pgx.Tx, error) {
	return db.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx is Begin with options.
func (db *DB) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	for attempt := 1; ; attempt++ {
		tx, err := db.pool.BeginTx(ctx, opts)
		if !db.retry(ctx, err, true, attempt) {
			return tx, err
		}
	}
}
