// Package jobs sets up River, the durable job queue, on a service's own
// Postgres schema. Work that must survive a crash (scheduled flow steps, pushes
// to an ATS, import pages, events to other services) is a River job inserted
// in the same transaction as the change that causes it.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Client is River's client over pgx.
type Client = river.Client[pgx.Tx]

// Migrate brings River's own tables in schema up to date. rivermigrate does
// not lock, and some of its migrations cannot share one transaction, so
// replicas starting together take turns under a session advisory lock held
// on a connection of its own.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string, log *slog.Logger) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: log})
	if err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("river migrate %s: %w", schema, err)
	}
	defer conn.Release()
	const lock = "SELECT pg_advisory_lock(hashtext($1))"
	key := "tandem-river-migrate:" + schema
	if _, err := conn.Exec(ctx, lock, key); err != nil {
		return fmt.Errorf("river migrate %s: lock: %w", schema, err)
	}
	defer func() {
		// Unlock even when ctx has ended; a connection that cannot unlock is
		// closed, which releases the lock too.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext($1))", key); err != nil {
			log.WarnContext(ctx, "river migrate: unlock failed; closing the connection, which releases the lock", slog.String("schema", schema), slog.Any("error", err))
			if cerr := conn.Conn().Close(context.WithoutCancel(ctx)); cerr != nil {
				// The server ends the session, and its lock, when the
				// connection drops; the next migration waits until then.
				log.WarnContext(ctx, "river migrate: closing the connection failed", slog.String("schema", schema), slog.Any("error", cerr))
			}
		}
	}()
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate %s: %w", schema, err)
	}
	return nil
}

// Options configures New.
type Options struct {
	Schema string
	// Workers holds the service's job workers; nil makes an insert-only client.
	Workers *river.Workers
	// Queues maps queue names to their worker counts; required with Workers.
	Queues map[string]river.QueueConfig
	// Periodic jobs are enqueued on schedule by the elected leader.
	Periodic []*river.PeriodicJob
	// RescueStuckJobsAfter is how long a job may run before River takes it
	// for one whose worker died and runs it again; zero is River's default
	// (an hour). It must exceed every worker's timeout.
	RescueStuckJobsAfter time.Duration
	// JobTimeout bounds a job's run unless its worker says otherwise; zero
	// is River's default (a minute).
	JobTimeout time.Duration
	Logger     *slog.Logger
}

// New returns a River client on schema. With workers, Start begins working
// jobs; without, the client only inserts.
func New(pool *pgxpool.Pool, opts Options) (*Client, error) {
	cfg := &river.Config{Schema: opts.Schema, Logger: opts.Logger, RescueStuckJobsAfter: opts.RescueStuckJobsAfter, JobTimeout: opts.JobTimeout}
	if opts.Workers != nil {
		cfg.Workers = opts.Workers
		cfg.Queues = opts.Queues
		if len(cfg.Queues) == 0 {
			cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}}
		}
		cfg.PeriodicJobs = opts.Periodic
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}
