package subscriptions

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
)

// EnsureWorker works EnsureArgs.
type EnsureWorker struct {
	river.WorkerDefaults[EnsureArgs]
	subs *Subscriptions
}

// NewEnsureWorker returns the worker.
func NewEnsureWorker(s *Subscriptions) *EnsureWorker { return &EnsureWorker{subs: s} }

// Work implements river.Worker.
func (w *EnsureWorker) Work(ctx context.Context, j *river.Job[EnsureArgs]) error {
	return retryLater(w.subs.Ensure(ctx, j.Args.MailboxID, j.Args.Recreate))
}

// Timeout implements river.Worker: creating a subscription waits for
// Graph's validation handshake (10 s at most).
func (w *EnsureWorker) Timeout(*river.Job[EnsureArgs]) time.Duration { return time.Minute }

// LifecycleWorker works LifecycleArgs.
type LifecycleWorker struct {
	river.WorkerDefaults[LifecycleArgs]
	subs *Subscriptions
}

// NewLifecycleWorker returns the worker.
func NewLifecycleWorker(s *Subscriptions) *LifecycleWorker { return &LifecycleWorker{subs: s} }

// Work implements river.Worker.
func (w *LifecycleWorker) Work(ctx context.Context, j *river.Job[LifecycleArgs]) error {
	return retryLater(w.subs.HandleLifecycle(ctx, j.Args))
}

// RenewArgs is the periodic job that renews subscriptions close to expiry
// and finishes creations that did not.
type RenewArgs struct{}

// Kind implements river.JobArgs.
func (RenewArgs) Kind() string { return "inbox_subscriptions_renew" }

// RenewWorker works RenewArgs.
type RenewWorker struct {
	river.WorkerDefaults[RenewArgs]
	subs *Subscriptions
}

// NewRenewWorker returns the worker.
func NewRenewWorker(s *Subscriptions) *RenewWorker { return &RenewWorker{subs: s} }

// Work implements river.Worker.
func (w *RenewWorker) Work(ctx context.Context, _ *river.Job[RenewArgs]) error {
	_, err := w.subs.ScheduleDue(ctx)
	return err
}

// RenewPeriodicJob looks for subscriptions to renew every interval (an
// hour: a renewal is due a day ahead).
func RenewPeriodicJob(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return RenewArgs{}, nil
	}, &river.PeriodicJobOpts{RunOnStart: true})
}

// retryLater snoozes a throttled call until its Retry-After.
func retryLater(err error) error {
	var ge *graph.Error
	if errors.As(err, &ge) && ge.Throttled() {
		return river.JobSnooze(max(ge.RetryAfter, time.Second))
	}
	return err
}
