package candidates

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Deleted candidates can be restored for RestoreWindow; after it they are
// removed for good, which frees their addresses for a new candidate.
const (
	PurgeKind         = "candidates_purge"
	DefaultPurgeEvery = time.Hour
	purgeBatch        = 500
)

// DeletedCandidatePurger is what the worker needs of the store.
type DeletedCandidatePurger interface {
	PurgeDeletedCandidates(ctx context.Context, before time.Time, limit int, removeBlobs store.RemoveBlobs) (int, error)
}

// PurgeArgs are the arguments of a candidates_purge job.
type PurgeArgs struct{}

// Kind implements river.JobArgs.
func (PurgeArgs) Kind() string { return PurgeKind }

// PurgeWorker removes candidates deleted longer ago than RestoreWindow, in
// batches until none is left.
type PurgeWorker struct {
	river.WorkerDefaults[PurgeArgs]

	store       DeletedCandidatePurger
	removeBlobs store.RemoveBlobs
	log         *slog.Logger
	now         func() time.Time
}

// NewPurgeWorker returns the worker. The purged candidates' files are
// handed to removeBlobs in the purge's transaction, which enqueues the
// removal of their bytes (files.EnqueueRemovalFromJob); log may be nil.
func NewPurgeWorker(st DeletedCandidatePurger, removeBlobs store.RemoveBlobs, log *slog.Logger) *PurgeWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PurgeWorker{store: st, removeBlobs: removeBlobs, log: log, now: time.Now}
}

// Work purges batch after batch; a failure leaves the rest for the retry
// or the next run, and what was purged stays purged.
func (w *PurgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	before := w.now().Add(-RestoreWindow)
	total := 0
	for {
		n, err := w.store.PurgeDeletedCandidates(ctx, before, purgeBatch, w.removeBlobs)
		total += n
		if err != nil {
			w.log.WarnContext(ctx, "purging deleted candidates failed", slog.Int("purged", total), slog.Any("error", err))
			return fmt.Errorf("candidates: purge: %w", err)
		}
		if n < purgeBatch {
			break
		}
	}
	w.log.InfoContext(ctx, "deleted candidates purged", slog.Int("purged", total))
	return nil
}

// PurgePeriodicJob schedules the worker every `every` (zero: the default).
func PurgePeriodicJob(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultPurgeEvery
	}
	return river.NewPeriodicJob(
		river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			return PurgeArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
		},
		&river.PeriodicJobOpts{ID: PurgeKind, RunOnStart: true},
	)
}
