package mailboxes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// FetchAddressesKind reads a mailbox's own addresses from Graph once it
// connects: replies are told apart by them, and a mailbox's mail and proxy
// addresses are not its UPN (the account identity knows).
const FetchAddressesKind = "mailbox_fetch_addresses"

// FetchAddressesArgs are the arguments of a mailbox_fetch_addresses job.
type FetchAddressesArgs struct {
	MailboxID string `json:"mailbox_id"`
}

// Kind implements river.JobArgs.
func (FetchAddressesArgs) Kind() string { return FetchAddressesKind }

// Profiles reads a mailbox owner's profile (graph.Client).
type Profiles interface {
	Me(ctx context.Context, mb graph.Mailbox) (graph.Profile, error)
}

// AddressStore is what the worker needs of the store.
type AddressStore interface {
	MailboxByID(ctx context.Context, id string) (store.Mailbox, error)
	SetAddresses(ctx context.Context, id, address string, own []string, at time.Time) error
}

// FetchAddressesWorker runs mailbox_fetch_addresses jobs.
type FetchAddressesWorker struct {
	river.WorkerDefaults[FetchAddressesArgs]

	store    AddressStore
	profiles Profiles
	log      *slog.Logger
	now      func() time.Time
}

// NewFetchAddressesWorker returns the worker.
func NewFetchAddressesWorker(st AddressStore, profiles Profiles, log *slog.Logger) *FetchAddressesWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FetchAddressesWorker{store: st, profiles: profiles, log: log, now: time.Now}
}

// Work reads /me and stores the addresses. A mailbox that is no longer
// connected is left alone (its next connection asks again); Graph's
// throttling snoozes the job for as long as Graph asked.
func (w *FetchAddressesWorker) Work(ctx context.Context, job *river.Job[FetchAddressesArgs]) error {
	m, err := w.store.MailboxByID(ctx, job.Args.MailboxID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Status != store.StatusConnected {
		return nil
	}
	p, err := w.profiles.Me(ctx, graph.Mailbox{ConnectionID: m.ID})
	if errors.Is(err, graph.ErrReconnectRequired) {
		w.log.InfoContext(ctx, "mailbox needs reconnecting; its addresses wait", slog.String("mailbox", m.ID))
		return nil
	}
	if ge, ok := graph.AsError(err); ok && ge.Throttled() && ge.RetryAfter > 0 {
		return river.JobSnooze(ge.RetryAfter)
	}
	if err != nil {
		return fmt.Errorf("mailboxes: read the mailbox's addresses: %w", err)
	}
	address := p.Mail
	if address == "" && len(p.Addresses) > 0 {
		address = p.Addresses[0]
	}
	if err := w.store.SetAddresses(ctx, m.ID, address, p.Addresses, w.now()); err != nil {
		return err
	}
	w.log.InfoContext(ctx, "mailbox addresses read", slog.String("mailbox", m.ID), slog.Int("addresses", len(p.Addresses)))
	return nil
}
