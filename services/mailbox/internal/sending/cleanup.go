package sending

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// CleanDraftsKind deletes the drafts Graph holds of messages that will
// never send them: a cancelled or failed message's draft, and a draft whose
// creation's answer was lost, so that another was made in its place.
// Every such draft carries its message's id in MarkerHeader.
const CleanDraftsKind = "mailbox_clean_drafts"

// CleanDraftsArgs are the arguments of a mailbox_clean_drafts job; without
// a mailbox, every mailbox with such drafts is cleaned (the periodic run).
type CleanDraftsArgs struct {
	MailboxID string `json:"mailbox_id,omitempty"`
}

// Kind implements river.JobArgs.
func (CleanDraftsArgs) Kind() string { return CleanDraftsKind }

func cleanInsertOpts() *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// DefaultCleanEvery is how often every mailbox's leftover drafts are looked
// for, beside the runs a cancel or a failure asks for.
const DefaultCleanEvery = 15 * time.Minute

// CleanDraftsPeriodicJob schedules the sweep of every mailbox.
func CleanDraftsPeriodicJob(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultCleanEvery
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return CleanDraftsArgs{}, cleanInsertOpts() },
		&river.PeriodicJobOpts{ID: CleanDraftsKind})
}

// Drafts is what the cleanup needs of Graph.
type Drafts interface {
	ListDrafts(ctx context.Context, mb graph.Mailbox, next string) (graph.DraftPage, error)
	DeleteMessage(ctx context.Context, mb graph.Mailbox, id string) error
}

// CleanDraftsWorker runs mailbox_clean_drafts jobs.
type CleanDraftsWorker struct {
	river.WorkerDefaults[CleanDraftsArgs]

	store  Store
	drafts Drafts
	log    *slog.Logger
}

// NewCleanDraftsWorker returns the worker.
func NewCleanDraftsWorker(st Store, drafts Drafts, log *slog.Logger) *CleanDraftsWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CleanDraftsWorker{store: st, drafts: drafts, log: log}
}

// Work cleans one mailbox, or every mailbox marked.
func (w *CleanDraftsWorker) Work(ctx context.Context, job *river.Job[CleanDraftsArgs]) error {
	if job.Args.MailboxID != "" {
		return w.clean(ctx, job.Args.MailboxID)
	}
	ids, err := w.store.MailboxesWithOrphans(ctx, 1000)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := w.clean(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (w *CleanDraftsWorker) clean(ctx context.Context, mailboxID string) error {
	mb, err := w.store.MailboxByID(ctx, mailboxID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if mb.Status != store.StatusConnected {
		return nil // its drafts wait for the next connection
	}
	candidates, err := w.store.OrphanCandidates(ctx, mb.ID)
	if err != nil || len(candidates) == 0 {
		return err
	}
	gmb := graph.Mailbox{ConnectionID: mb.ID}
	deleted := 0
	next := ""
	for {
		page, err := w.drafts.ListDrafts(ctx, gmb, next)
		if err != nil {
			if ge, ok := graph.AsError(err); ok && ge.Throttled() {
				return river.JobSnooze(max(ge.RetryAfter, time.Second))
			}
			return fmt.Errorf("sending: list drafts: %w", err)
		}
		for _, d := range page.Messages {
			m, ok := candidates[d.HeaderValue(MarkerHeader)]
			if !ok || !orphaned(m, d.ID) {
				continue
			}
			if err := w.drafts.DeleteMessage(ctx, gmb, d.ID); err != nil {
				return fmt.Errorf("sending: delete an orphaned draft: %w", err)
			}
			deleted++
		}
		if page.Next == "" {
			break
		}
		next = page.Next
	}
	var done []string
	for id, m := range candidates {
		if store.Final(m.State) {
			done = append(done, id)
		}
	}
	if err := w.store.OrphansCleared(ctx, done); err != nil {
		return err
	}
	w.log.InfoContext(ctx, "orphaned drafts deleted", slog.String("mailbox", mb.ID), slog.Int("deleted", deleted))
	return nil
}

// orphaned reports whether draftID, a draft made for m, will never be sent
// by us: m is done with, or has another draft on its way. A queued message
// may be recording this very draft, so its drafts are left alone.
func orphaned(m store.Message, draftID string) bool {
	switch m.State {
	case store.StateQueued:
		return false
	case store.StateSent:
		// A sent draft that Graph has not filed yet is the sent message.
		return draftID != m.DraftID
	case store.StateFailed, store.StateCancelled:
		return true
	}
	return draftID != m.DraftID
}
