// Package postgres opens a service's connection pool on its own schema and
// applies the service's embedded, versioned migrations at start-up.
//
// One database, one schema per service (DESIGN §2): the pool's search_path is
// the service's schema, so a service's SQL names its tables unqualified and
// cannot read another service's tables by accident.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	"github.com/tandemhq/tandem/platform/apperr"
)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Errors that stores map driver errors to.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("conflict")
	ErrForeignKey = errors.New("referenced object missing")
)

// MapError turns pgx errors into the sentinels above, keeping the original
// for the log. Postgres out of reach (Unavailable) becomes an apperr
// Unavailable whose chain holds ErrUnavailable.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err // mapped already
	}
	if Unavailable(err) {
		return apperr.Unavailable(UnavailableMessage, fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case "23503":
			return fmt.Errorf("%w: %w", ErrForeignKey, err)
		}
	}
	return err
}

// Options configures Open.
type Options struct {
	URL    string
	Schema string
	// MaxConns caps the pool; zero keeps pgx's default.
	MaxConns int32
	// ConnectTimeout bounds opening one connection, TCP and start-up
	// together (DefaultConnectTimeout): a Postgres that accepts and never
	// answers costs this, not a hang.
	ConnectTimeout time.Duration
	// StatementTimeout is the server's statement_timeout on every
	// connection (DefaultStatementTimeout): a statement stuck behind a lock
	// or a runaway plan is cancelled by Postgres itself. Migrations run
	// without it. A hung server cannot enforce it; the caller's context
	// deadline (every gRPC call has one) covers that.
	StatementTimeout time.Duration
}

// Defaults of Options.
const (
	DefaultConnectTimeout   = 5 * time.Second
	DefaultStatementTimeout = 30 * time.Second
)

// Open creates the schema if needed and returns a pool whose connections use
// it as their search_path.
func Open(ctx context.Context, opts Options) (*pgxpool.Pool, error) {
	if !schemaName.MatchString(opts.Schema) {
		return nil, fmt.Errorf("postgres: invalid schema name %q", opts.Schema)
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// pgx's message can contain the URL and so the password.
		return nil, errors.New("postgres: cannot parse database URL")
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	cfg.ConnConfig.RuntimeParams["application_name"] = "tandem-" + opts.Schema
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.ConnConfig.ConnectTimeout = cmp.Or(opts.ConnectTimeout, DefaultConnectTimeout)
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cmp.Or(opts.StatementTimeout, DefaultStatementTimeout).Milliseconds(), 10)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := createSchema(ctx, pool, opts.Schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: create schema %s: %w", opts.Schema, err)
	}
	return pool, nil
}

// createSchema creates the schema if it is missing. CREATE SCHEMA IF NOT
// EXISTS is not safe against itself: replicas starting together can both see
// no schema and one fails on the catalog's unique index, so they take turns
// under an advisory lock.
func createSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "tandem-schema:"+schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
		return err
	})
}

// Migrate applies every migration in fsys (files like 00001_name.sql, goose
// format) that the schema has not seen yet. Replicas starting together are
// serialised by a Postgres advisory lock derived from the schema name, so
// exactly one applies each migration.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, fsys fs.FS, log *slog.Logger) error {
	return withMigrations(ctx, pool, schema, serviceVersionTable, fsys, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		logResults(ctx, log, schema, "migration applied", results)
		return err
	})
}

// MigrateDown rolls the schema back to version (0 undoes every migration),
// running each migration's Down section, newest first, under the same lock
// as Migrate. Tests use it to prove every Down section works.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, schema string, fsys fs.FS, log *slog.Logger, version int64) error {
	return withMigrations(ctx, pool, schema, serviceVersionTable, fsys, func(p *goose.Provider) error {
		results, err := p.DownTo(ctx, version)
		logResults(ctx, log, schema, "migration rolled back", results)
		return err
	})
}

// serviceVersionTable records the service's own migrations.
const serviceVersionTable = "schema_migrations"

var setName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// MigrateSet is Migrate for the tables a platform package keeps in a
// service's schema (the events package's, for one): their versions are
// recorded in a table of their own, <set>_schema_migrations, so their
// numbering never collides with the service's. It takes the same lock as
// Migrate.
func MigrateSet(ctx context.Context, pool *pgxpool.Pool, schema, set string, fsys fs.FS, log *slog.Logger) error {
	if !setName.MatchString(set) {
		return fmt.Errorf("migrate: invalid migration set name %q", set)
	}
	return withMigrations(ctx, pool, schema, set+"_"+serviceVersionTable, fsys, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		logResults(ctx, log, schema, "migration applied", results, slog.String("set", set))
		return err
	})
}

// MigrateSetDown is MigrateDown for a set MigrateSet applied.
func MigrateSetDown(ctx context.Context, pool *pgxpool.Pool, schema, set string, fsys fs.FS, log *slog.Logger, version int64) error {
	if !setName.MatchString(set) {
		return fmt.Errorf("migrate: invalid migration set name %q", set)
	}
	return withMigrations(ctx, pool, schema, set+"_"+serviceVersionTable, fsys, func(p *goose.Provider) error {
		results, err := p.DownTo(ctx, version)
		logResults(ctx, log, schema, "migration rolled back", results, slog.String("set", set))
		return err
	})
}

func logResults(ctx context.Context, log *slog.Logger, schema, msg string, results []*goose.MigrationResult, attrs ...any) {
	for _, r := range results {
		if r.Error == nil {
			log.InfoContext(ctx, msg, append([]any{slog.String("schema", schema), slog.Int64("version", r.Source.Version), slog.Duration("took", r.Duration)}, attrs...)...)
		}
	}
}

func withMigrations(ctx context.Context, pool *pgxpool.Pool, schema, versionTable string, fsys fs.FS, run func(*goose.Provider) error) error {
	// Its own connections, without the pool's statement_timeout: a
	// migration may rightly take longer than any request.
	cc := pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["statement_timeout"] = "0"
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	store, err := database.NewStore(database.DialectPostgres, schema+"."+versionTable)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("tandem-migrate:" + schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64() >> 1)))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider("", db, fsys,
		goose.WithStore(store),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	if err := run(p); err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	return nil
}

// Ping checks that the database answers; health checks use it.
func Ping(ctx context.Context, pool *pgxpool.Pool) error { return pool.Ping(ctx) }
