package sending

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// SendKind sends one message (ADR 19).
const SendKind = "mailbox_send"

// EventMessageSent is published to outreach when Microsoft accepted a
// message.
const EventMessageSent = "message.sent"

// MarkerHeader carries the message's id on its draft, so a draft Graph
// holds can always be traced to the message it was made for.
const MarkerHeader = "X-Tandem-Message-Key"

// SendArgs are the arguments of a mailbox_send job.
type SendArgs struct {
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (SendArgs) Kind() string { return SendKind }

// sendMaxAttempts is high enough never to be reached: a message is never
// dropped because Graph or identity were away for a while (waits are capped
// at maxRetryWait, and snoozes do not count).
const sendMaxAttempts = 100_000

// sendInsertOpts schedules the job at at when that is later than now; a
// job due now is inserted available, not left for River's scheduler, which
// looks every few seconds.
func sendInsertOpts(at, now time.Time) *river.InsertOpts {
	opts := &river.InsertOpts{MaxAttempts: sendMaxAttempts}
	if at.After(now) {
		opts.ScheduledAt = at
	}
	return opts
}

// Mail is what the worker needs of Graph (graph.Client).
type Mail interface {
	CreateDraft(ctx context.Context, mb graph.Mailbox, d graph.Draft) (graph.Message, error)
	CreateReply(ctx context.Context, mb graph.Mailbox, replyTo string, d graph.Draft) (graph.Message, error)
	Send(ctx context.Context, mb graph.Mailbox, draftID string) error
	GetMessage(ctx context.Context, mb graph.Mailbox, id string) (graph.Message, error)
	FindByInternetMessageID(ctx context.Context, mb graph.Mailbox, folder, id string) ([]graph.Message, error)
	DeleteMessage(ctx context.Context, mb graph.Mailbox, id string) error
}

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// Timing of the send protocol.
type Timing struct {
	// ConfirmAfter is how long after a send attempt a message that still
	// reads as a draft is taken not to have left. Graph files a sent draft
	// in Sent Items asynchronously after the 202, so it must be well past
	// the longest delay Graph takes. Default 2 minutes.
	ConfirmAfter time.Duration
	// ConfirmPoll is how often a message whose send is unconfirmed is
	// looked at again. Default 2 seconds.
	ConfirmPoll time.Duration
	// WaitTurn is the safety-net wait of a message behind another in its
	// mailbox's queue; the one ahead wakes it when it is done. Default 30s.
	WaitTurn time.Duration
	// Hold is the safety-net wait of a message whose mailbox must be
	// connected again; the connection's event wakes it, and this wait
	// covers a reconnection identity had no status change to tell of.
	// Default 2 minutes.
	Hold time.Duration
	// JobTimeout bounds one run of a send job. Default 1 minute.
	JobTimeout time.Duration
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ConfirmAfter, 2*time.Minute)
	def(&t.ConfirmPoll, 2*time.Second)
	def(&t.WaitTurn, DefaultWaitTurn)
	def(&t.Hold, 2*time.Minute)
	def(&t.JobTimeout, time.Minute)
	return t
}

// DefaultWaitTurn is Timing.WaitTurn's default.
const DefaultWaitTurn = 30 * time.Second

// maxRetryWait caps the backoff of a send that failed for a temporary
// reason.
const maxRetryWait = 2 * time.Minute

// holdReason is a waiting message's status while its mailbox needs its
// owner.
const holdReason = "waiting: the mailbox must be connected again"

// SendWorker runs mailbox_send jobs: it moves one message through
// queued → drafted → sending → sent, one step after another, and after a
// crash resumes from the stored state and what Graph shows (ADR 19).
type SendWorker struct {
	river.WorkerDefaults[SendArgs]

	store  Store
	jobs   Jobs
	mail   Mail
	limits *Limits
	pub    Publisher
	timing Timing
	log    *slog.Logger
	now    func() time.Time
	// crash, in tests, stops the worker at a named point of the protocol
	// as a killed process would stop.
	crash func(point string) error
}

// SendWorkerOptions configure a SendWorker.
type SendWorkerOptions struct {
	Store     Store
	Jobs      Jobs
	Mail      Mail
	Limits    *Limits
	Publisher Publisher
	Timing    Timing
	Logger    *slog.Logger
}

// NewSendWorker returns the worker.
func NewSendWorker(o SendWorkerOptions) *SendWorker {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &SendWorker{store: o.Store, jobs: o.Jobs, mail: o.Mail, limits: o.Limits, pub: o.Publisher,
		timing: o.Timing.withDefaults(), log: o.Logger, now: time.Now, crash: func(string) error { return nil }}
}

// Timeout implements river.Worker.
func (w *SendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return w.timing.JobTimeout }

// NextRetry backs off exponentially with jitter, capped at maxRetryWait,
// instead of River's attempt⁴ seconds, which would leave a message hours
// behind after a short outage.
func (w *SendWorker) NextRetry(job *river.Job[SendArgs]) time.Time {
	d := time.Second << min(job.Attempt, 8)
	d = min(d, maxRetryWait)
	return w.now().Add(d/2 + time.Duration(rand.Int64N(int64(d/2)+1)))
}

// now is microsecond-precise, as Postgres keeps times: an attempt time
// read back must equal the one written.
func (w *SendWorker) clock() time.Time { return w.now().Truncate(time.Microsecond) }

// Work takes the message as far as it can go now. Each step starts from
// one read of the message's Turn (the message, its mailbox, whose turn it
// is and the day's usage).
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	// next is the Turn a step read already, in its own statement.
	var next *store.Turn
	for range 8 {
		now := w.clock()
		var t store.Turn
		if next != nil {
			t, next = *next, nil
		} else {
			var err error
			t, err = w.store.Turn(ctx, job.Args.MessageID, now)
			if errors.Is(err, postgres.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		m, mb := t.Message, t.Mailbox
		if store.Final(m.State) {
			return nil
		}
		if mb.Status != store.StatusConnected {
			return w.hold(ctx, m)
		}
		if t.HeadID == "" {
			// Not due yet (its job ran early).
			return river.JobSnooze(max(m.SendAfter.Sub(now), time.Second))
		}
		if t.HeadID != m.ID {
			if m.State == store.StateQueued && m.SendAfter.After(now) {
				return river.JobSnooze(m.SendAfter.Sub(now))
			}
			return river.JobSnooze(w.timing.WaitTurn)
		}
		var err error
		switch m.State {
		case store.StateQueued:
			if !t.DraftStarted {
				// Queued, its turn, connected: the read starts the draft
				// when it says so, so another worker or a cancel got
				// between; read again.
				continue
			}
			m, next, err = w.createDraft(ctx, mb, m, t.Usage)
		case store.StateDrafted:
			m, err = w.send(ctx, mb, m, t.Usage)
		case store.StateSending:
			m, err = w.confirm(ctx, mb, m, t.Usage)
		}
		if err != nil {
			return err
		}
		if store.Final(m.State) {
			// Sent or failed in this run: nothing to read again.
			return nil
		}
	}
	return river.JobSnooze(time.Second)
}

func (w *SendWorker) hold(ctx context.Context, m store.Message) error {
	if err := w.store.SetStatusReason(ctx, m.ID, holdReason); err != nil {
		return err
	}
	return river.JobSnooze(w.timing.Hold)
}

// changed is what a step returns when another worker or a cancel changed
// the message: the zero message, which Work's loop reads again (its Turn).
func changed() (store.Message, error) { return store.Message{}, nil }

// createDraft makes the draft in Graph of a message whose draft is
// started (Turn.DraftStarted: draft_started_at recorded, durably, before
// the call) and records it. When the limits let the message go now, the
// draft and the attempt are recorded in one write (sending) and the draft
// is sent; otherwise it is recorded drafted, and the Turn returned is the
// message's after the record. usage is the Turn's.
func (w *SendWorker) createDraft(ctx context.Context, mb store.Mailbox, m store.Message, usage store.DayUsage) (store.Message, *store.Turn, error) {
	var err error
	d := graph.Draft{Subject: m.Subject, HTML: m.HTMLBody, To: graphRecipients(m.To), Cc: graphRecipients(m.Cc),
		Headers: []graph.Header{{Name: MarkerHeader, Value: m.ID}}}
	gmb := graph.Mailbox{ConnectionID: mb.ID}
	var draft graph.Message
	if m.ReplyToProviderID != "" {
		draft, err = w.mail.CreateReply(ctx, gmb, m.ReplyToProviderID, d)
	} else {
		draft, err = w.mail.CreateDraft(ctx, gmb, d)
	}
	if err != nil {
		if ge, ok := graph.AsError(err); ok && ge.Permanent() {
			out, err := w.fail(ctx, m, "Microsoft refused the message: "+ge.Reason())
			return out, nil, err
		}
		// A create whose answer was lost may have made a draft: the next
		// start (Turn) marks the message for the draft cleanup.
		return store.Message{}, nil, w.graphFailure(ctx, mb, m, err)
	}
	if err := w.crash("after-draft"); err != nil {
		return store.Message{}, nil, err
	}
	cancelled := func() {
		// Cancelled while the draft was made: it is never sent.
		if derr := w.mail.DeleteMessage(ctx, gmb, draft.ID); derr != nil {
			w.log.WarnContext(ctx, "draft of a cancelled message left for the cleanup", slog.String("message", m.ID), slog.Any("error", derr))
		}
	}
	now := w.clock()
	if dec, lerr := w.limits.nextWith(ctx, mb, m, usage, now); lerr == nil && !dec.at.After(now) {
		// It may go now: from this write on it may have left (as
		// MarkSending).
		sending, err := w.store.DraftSending(ctx, m.ID, draft.ID, draft.InternetMessageID, draft.ConversationID, now)
		if err != nil {
			w.refund(ctx, mb.ID, dec)
			if errors.Is(err, store.ErrStateChanged) {
				cancelled()
				return store.Message{}, nil, nil
			}
			return store.Message{}, nil, err
		}
		w.log.InfoContext(ctx, "draft created", slog.String("message", m.ID), slog.String("mailbox", mb.ID))
		if err := w.crash("before-send"); err != nil {
			return store.Message{}, nil, err
		}
		out, err := w.callSend(ctx, mb, sending, dec)
		return out, nil, err
	}
	// Not now (or the limits could not be read): recorded drafted; the
	// send step decides, from the Turn that comes back.
	t, err := w.store.RecordDraft(ctx, m.ID, draft.ID, draft.InternetMessageID, draft.ConversationID, w.clock())
	if errors.Is(err, store.ErrStateChanged) {
		cancelled()
		return store.Message{}, nil, nil
	}
	if err != nil {
		return store.Message{}, nil, err
	}
	w.log.InfoContext(ctx, "draft created", slog.String("message", m.ID), slog.String("mailbox", mb.ID))
	return store.Message{}, &t, nil
}

// send sends a recorded draft when the limits let it go.
func (w *SendWorker) send(ctx context.Context, mb store.Mailbox, m store.Message, usage store.DayUsage) (store.Message, error) {
	now := w.clock()
	dec, err := w.limits.nextWith(ctx, mb, m, usage, now)
	if err != nil {
		return store.Message{}, err
	}
	if dec.at.After(now) {
		if err := w.store.SetStatusReason(ctx, m.ID, "waiting: "+dec.reason); err != nil {
			return store.Message{}, err
		}
		return store.Message{}, river.JobSnooze(dec.at.Sub(now))
	}
	// From here on the message may have left: recorded before the call, so
	// a crash during it is recovered by confirm, never by a blind send.
	sending, err := w.store.MarkSending(ctx, m.ID, nil, now)
	if err != nil {
		w.refund(ctx, mb.ID, dec)
		if errors.Is(err, store.ErrStateChanged) {
			return changed()
		}
		return store.Message{}, err
	}
	if err := w.crash("before-send"); err != nil {
		return store.Message{}, err
	}
	return w.callSend(ctx, mb, sending, dec)
}

// callSend calls Graph's send for a message recorded as sending and records
// what can be known.
func (w *SendWorker) callSend(ctx context.Context, mb store.Mailbox, m store.Message, dec decision) (store.Message, error) {
	err := w.mail.Send(ctx, graph.Mailbox{ConnectionID: mb.ID}, m.DraftID)
	if err == nil {
		if err := w.crash("after-send"); err != nil {
			return store.Message{}, err
		}
		return w.markSent(ctx, m, w.clock())
	}
	ge, isGraph := graph.AsError(err)
	switch {
	case isGraph && ge.OutcomeUnknown:
		// It may have left: confirm decides, from what Graph shows.
		w.recordError(ctx, mb, ge.Reason())
		return store.Message{}, fmt.Errorf("sending: send of %s unconfirmed: %w", m.ID, err)
	case isGraph && errors.Is(err, graph.ErrNotFound):
		// The draft was deleted in Outlook: it did not go; make another.
		if _, err := w.store.SendRefused(ctx, m.ID, "the draft was deleted; making it again"); err != nil {
			return store.Message{}, err
		}
		w.refund(ctx, mb.ID, dec)
		rec, err := w.store.ForgetDraft(ctx, m.ID)
		if errors.Is(err, store.ErrStateChanged) {
			return changed()
		}
		return rec, err
	case isGraph && ge.Permanent():
		return w.fail(ctx, m, "Microsoft refused the message: "+ge.Reason())
	}
	// Refused (429), or never sent (no token, no connection): it did not
	// leave, so it goes back to drafted and is sent again later.
	if _, rerr := w.store.SendRefused(ctx, m.ID, "waiting: "+reasonOf(err)); rerr != nil && !errors.Is(rerr, store.ErrStateChanged) {
		return store.Message{}, rerr
	}
	w.refund(ctx, mb.ID, dec)
	return store.Message{}, w.graphFailure(ctx, mb, m, err)
}

// confirm settles a message whose send was attempted but not recorded as
// accepted: a crash, a timeout or a lost answer came between.
func (w *SendWorker) confirm(ctx context.Context, mb store.Mailbox, m store.Message, usage store.DayUsage) (store.Message, error) {
	gmb := graph.Mailbox{ConnectionID: mb.ID}
	got, err := w.mail.GetMessage(ctx, gmb, m.DraftID)
	switch {
	case err == nil && !got.IsDraft:
		// It left (Outbox or Sent Items).
		at := got.SentAt
		if at.IsZero() && m.SendAttemptedAt != nil {
			at = *m.SendAttemptedAt
		}
		return w.markSent(ctx, m, at)
	case err == nil:
		// Still a draft. Right after a send that is no proof it did not
		// leave: Graph files it later. Past ConfirmAfter it is.
		now := w.clock()
		deadline := m.SendAttemptedAt.Add(w.timing.ConfirmAfter)
		if now.Before(deadline) {
			return store.Message{}, river.JobSnooze(min(deadline.Sub(now), w.timing.ConfirmPoll))
		}
		dec, err := w.limits.nextWith(ctx, mb, m, usage, now)
		if err != nil {
			return store.Message{}, err
		}
		if dec.at.After(now) {
			return store.Message{}, river.JobSnooze(dec.at.Sub(now))
		}
		again, err := w.store.MarkSending(ctx, m.ID, m.SendAttemptedAt, now)
		if err != nil {
			w.refund(ctx, mb.ID, dec)
			if errors.Is(err, store.ErrStateChanged) {
				return changed()
			}
			return store.Message{}, err
		}
		w.log.InfoContext(ctx, "send did not go through; sending the draft again", slog.String("message", m.ID))
		return w.callSend(ctx, mb, again, dec)
	case errors.Is(err, graph.ErrNotFound):
		// The draft is gone: sent and then deleted from Sent Items, or
		// deleted before it left. Sent Items tells the first.
		found, ferr := w.mail.FindByInternetMessageID(ctx, gmb, "sentitems", m.InternetMessageID)
		if ferr != nil {
			return store.Message{}, w.graphFailure(ctx, mb, m, ferr)
		}
		for _, f := range found {
			if f.HeaderValue(MarkerHeader) == "" || f.HeaderValue(MarkerHeader) == m.ID {
				return w.markSent(ctx, m, f.SentAt)
			}
		}
		return w.fail(ctx, m, "the draft was deleted before its send could be confirmed; it is not sent again, so it cannot go twice")
	}
	return store.Message{}, w.graphFailure(ctx, mb, m, err)
}

// markSent records that m left, publishes message.sent and wakes the next
// message of the mailbox, in one transaction.
func (w *SendWorker) markSent(ctx context.Context, m store.Message, at time.Time) (store.Message, error) {
	if at.IsZero() {
		at = w.clock()
	}
	var out store.Message
	err := w.store.InTx(ctx, func(tx pgx.Tx) error {
		sent, err := w.store.MarkSent(ctx, tx, m.ID, at)
		if err != nil {
			return err
		}
		out = sent
		if _, err := w.pub.Publish(ctx, tx, events.Event{
			Type: EventMessageSent, OrganizationID: sent.OrgID, AggregateID: sent.ID, OccurredAt: at,
			Payload: &mailboxv1.MessageSent{
				MessageId: sent.ID, MailboxId: sent.MailboxID, IdempotencyKey: sent.IdempotencyKey,
				ProviderMessageId: sent.DraftID, InternetMessageId: sent.InternetMessageID, ConversationId: sent.ConversationID,
				SentTime: timestamppb.New(at), To: protoRecipients(sent.To), Cc: protoRecipients(sent.Cc),
			},
		}); err != nil {
			return fmt.Errorf("sending: publish message.sent: %w", err)
		}
		if sent.MayHaveOrphans {
			// A draft of an attempt whose answer was lost may be in Drafts.
			if _, err := w.jobs.InsertTx(ctx, tx, CleanDraftsArgs{MailboxID: sent.MailboxID}, cleanInsertOpts()); err != nil {
				return fmt.Errorf("sending: enqueue the draft cleanup: %w", err)
			}
		}
		// MarkSent holds the mailbox's lock (see wakeHead).
		next, err := w.store.HeadJob(ctx, tx, sent.MailboxID, w.clock())
		if err != nil {
			return err
		}
		return wakeJob(ctx, tx, w.jobs, sent.MailboxID, next)
	})
	if errors.Is(err, store.ErrStateChanged) {
		return changed()
	}
	if err != nil {
		return store.Message{}, err
	}
	w.log.InfoContext(ctx, "message sent", slog.String("message", out.ID), slog.String("mailbox", out.MailboxID))
	return out, nil
}

// fail records that m cannot be sent and wakes the next message.
func (w *SendWorker) fail(ctx context.Context, m store.Message, reason string) (store.Message, error) {
	var out store.Message
	err := w.store.InTx(ctx, func(tx pgx.Tx) error {
		failed, err := w.store.MarkFailed(ctx, tx, m.ID, reason)
		if err != nil {
			return err
		}
		out = failed
		if failed.MayHaveOrphans {
			if _, err := w.jobs.InsertTx(ctx, tx, CleanDraftsArgs{MailboxID: failed.MailboxID}, cleanInsertOpts()); err != nil {
				return err
			}
		}
		return wakeHead(ctx, tx, w.store, w.jobs, failed.MailboxID, w.clock())
	})
	if errors.Is(err, store.ErrStateChanged) {
		return changed()
	}
	if err != nil {
		return store.Message{}, err
	}
	w.recordError(ctx, store.Mailbox{ID: m.MailboxID}, reason)
	w.log.WarnContext(ctx, "message failed", slog.String("message", m.ID), slog.String("reason", reason))
	return out, nil
}

// graphFailure turns a Graph call's failure into what the job does next:
// hold for a reconnection, snooze for Graph's Retry-After (this mailbox
// only), or retry with backoff.
func (w *SendWorker) graphFailure(ctx context.Context, mb store.Mailbox, m store.Message, err error) error {
	if errors.Is(err, graph.ErrReconnectRequired) {
		return w.hold(ctx, m)
	}
	reason := reasonOf(err)
	w.recordError(ctx, mb, reason)
	if ge, ok := graph.AsError(err); ok && ge.Throttled() {
		if serr := w.store.SetStatusReason(ctx, m.ID, "waiting: "+reason); serr != nil {
			return serr
		}
		return river.JobSnooze(max(ge.RetryAfter, 100*time.Millisecond))
	}
	return fmt.Errorf("sending: %s: %w", m.ID, err)
}

func reasonOf(err error) string {
	if ge, ok := graph.AsError(err); ok {
		return ge.Reason()
	}
	if errors.Is(err, graph.ErrReconnectRequired) {
		return "the mailbox must be connected again"
	}
	if errors.Is(err, graph.ErrTokenUnavailable) {
		return "the mailbox's token could not be fetched now"
	}
	return "the message could not be handed to Microsoft"
}

func (w *SendWorker) recordError(ctx context.Context, mb store.Mailbox, reason string) {
	if err := w.store.RecordMailboxError(ctx, mb.ID, reason, w.clock()); err != nil {
		w.log.WarnContext(ctx, "could not record the mailbox's last error", slog.Any("error", err))
	}
}

func (w *SendWorker) refund(ctx context.Context, mailboxID string, dec decision) {
	if err := w.limits.refund(ctx, mailboxID, dec); err != nil {
		// The slot comes back when its minute passes.
		w.log.WarnContext(ctx, "per-minute slot not refunded", slog.Any("error", err))
	}
}

func graphRecipients(rs []store.Recipient) []graph.Recipient {
	out := make([]graph.Recipient, 0, len(rs))
	for _, r := range rs {
		out = append(out, graph.Recipient(r))
	}
	return out
}

func protoRecipients(rs []store.Recipient) []*mailboxv1.Recipient {
	out := make([]*mailboxv1.Recipient, 0, len(rs))
	for _, r := range rs {
		out = append(out, &mailboxv1.Recipient{Address: r.Address, Name: r.Name})
	}
	return out
}
