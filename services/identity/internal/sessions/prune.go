package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// Ended sessions (expired or revoked) are kept a while for whoever looks
// into an incident, then deleted with their retired refresh tokens, which
// otherwise grow by one row per refresh.
const (
	PruneKind = "sessions_prune"

	DefaultPruneEvery     = time.Hour
	DefaultEndedRetention = 7 * 24 * time.Hour
	pruneBatch            = 1000
)

// EndedSessionDeleter is what the worker needs of the store.
type EndedSessionDeleter interface {
	DeleteEndedSessions(ctx context.Context, before time.Time, limit int) (int64, error)
}

// PruneArgs are the arguments of a sessions_prune job.
type PruneArgs struct {
	// Retention: sessions ended longer ago than this are deleted.
	Retention time.Duration `json:"retention"`
}

// Kind implements river.JobArgs.
func (PruneArgs) Kind() string { return PruneKind }

// PruneWorker deletes ended sessions in batches until none is left.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]

	store EndedSessionDeleter
	log   *slog.Logger
	now   func() time.Time
}

// NewPruneWorker returns the worker; log may be nil.
func NewPruneWorker(st EndedSessionDeleter, log *slog.Logger) *PruneWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PruneWorker{store: st, log: log, now: time.Now}
}

// Work deletes batch after batch; a failure leaves the rest for the retry
// or the next run, and what was deleted stays deleted.
func (w *PruneWorker) Work(ctx context.Context, job *river.Job[PruneArgs]) error {
	retention := job.Args.Retention
	if retention <= 0 {
		retention = DefaultEndedRetention
	}
	before := w.now().Add(-retention)
	var total int64
	for {
		n, err := w.store.DeleteEndedSessions(ctx, before, pruneBatch)
		total += n
		if err != nil {
			w.log.WarnContext(ctx, "pruning ended sessions failed", slog.Int64("deleted", total), slog.Any("error", err))
			return fmt.Errorf("sessions: prune: %w", err)
		}
		if n < pruneBatch {
			break
		}
	}
	w.log.InfoContext(ctx, "ended sessions pruned", slog.Int64("deleted", total))
	return nil
}

// PrunePeriodicJob schedules the worker every `every` (zero: the default).
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
