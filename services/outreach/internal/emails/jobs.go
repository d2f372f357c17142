package emails

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// River kinds of the e-mails' jobs.
const (
	SubmitKind = "candidate_email_submit"
	CancelKind = "candidate_email_cancel"
)

// SubmitArgs name the e-mail to hand to mailbox.
type SubmitArgs struct {
	OrgID   string `json:"org_id"`
	EmailID string `json:"email_id"`
}

// Kind implements river.JobArgs.
func (SubmitArgs) Kind() string { return SubmitKind }

// CancelArgs name a mailbox message to cancel: an e-mail cancelled while
// its job was handing it over.
type CancelArgs struct {
	OrgID     string `json:"org_id"`
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (CancelArgs) Kind() string { return CancelKind }

// SubmitWorker runs submit jobs.
type SubmitWorker struct {
	river.WorkerDefaults[SubmitArgs]
	m *Emails
}

// NewSubmitWorker returns the worker over the rules.
func NewSubmitWorker(m *Emails) *SubmitWorker { return &SubmitWorker{m: m} }

// Timeout bounds one attempt: one call to mailbox.
func (*SubmitWorker) Timeout(*river.Job[SubmitArgs]) time.Duration { return 30 * time.Second }

// Work hands a pending e-mail to mailbox with the e-mail's key, so a
// retry after a crash finds the message mailbox made, never a second one.
func (w *SubmitWorker) Work(ctx context.Context, job *river.Job[SubmitArgs]) error {
	return w.m.submit(ctx, job.Args)
}

func (m *Emails) submit(ctx context.Context, a SubmitArgs) error {
	e, err := m.store.Email(ctx, a.OrgID, a.EmailID)
	if errors.Is(err, postgres.ErrNotFound) || (err == nil && e.State != store.EmailPending) {
		return nil
	}
	if err != nil {
		return err
	}
	// The candidate deleted, or the address bounced, since the e-mail was
	// written: it does not go.
	if why, err := m.stillDeliverable(ctx, e); err != nil || why != "" {
		if why != "" {
			m.log.InfoContext(ctx, "e-mail not handed to mailbox", slog.String("email_id", e.ID), slog.String("why", why))
			return m.setState(ctx, e, store.EmailFailed)
		}
		return err
	}
	sub, err := m.mailbox.Submit(ctx, flows.Message{OrgID: e.OrgID, MailboxID: e.MailboxConnectionID, To: e.ToAddress, ToName: e.ToName,
		Subject: e.Subject, HTMLBody: e.HTMLBody, ReplyTo: e.ReplyToProviderID, IdempotencyKey: IdempotencyKey(e.ID), SendAfter: e.SendAt})
	state := store.EmailQueued
	switch {
	case errors.Is(err, flows.ErrKeyUsed):
		// The key made a message already (this e-mail's: its content
		// does not change); mailbox's message.sent will name it.
		m.log.InfoContext(ctx, "e-mail was handed to mailbox before", slog.String("email_id", e.ID))
	case errors.Is(err, flows.ErrRefused):
		m.log.WarnContext(ctx, "mailbox refused an e-mail; it is not retried", slog.String("email_id", e.ID), slog.Any("error", err))
		state = store.EmailFailed
	case err != nil:
		return err
	}
	return m.store.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := store.EmailTx(ctx, tx, a.OrgID, a.EmailID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if cur.State == store.EmailCancelled && sub.MessageID != "" && cur.MailboxMessageID == "" {
			// Cancelled while being handed over: cancel it in mailbox too.
			cur.MailboxMessageID = sub.MessageID
			if _, err := store.WriteEmailTx(ctx, tx, cur); err != nil {
				return err
			}
			_, err := m.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: CancelArgs{OrgID: a.OrgID, MessageID: sub.MessageID}}})
			return err
		}
		if cur.State != store.EmailPending {
			return nil // sent already (message.sent came first), or cancelled
		}
		cur.State, cur.MailboxMessageID = state, sub.MessageID
		_, err = store.WriteEmailTx(ctx, tx, cur)
		return err
	})
}

// stillDeliverable says why e may not go now ("" when it may).
func (m *Emails) stillDeliverable(ctx context.Context, e store.CandidateEmail) (why string, err error) {
	err = m.store.InTx(ctx, func(tx pgx.Tx) error {
		c, err := store.CandidateTx(ctx, tx, e.OrgID, e.CandidateID)
		if errors.Is(err, postgres.ErrNotFound) || (err == nil && !c.Live()) {
			why = "the candidate is deleted"
			return nil
		}
		if err != nil {
			return err
		}
		bad, err := store.Undeliverable(ctx, tx, e.OrgID, []string{e.ToAddress})
		if bad[e.ToAddress] {
			why = "the address bounced"
		}
		return err
	})
	return why, err
}

// setState moves a pending e-mail to state.
func (m *Emails) setState(ctx context.Context, e store.CandidateEmail, state string) error {
	return m.store.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := store.EmailTx(ctx, tx, e.OrgID, e.ID, "FOR UPDATE")
		if err != nil || cur.State != store.EmailPending {
			return err
		}
		cur.State = state
		_, err = store.WriteEmailTx(ctx, tx, cur)
		return err
	})
}

// CancelWorker runs cancel jobs.
type CancelWorker struct {
	river.WorkerDefaults[CancelArgs]
	m *Emails
}

// NewCancelWorker returns the worker over the rules.
func NewCancelWorker(m *Emails) *CancelWorker { return &CancelWorker{m: m} }

// Work asks mailbox to cancel; a message that left is recorded when its
// message.sent comes.
func (w *CancelWorker) Work(ctx context.Context, job *river.Job[CancelArgs]) error {
	err := w.m.mailbox.Cancel(ctx, job.Args.OrgID, job.Args.MessageID)
	if errors.Is(err, flows.ErrTooLate) {
		w.m.log.InfoContext(ctx, "a cancelled e-mail had left already", slog.String("message_id", job.Args.MessageID))
		return nil
	}
	return err
}
