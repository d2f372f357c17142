package pushes

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// SweepArgs look for pushes no job will work.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "atsbridge_push_sweep" }

// InsertOpts: one sweep at a time.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: 5 * time.Second}}
}

// QueueConfig is the pushes' River queue for workers at once on a
// replica. A push waits for no other work: the queue fetches 10 ms after
// the last fetch while busy and polls every 100 ms while idle, so a push
// starts within about 100 ms of its event (River's default poll, a second,
// would cap the delay from a stage change to Lever at that).
func QueueConfig(workers int) river.QueueConfig {
	return river.QueueConfig{MaxWorkers: workers, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 100 * time.Millisecond}
}

// sweepBatch bounds one sweep.
const sweepBatch = 500

// SweepWorker enqueues a job for every push stranded by a process that
// died while it worked it (its claim ran out and River still counts the
// dead job as running).
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	ps *Pushes
}

// SweepWorker returns the sweeper.
func (ps *Pushes) SweepWorker() *SweepWorker { return &SweepWorker{ps: ps} }

// Work runs one sweep.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	ps := w.ps
	ids, err := ps.store.StrandedPushes(ctx, ps.opts.Claim, sweepBatch)
	if err != nil || len(ids) == 0 {
		return err
	}
	ps.log.InfoContext(ctx, "stranded pushes enqueued again", slog.Int("pushes", len(ids)))
	return ps.store.InTx(ctx, func(tx pgx.Tx) error { return ps.enqueue(ctx, tx, ids...) })
}

// SweepPeriodicJob runs the sweeper every interval (DefaultSweepEvery when
// zero).
func SweepPeriodicJob(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultSweepEvery
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return SweepArgs{}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true})
}
