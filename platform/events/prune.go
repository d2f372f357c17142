package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"
)

// A receiver's processed_events grows by one row per event. An id only
// needs remembering while a copy of its event can still arrive: a copy
// comes when an acknowledgement was lost, and the publisher tries again
// within MaxBackoff (minutes), or, if the publisher was down, when it is
// back. Thirty days covers any outage anyone would let run, and an event
// that came back later still meets the version check of its aggregate.
const (
	PruneKind = "events_prune_processed"

	DefaultPruneEvery         = time.Hour
	DefaultProcessedRetention = 30 * 24 * time.Hour
	pruneBatch                = 5000
)

// execer is what pruning needs of the service's pool.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// PruneArgs are the arguments of an events_prune_processed job.
type PruneArgs struct {
	// Retention: ids processed longer ago than this are forgotten.
	Retention time.Duration `json:"retention"`
}

// Kind implements river.JobArgs.
func (PruneArgs) Kind() string { return PruneKind }

// PruneWorker deletes old processed_events rows of the service's schema in
// batches until none is left. Every service that receives events adds it,
// with PrunePeriodicJob, to its jobs.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]

	db  execer
	log *slog.Logger
	now func() time.Time
}

// NewPruneWorker returns the worker over db, the service's pool; log may
// be nil.
func NewPruneWorker(db execer, log *slog.Logger) *PruneWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PruneWorker{db: db, log: log, now: time.Now}
}

// Work deletes batch after batch; a failure leaves the rest for the retry
// or the next run, and what was deleted stays deleted.
func (w *PruneWorker) Work(ctx context.Context, job *river.Job[PruneArgs]) error {
	retention := job.Args.Retention
	if retention <= 0 {
		retention = DefaultProcessedRetention
	}
	before := w.now().Add(-retention)
	var total int64
	for {
		// Small batches keep each statement's locks and WAL short while
		// events keep arriving.
		tag, err := w.db.Exec(ctx, `DELETE FROM processed_events WHERE event_id IN (
			SELECT event_id FROM processed_events WHERE processed_at < $1 LIMIT $2)`, before, pruneBatch)
		total += tag.RowsAffected()
		if err != nil {
			w.log.WarnContext(ctx, "pruning processed events failed", slog.Int64("deleted", total), slog.Any("error", err))
			return fmt.Errorf("events: prune processed: %w", err)
		}
		if tag.RowsAffected() < pruneBatch {
			break
		}
	}
	if total > 0 {
		w.log.InfoContext(ctx, "processed event ids pruned", slog.Int64("deleted", total))
	}
	return nil
}

// PrunePeriodicJob schedules the worker every `every` (zero: the default)
// with retention (zero: the default).
func PrunePeriodicJob(every, retention time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultPruneEvery
	}
	return river.NewPeriodicJob(
		river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			return PruneArgs{Retention: retention}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
		},
		&river.PeriodicJobOpts{ID: PruneKind, RunOnStart: true},
	)
}
