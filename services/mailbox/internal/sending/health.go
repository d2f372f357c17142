package sending

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// Health is what a mailbox is doing and may do.
type Health struct {
	Mailbox store.Mailbox
	// PerMinute is the per-minute limit in force.
	PerMinute       int
	QueueDepth      int64
	SentToday       int64
	RecipientsToday int64
	// SentLastMinute counts against PerMinute.
	SentLastMinute int64
	// NextSendTime is when the next message may go, when one waits; zero
	// when the queue is empty.
	NextSendTime time.Time
}

// Health reports on mb (the caller's right to see it is checked by the
// registry).
func (p *Pipeline) Health(ctx context.Context, mb store.Mailbox) (Health, error) {
	h := Health{Mailbox: mb, PerMinute: p.perMinute}
	var err error
	if h.QueueDepth, err = p.store.QueueDepth(ctx, mb.ID); err != nil {
		return Health{}, err
	}
	now := p.now()
	attempts, err := p.store.AttemptsSince(ctx, mb.ID, now.Add(-day))
	if err != nil {
		return Health{}, err
	}
	h.SentToday = int64(len(attempts))
	for _, a := range attempts {
		h.RecipientsToday += int64(a.Recipients)
		if a.At.After(now.Add(-time.Minute)) {
			h.SentLastMinute++
		}
	}
	if h.QueueDepth == 0 {
		return h, nil
	}
	next := now
	later := func(t time.Time) {
		if t.After(next) {
			next = t
		}
	}
	if n := len(attempts); n >= mb.DailyMessageLimit {
		later(attempts[n-mb.DailyMessageLimit].At.Add(day))
	}
	if n := len(attempts); n >= p.perMinute {
		later(attempts[n-p.perMinute].At.Add(time.Minute))
	}
	if n := len(attempts); n > 0 {
		later(attempts[n-1].At.Add(mb.MinGap))
	}
	if h.RecipientsToday >= RecipientsPerDay && len(attempts) > 0 {
		later(attempts[0].At.Add(day))
	}
	if head, err := p.store.QueueHead(ctx, nil, mb.ID, now); err == nil {
		if head.State == store.StateQueued {
			later(head.SendAfter)
		}
	}
	h.NextSendTime = next
	return h, nil
}

// ReleaseOnConnect is the registry's OnConnected hook: a mailbox connected
// again lets its queue go at once, instead of after the held message's
// safety-net wait.
func (p *Pipeline) ReleaseOnConnect(ctx context.Context, tx pgx.Tx, mb store.Mailbox) error {
	ids, err := p.store.ActiveJobIDs(ctx, tx, mb.ID, 1)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := p.jobs.JobRetryTx(ctx, tx, id); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// A job that is running as this commits (holding, having read the old
	// status) is not touched by JobRetryTx; a release a moment later finds
	// it snoozed and wakes it.
	if _, err := p.jobs.InsertTx(ctx, tx, ReleaseArgs{MailboxID: mb.ID}, &river.InsertOpts{ScheduledAt: p.now().Add(releaseAgainAfter)}); err != nil {
		return err
	}
	p.log.InfoContext(ctx, "mailbox connected again; its queue goes on", "mailbox", mb.ID)
	return nil
}

// releaseAgainAfter is when the release looks at the queue a second time.
const releaseAgainAfter = 2 * time.Second

// ReleaseKind wakes the head of a mailbox's queue.
const ReleaseKind = "mailbox_release"

// ReleaseArgs are the arguments of a mailbox_release job.
type ReleaseArgs struct {
	MailboxID string `json:"mailbox_id"`
}

// Kind implements river.JobArgs.
func (ReleaseArgs) Kind() string { return ReleaseKind }

// ReleaseWorker runs mailbox_release jobs.
type ReleaseWorker struct {
	river.WorkerDefaults[ReleaseArgs]

	store Store
	jobs  Jobs
	now   func() time.Time
}

// NewReleaseWorker returns the worker.
func NewReleaseWorker(st Store, jobs Jobs) *ReleaseWorker {
	return &ReleaseWorker{store: st, jobs: jobs, now: time.Now}
}

// Work wakes the mailbox's head message. A head whose job is running is
// looked at again every releasePoll, up to releaseWait: a run that only
// decides to wait is over in milliseconds, and one that lasts is the head
// sending itself, which needs no wake.
func (w *ReleaseWorker) Work(ctx context.Context, job *river.Job[ReleaseArgs]) error {
	deadline := w.now().Add(releaseWait)
	for {
		var running bool
		err := w.store.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			running, err = retryHead(ctx, tx, w.store, w.jobs, job.Args.MailboxID, w.now())
			return err
		})
		if err != nil || !running || w.now().After(deadline) {
			return err
		}
		t := time.NewTimer(releasePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// How a release waits for a running head job.
const (
	releasePoll = 25 * time.Millisecond
	releaseWait = 2 * time.Second
)
