// Package sending is the mailbox's send pipeline: it accepts messages
// (Submit), sends each exactly once through a Graph draft within the
// mailbox's limits and in submit order (SendWorker, ADR 19), cleans up
// drafts it will never send (CleanDraftsWorker), and says how a mailbox is
// doing (Health).
package sending

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// Bounds of a message (providers.md §3.6: at most 500 recipients; Graph
// refuses requests over 4 MB).
const (
	MaxRecipients     = 500
	MaxSubject        = 255
	MaxHTMLBody       = 1 << 20
	MaxIdempotencyKey = 200
)

// Errors of Submit and Cancel.
var (
	ErrMailboxNotFound = apperr.NotFound("mailbox not found")
	ErrMessageNotFound = apperr.NotFound("message not found")
	errKeyReused       = apperr.AlreadyExists("idempotency key was used for a different message")
	errDisconnected    = apperr.FailedPrecondition("mailbox_disconnected", "the mailbox is disconnected; its owner must connect it again")
	errLeaving         = apperr.FailedPrecondition("message_leaving", "the message is being sent or was sent, so it cannot be cancelled")
)

// Store is what the pipeline needs of the store.
type Store interface {
	InTx(ctx context.Context, fn func(tx pgx.Tx) error) error
	Mailbox(ctx context.Context, orgID, id string) (store.Mailbox, error)
	MailboxByID(ctx context.Context, id string) (store.Mailbox, error)
	MailboxForSubmit(ctx context.Context, tx pgx.Tx, orgID, id string) (store.Mailbox, error)
	LockMailbox(ctx context.Context, tx pgx.Tx, id string) error
	QueueAhead(ctx context.Context, tx pgx.Tx, mailboxID string, sendAfter time.Time) (bool, error)
	InsertMessage(ctx context.Context, tx pgx.Tx, m store.Message) (store.Message, error)
	MessageByKey(ctx context.Context, orgID, caller, key string) (store.Message, error)
	HeadJob(ctx context.Context, tx pgx.Tx, mailboxID string, now time.Time) (*int64, error)
	Message(ctx context.Context, orgID, id string) (store.Message, error)
	MessageByID(ctx context.Context, id string) (store.Message, error)
	ListMessages(ctx context.Context, orgID, mailboxID string, after *store.MessageCursor, limit int) ([]store.Message, error)
	Cancel(ctx context.Context, tx pgx.Tx, orgID, id string) (store.Message, error)
	QueueHead(ctx context.Context, tx pgx.Tx, mailboxID string, now time.Time) (store.Message, error)
	RecordDraft(ctx context.Context, id, draftID, internetMessageID, conversationID string, now time.Time) (store.Turn, error)
	DraftSending(ctx context.Context, id, draftID, internetMessageID, conversationID string, at time.Time) (store.Message, error)
	ForgetDraft(ctx context.Context, id string) (store.Message, error)
	MarkSending(ctx context.Context, id string, prevAttempt *time.Time, at time.Time) (store.Message, error)
	SendRefused(ctx context.Context, id, reason string) (store.Message, error)
	MarkSent(ctx context.Context, tx pgx.Tx, id string, at time.Time) (store.Message, error)
	Turn(ctx context.Context, id string, now time.Time) (store.Turn, error)
	MarkFailed(ctx context.Context, tx pgx.Tx, id, reason string, from ...string) (store.Message, error)
	SetStatusReason(ctx context.Context, id, reason string) error
	RecordMailboxError(ctx context.Context, id, reason string, at time.Time) error
	AttemptsSince(ctx context.Context, mailboxID string, since time.Time) ([]store.AttemptRow, error)
	UsageSince(ctx context.Context, mailboxID string, since time.Time, except string) (store.DayUsage, error)
	NthAttemptSince(ctx context.Context, mailboxID string, since time.Time, except string, n int64) (time.Time, error)
	RecipientsFreedAt(ctx context.Context, mailboxID string, since time.Time, except string, need int64) (time.Time, error)
	QueueDepth(ctx context.Context, mailboxID string) (int64, error)
	ActiveJobIDs(ctx context.Context, tx pgx.Tx, mailboxID string, limit int) ([]int64, error)
	OrphanCandidates(ctx context.Context, mailboxID string) (map[string]store.Message, error)
	OrphansCleared(ctx context.Context, ids []string) error
	MailboxesWithOrphans(ctx context.Context, limit int) ([]string, error)
}

// Jobs is what the pipeline needs of River.
type Jobs interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobRetryTx(ctx context.Context, tx pgx.Tx, id int64) (*rivertype.JobRow, error)
}

// Recipient is an address to send to.
type Recipient = store.Recipient

// Submission is a message to send.
type Submission struct {
	OrgID, MailboxID string
	// Caller is the service that submits (its service-token name):
	// idempotency keys are unique per caller and organization.
	Caller            string
	To, Cc            []Recipient
	Subject, HTMLBody string
	ReplyToProviderID string
	SendAfter         time.Time
	IdempotencyKey    string
}

// Pipeline accepts, lists and cancels messages.
type Pipeline struct {
	store     Store
	jobs      Jobs
	perMinute int
	// waitTurn is the safety-net wait of a message submitted behind
	// another (the worker's Timing.WaitTurn).
	waitTurn time.Duration
	log      *slog.Logger
	now      func() time.Time
}

// New returns the pipeline; perMinute is the per-minute limit in force
// (MessagesPerMinute unless raised for a simulator).
func New(st Store, jobs Jobs, perMinute int, log *slog.Logger) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if perMinute <= 0 {
		perMinute = MessagesPerMinute
	}
	return &Pipeline{store: st, jobs: jobs, perMinute: perMinute, waitTurn: DefaultWaitTurn, log: log, now: time.Now}
}

// PerMinute is the per-minute limit in force.
func (p *Pipeline) PerMinute() int { return p.perMinute }

// Submit stores s as a queued message with its send job, in one
// transaction, unless its key made a message already: then that message
// is returned (created false), or AlreadyExists when the key came with
// other content. A message submitted behind another of its mailbox gets
// its job scheduled at the safety-net wait, not at once: the one ahead
// wakes it when it is done (ADR 29), and a run now would only find it is
// not its turn.
func (p *Pipeline) Submit(ctx context.Context, s Submission) (store.Message, bool, error) {
	to, cc, err := validate(&s)
	if err != nil {
		return store.Message{}, false, err
	}
	now := p.now()
	if s.SendAfter.IsZero() || s.SendAfter.Before(now) {
		s.SendAfter = now
	}
	m := store.Message{
		ID: uuid.NewString(), OrgID: s.OrgID, MailboxID: s.MailboxID, Caller: s.Caller, IdempotencyKey: s.IdempotencyKey,
		RequestHash: requestHash(s, to, cc), To: to, Cc: cc, RecipientCount: len(to) + len(cc),
		Subject: s.Subject, HTMLBody: s.HTMLBody, ReplyToProviderID: s.ReplyToProviderID, SendAfter: s.SendAfter,
	}
	var out store.Message
	created := true
	err = p.store.InTx(ctx, func(tx pgx.Tx) error {
		mb, err := p.store.MailboxForSubmit(ctx, tx, s.OrgID, s.MailboxID)
		if errors.Is(err, postgres.ErrNotFound) {
			return ErrMailboxNotFound
		}
		if err != nil {
			return err
		}
		m.MailboxID = mb.ID
		if mb.Status == store.StatusDisconnected {
			// A retry of a message accepted before the disconnection
			// still gets its answer.
			return errDisconnected
		}
		opts := sendInsertOpts(m.SendAfter, now)
		if !m.SendAfter.After(now) {
			behind, err := p.store.QueueAhead(ctx, tx, mb.ID, m.SendAfter)
			if err != nil {
				return err
			}
			if behind {
				opts.ScheduledAt = now.Add(p.waitTurn)
			}
		}
		res, err := p.jobs.InsertTx(ctx, tx, SendArgs{MessageID: m.ID}, opts)
		if err != nil {
			return fmt.Errorf("sending: enqueue the send: %w", err)
		}
		m.JobID = &res.Job.ID
		out, err = p.store.InsertMessage(ctx, tx, m)
		return err
	})
	if errors.Is(err, postgres.ErrConflict) || errors.Is(err, errDisconnected) {
		// The key made a message already (the job inserted for this one
		// went with the rollback), or the mailbox is disconnected and only
		// a message the key made can be answered.
		prev, kerr := p.store.MessageByKey(ctx, s.OrgID, s.Caller, s.IdempotencyKey)
		switch {
		case kerr == nil:
			out, created, err = prev, false, nil
		case !errors.Is(kerr, postgres.ErrNotFound):
			return store.Message{}, false, kerr
		}
	}
	if err != nil {
		return store.Message{}, false, err
	}
	if !created && string(out.RequestHash) != string(m.RequestHash) {
		return store.Message{}, false, errKeyReused
	}
	if created {
		p.log.InfoContext(ctx, "message queued", slog.String("message", out.ID), slog.String("mailbox", out.MailboxID), slog.Int("recipients", out.RecipientCount))
	}
	return out, created, nil
}

func validate(s *Submission) (to, cc []Recipient, err error) {
	switch {
	case s.OrgID == "":
		return nil, nil, apperr.InvalidArgument("organization_id", "is required")
	case s.MailboxID == "":
		return nil, nil, apperr.InvalidArgument("mailbox_id", "is required")
	case s.IdempotencyKey == "":
		return nil, nil, apperr.InvalidArgument("idempotency_key", "is required")
	case len(s.IdempotencyKey) > MaxIdempotencyKey || !utf8.ValidString(s.IdempotencyKey):
		return nil, nil, apperr.InvalidArgument("idempotency_key", fmt.Sprintf("must be valid text of at most %d bytes", MaxIdempotencyKey))
	case len(s.To) == 0:
		return nil, nil, apperr.InvalidArgument("to", "at least one recipient is required")
	case len(s.To)+len(s.Cc) > MaxRecipients:
		return nil, nil, apperr.InvalidArgument("to", fmt.Sprintf("at most %d recipients in to and cc together", MaxRecipients))
	case s.ReplyToProviderID == "" && strings.TrimSpace(s.Subject) == "":
		return nil, nil, apperr.InvalidArgument("subject", "is required")
	case utf8.RuneCountInString(s.Subject) > MaxSubject || !utf8.ValidString(s.Subject) || strings.ContainsAny(s.Subject, "\r\n"):
		return nil, nil, apperr.InvalidArgument("subject", fmt.Sprintf("must be one line of at most %d characters", MaxSubject))
	case strings.TrimSpace(s.HTMLBody) == "":
		return nil, nil, apperr.InvalidArgument("html_body", "is required")
	case len(s.HTMLBody) > MaxHTMLBody || !utf8.ValidString(s.HTMLBody):
		return nil, nil, apperr.InvalidArgument("html_body", fmt.Sprintf("must be valid text of at most %d bytes", MaxHTMLBody))
	case len(s.ReplyToProviderID) > 512:
		return nil, nil, apperr.InvalidArgument("reply_to_provider_message_id", "is too long")
	}
	if to, err = recipients("to", s.To); err != nil {
		return nil, nil, err
	}
	if cc, err = recipients("cc", s.Cc); err != nil {
		return nil, nil, err
	}
	return to, cc, nil
}

// recipients checks each address as an SMTP address (no display-name
// forms) and keeps it as given, trimmed.
func recipients(field string, in []Recipient) ([]Recipient, error) {
	out := make([]Recipient, 0, len(in))
	for i, r := range in {
		a := strings.TrimSpace(r.Address)
		parsed, err := mail.ParseAddress(a)
		if err != nil || parsed.Address != a || !strings.Contains(a, "@") || len(a) > 320 {
			return nil, apperr.InvalidArgument(fmt.Sprintf("%s[%d].address", field, i), "must be an e-mail address like name@example.com")
		}
		if utf8.RuneCountInString(r.Name) > 256 || strings.ContainsAny(r.Name, "\r\n") {
			return nil, apperr.InvalidArgument(fmt.Sprintf("%s[%d].name", field, i), "must be one line of at most 256 characters")
		}
		out = append(out, Recipient{Address: a, Name: strings.TrimSpace(r.Name)})
	}
	return out, nil
}

// requestHash identifies what a submission asks for, so a retry with the
// same key is told from a different message under a reused key.
func requestHash(s Submission, to, cc []Recipient) []byte {
	h := sha256.New()
	field := func(v string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write([]byte(v))
	}
	field(s.MailboxID)
	for _, list := range [][]Recipient{to, cc} {
		field(fmt.Sprint(len(list)))
		for _, r := range list {
			field(strings.ToLower(r.Address))
			field(r.Name)
		}
	}
	field(s.Subject)
	field(s.HTMLBody)
	field(s.ReplyToProviderID)
	return h.Sum(nil)
}

// Get returns a message of the organization.
func (p *Pipeline) Get(ctx context.Context, orgID, id string) (store.Message, error) {
	m, err := p.store.Message(ctx, orgID, id)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Message{}, ErrMessageNotFound
	}
	return m, err
}

// Page sizes of ListMessages.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// List returns a page of a mailbox's messages, newest first.
func (p *Pipeline) List(ctx context.Context, orgID, mailboxID string, pageSize int, pageToken string) ([]store.Message, string, error) {
	if pageSize < 0 || pageSize > MaxPageSize {
		return nil, "", apperr.InvalidArgument("page_size", fmt.Sprintf("must be between 1 and %d", MaxPageSize))
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	after, err := decodeCursor(pageToken)
	if err != nil {
		return nil, "", err
	}
	if _, err := p.store.Mailbox(ctx, orgID, mailboxID); errors.Is(err, postgres.ErrNotFound) {
		return nil, "", ErrMailboxNotFound
	} else if err != nil {
		return nil, "", err
	}
	list, err := p.store.ListMessages(ctx, orgID, mailboxID, after, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > pageSize {
		list = list[:pageSize]
		last := list[len(list)-1]
		next = encodeCursor(store.MessageCursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return list, next, nil
}

// Cancel stops a message that has not started to leave; its draft, if
// any, is deleted by the cleanup job enqueued with it.
func (p *Pipeline) Cancel(ctx context.Context, orgID, id string) (store.Message, error) {
	var out store.Message
	err := p.store.InTx(ctx, func(tx pgx.Tx) error {
		m, err := p.store.Cancel(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		out = m
		if m.MayHaveOrphans {
			if _, err := p.jobs.InsertTx(ctx, tx, CleanDraftsArgs{MailboxID: m.MailboxID}, cleanInsertOpts()); err != nil {
				return fmt.Errorf("sending: enqueue the draft cleanup: %w", err)
			}
		}
		// The next message may go now.
		return wakeHead(ctx, tx, p.store, p.jobs, m.MailboxID, p.now())
	})
	switch {
	case errors.Is(err, postgres.ErrNotFound):
		return store.Message{}, ErrMessageNotFound
	case errors.Is(err, store.ErrStateChanged):
		return store.Message{}, errLeaving
	case err != nil:
		return store.Message{}, err
	}
	p.log.InfoContext(ctx, "message cancelled", slog.String("message", out.ID))
	return out, nil
}

// wakeHead makes the send job of the mailbox's next message run now; tx
// is the transaction that ended the message ahead. The mailbox's lock is
// taken first (MarkSent has it already), so a message submitted
// concurrently behind the one that ended is either seen here or saw that
// one ended (ADR 29).
func wakeHead(ctx context.Context, tx pgx.Tx, st Store, jobs Jobs, mailboxID string, now time.Time) error {
	if err := st.LockMailbox(ctx, tx, mailboxID); err != nil {
		return err
	}
	job, err := st.HeadJob(ctx, tx, mailboxID, now)
	if err != nil {
		return err
	}
	return wakeJob(ctx, tx, jobs, mailboxID, job)
}

// wakeJob makes job (the mailbox's next head's) available now.
func wakeJob(ctx context.Context, tx pgx.Tx, jobs Jobs, mailboxID string, job *int64) error {
	if job == nil {
		return nil
	}
	row, err := jobs.JobRetryTx(ctx, tx, *job)
	if errors.Is(err, river.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sending: wake the next message: %w", err)
	}
	if row == nil || row.State != rivertype.JobStateRunning {
		return nil
	}
	// River leaves a running job alone: the head's job is in a run of its
	// own, most likely its safety-net run deciding to wait its turn again,
	// and this wake would be lost, the message waiting its whole WaitTurn.
	// A release job wakes it once that run is over (ReleaseWorker).
	if _, err := jobs.InsertTx(ctx, tx, ReleaseArgs{MailboxID: mailboxID}, nil); err != nil {
		return fmt.Errorf("sending: wake the next message again: %w", err)
	}
	return nil
}

// retryHead makes the head message's job available now, and reports
// whether River left it alone because it is running.
func retryHead(ctx context.Context, tx pgx.Tx, st Store, jobs Jobs, mailboxID string, now time.Time) (running bool, err error) {
	head, err := st.QueueHead(ctx, tx, mailboxID, now)
	if errors.Is(err, postgres.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if head.JobID == nil {
		return false, nil
	}
	row, err := jobs.JobRetryTx(ctx, tx, *head.JobID)
	if errors.Is(err, river.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sending: wake the next message: %w", err)
	}
	return row != nil && row.State == rivertype.JobStateRunning, nil
}
