package inbound

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// oneAtATime keeps at most one job per arguments waiting or running: a
// second request while one waits is the same work.
var oneAtATime = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable,
}}

// FetchArgs reads and records a message a change notification named.
type FetchArgs struct {
	MailboxID string `json:"mailbox_id"`
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (FetchArgs) Kind() string { return "inbound_fetch" }

// InsertOpts implements river.JobArgsWithInsertOpts: a notification Graph
// repeats while the first one's job waits is not fetched twice (and one
// that comes later is recorded once all the same).
func (FetchArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: oneAtATime} }

// CatchUpArgs runs a delta round over a mailbox's Inbox.
type CatchUpArgs struct {
	MailboxID string `json:"mailbox_id"`
}

// Kind implements river.JobArgs.
func (CatchUpArgs) Kind() string { return "inbound_catch_up" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (CatchUpArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: oneAtATime} }

// FetchWorker works FetchArgs.
type FetchWorker struct {
	river.WorkerDefaults[FetchArgs]
	inbox *Inbox
}

// NewFetchWorker returns the worker.
func NewFetchWorker(in *Inbox) *FetchWorker { return &FetchWorker{inbox: in} }

// Work implements river.Worker.
func (w *FetchWorker) Work(ctx context.Context, j *river.Job[FetchArgs]) error {
	return retryLater(w.inbox.Fetch(ctx, j.Args.MailboxID, j.Args.MessageID))
}

// CatchUpWorker works CatchUpArgs.
type CatchUpWorker struct {
	river.WorkerDefaults[CatchUpArgs]
	inbox *Inbox
}

// NewCatchUpWorker returns the worker.
func NewCatchUpWorker(in *Inbox) *CatchUpWorker { return &CatchUpWorker{inbox: in} }

// Work implements river.Worker.
func (w *CatchUpWorker) Work(ctx context.Context, j *river.Job[CatchUpArgs]) error {
	return retryLater(w.inbox.CatchUp(ctx, j.Args.MailboxID))
}

// Timeout implements river.Worker: a full round over a large Inbox reads
// many pages.
func (w *CatchUpWorker) Timeout(*river.Job[CatchUpArgs]) time.Duration { return 10 * time.Minute }

// Watched lists watched mailboxes, a page at a time.
type Watched interface {
	Watched(ctx context.Context, afterID string, limit int) ([]string, error)
}

// Inserter enqueues jobs outside a transaction.
type Inserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// CatchUpAllArgs is the periodic job that asks for a catch-up of every
// watched Inbox.
type CatchUpAllArgs struct{}

// Kind implements river.JobArgs.
func (CatchUpAllArgs) Kind() string { return "inbound_catch_up_all" }

// CatchUpAllWorker works CatchUpAllArgs.
type CatchUpAllWorker struct {
	river.WorkerDefaults[CatchUpAllArgs]
	watched Watched
	jobs    Inserter
	log     *slog.Logger
}

// NewCatchUpAllWorker returns the worker.
func NewCatchUpAllWorker(watched Watched, jobs Inserter, log *slog.Logger) *CatchUpAllWorker {
	return &CatchUpAllWorker{watched: watched, jobs: jobs, log: log}
}

// Work implements river.Worker.
func (w *CatchUpAllWorker) Work(ctx context.Context, _ *river.Job[CatchUpAllArgs]) error {
	after, n := "", 0
	for {
		ids, err := w.watched.Watched(ctx, after, 500)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := w.jobs.Insert(ctx, CatchUpArgs{MailboxID: id}, nil); err != nil {
				return err
			}
		}
		n += len(ids)
		if len(ids) < 500 {
			w.log.DebugContext(ctx, "catch-ups scheduled", slog.Int("mailboxes", n))
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// CatchUpPeriodicJob schedules CatchUpAllArgs every interval.
func CatchUpPeriodicJob(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return CatchUpAllArgs{}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true})
}
