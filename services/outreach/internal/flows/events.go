package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/postgres"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Events outreach receives from mailbox.
const (
	EventMessageSent     = "message.sent"
	EventMessageReceived = "message.received"
)

// Reasons of the automatic stage moves, on the candidate's timeline.
const (
	reasonFirstSend = "first e-mail of a flow sent"
	reasonReplied   = "replied to a flow's e-mail"
)

// enrollmentOf finds, under its lock, the enrollment a message's
// idempotency key names; ok is false for a message that is not a flow
// step's (or of an enrollment that is gone).
func enrollmentOf(ctx context.Context, tx pgx.Tx, orgID, key string) (e store.Enrollment, step int, ok bool, err error) {
	id, step, version, ok := parseKey(key)
	if !ok {
		return store.Enrollment{}, 0, false, nil
	}
	e, err = store.EnrollmentTx(ctx, tx, orgID, id, "")
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Enrollment{}, 0, false, nil
	}
	if err != nil {
		return store.Enrollment{}, 0, false, err
	}
	// The candidate's lock first, as a stage move takes it (and then the
	// enrollment's): the same order everywhere cannot deadlock.
	if err := store.LockCandidate(ctx, tx, e.CandidateID); err != nil {
		return store.Enrollment{}, 0, false, err
	}
	if e, err = store.EnrollmentTx(ctx, tx, orgID, id, "FOR UPDATE"); err != nil {
		return store.Enrollment{}, 0, false, err
	}
	if e.FlowVersion != version {
		return store.Enrollment{}, 0, false, fmt.Errorf("enrollment %s is on version %d, the key names %d", id, e.FlowVersion, version)
	}
	return e, step, true, nil
}

// ApplyMessageSent records a step that left (mailbox's `message.sent`):
// the thread it started or continued, the figures, the first send's move
// to Contacted, and the next step, timed from the actual send, or the
// enrollment's end after the last step. A step recorded already is a
// no-op, so a second copy of the event changes nothing.
func (f *Flows) ApplyMessageSent(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p mailboxv1.MessageSent
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return fmt.Errorf("message.sent payload: %w", err)
	}
	e, step, ok, err := enrollmentOf(ctx, tx, ev.GetOrganizationId(), p.GetIdempotencyKey())
	if err != nil || !ok || step < e.StepsSent {
		return err
	}
	fl, err := store.FlowAt(ctx, tx, e.OrgID, e.FlowID, e.FlowVersion)
	if err != nil {
		return err
	}
	sentAt := f.now()
	if p.GetSentTime() != nil {
		sentAt = p.GetSentTime().AsTime()
	}
	first := e.StepsSent == 0
	e.StepsSent = step + 1
	e.LastSentAt = &sentAt
	e.LastProviderMessageID, e.LastInternetMessageID = p.GetProviderMessageId(), p.GetInternetMessageId()
	if p.GetConversationId() != "" {
		e.ConversationID = p.GetConversationId()
	}
	if e.SubmittedStep == step {
		e.SubmittedStep, e.SubmittedMessageID = -1, ""
	}
	flowDelta := store.Stats{Sent: 1}
	if first {
		flowDelta.Contacted = 1
	}
	if err := store.AddStats(ctx, tx, e.FlowID, store.FlowStepIndex, flowDelta); err != nil {
		return err
	}
	if err := store.AddStats(ctx, tx, e.FlowID, step, store.Stats{Sent: 1}); err != nil {
		return err
	}
	var job *river.InsertManyParams
	if e.Running() && e.NextStep == step {
		if step+1 < len(fl.Current.Steps) {
			cal, err := f.calendar(fl.Current)
			if err != nil {
				return err
			}
			at, err := cal.Next(sentAt, delayOf(fl.Current.Steps[step+1]))
			if err != nil {
				return err
			}
			e.NextStep = step + 1
			j, err := f.reschedule(ctx, tx, &e, at)
			if err != nil {
				return err
			}
			job = &j
		} else {
			e.Stop(store.StopFinished, sentAt)
		}
	}
	if _, err := store.WriteEnrollment(ctx, tx, e); err != nil {
		return err
	}
	if job != nil {
		if err := f.insertJobs(ctx, tx, []river.InsertManyParams{*job}); err != nil {
			return err
		}
	}
	if e.Status == store.EnrollmentStopped {
		if _, err := store.CompleteIfDone(ctx, tx, e.FlowID); err != nil {
			return err
		}
	}
	if step == 0 {
		if _, err := store.AdvanceCandidate(ctx, tx, e.OrgID, e.CandidateID, store.StageContacted,
			store.Move{Reason: reasonFirstSend, Source: "user", Actor: fl.Current.SenderUserID}, f.stagePub); err != nil {
			return fmt.Errorf("move to %s: %w", store.StageContacted, err)
		}
	}
	f.log.DebugContext(ctx, "flow step sent", slog.String("enrollment_id", e.ID), slog.Int("step", step))
	return nil
}

// ApplyMessageReceived acts on mail that answers a step (mailbox's
// `message.received`): a reply stops the enrollment before any further
// step leaves and moves the candidate to Replied (unless a later stage is
// set); a bounce stops it and, when permanent, marks the address
// undeliverable; an automatic reply changes nothing.
func (f *Flows) ApplyMessageReceived(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p mailboxv1.MessageReceived
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return fmt.Errorf("message.received payload: %w", err)
	}
	kind := p.GetKind()
	if kind != mailboxv1.InboundKind_INBOUND_KIND_REPLY && kind != mailboxv1.InboundKind_INBOUND_KIND_BOUNCE {
		return nil
	}
	e, step, ok, err := enrollmentOf(ctx, tx, ev.GetOrganizationId(), p.GetSentIdempotencyKey())
	if err != nil || !ok {
		return err
	}
	now := f.now()
	if p.GetReceiveTime() != nil {
		now = p.GetReceiveTime().AsTime()
	}
	if kind == mailboxv1.InboundKind_INBOUND_KIND_REPLY {
		return f.replied(ctx, tx, e, step, now)
	}
	return f.bounced(ctx, tx, e, step, &p, now)
}

func (f *Flows) replied(ctx context.Context, tx pgx.Tx, e store.Enrollment, step int, at time.Time) error {
	if e.RepliedAt != nil {
		return nil
	}
	e.RepliedAt = &at
	if err := f.countAndStop(ctx, tx, e, step, store.Stats{Replied: 1}, store.StopReplied, at); err != nil {
		return err
	}
	if _, err := store.AdvanceCandidate(ctx, tx, e.OrgID, e.CandidateID, store.StageReplied,
		store.Move{Reason: reasonReplied, Source: "user"}, f.stagePub); err != nil {
		return fmt.Errorf("move to %s: %w", store.StageReplied, err)
	}
	return nil
}

func (f *Flows) bounced(ctx context.Context, tx pgx.Tx, e store.Enrollment, step int, p *mailboxv1.MessageReceived, at time.Time) error {
	if p.GetBouncePermanent() {
		address := p.GetBouncedRecipient()
		if address == "" {
			address = e.ToAddress
		}
		if address != "" {
			if err := store.MarkUndeliverable(ctx, tx, e.OrgID, address, "bounced"); err != nil {
				return err
			}
		}
	}
	if e.BouncedAt != nil {
		return nil
	}
	e.BouncedAt = &at
	// Any bounce stops the flow for this candidate: writing again to an
	// address that bounced, even for now, hurts the sender's reputation.
	return f.countAndStop(ctx, tx, e, step, store.Stats{Bounced: 1}, store.StopBounced, at)
}

func (f *Flows) countAndStop(ctx context.Context, tx pgx.Tx, e store.Enrollment, step int, d store.Stats, reason string, at time.Time) error {
	if err := store.AddStats(ctx, tx, e.FlowID, store.FlowStepIndex, d); err != nil {
		return err
	}
	if err := store.AddStats(ctx, tx, e.FlowID, step, d); err != nil {
		return err
	}
	if !e.Running() {
		_, err := store.WriteEnrollment(ctx, tx, e)
		return err
	}
	return f.stop(ctx, tx, e, reason, at)
}

// SentStep is a flow step's e-mail as its conversation records it.
type SentStep struct {
	CandidateID         string
	MailboxConnectionID string
	SenderUserID        string
	SenderEmail         string
	To                  string
	Subject             string
	HTMLBody            string
	// LastSentAt is when the enrollment's last step left.
	LastSentAt *time.Time
}

// StepOf tells whose flow step a mailbox message's idempotency key names,
// with the step rendered again for the conversation (the templates and
// the candidate's fields it used are what the step was sent with, barring
// an edit in between); ok is false for a key that is not a step's.
func (f *Flows) StepOf(ctx context.Context, tx pgx.Tx, orgID, key string, render bool) (s SentStep, ok bool, err error) {
	id, step, version, ok := parseKey(key)
	if !ok {
		return SentStep{}, false, nil
	}
	e, err := store.EnrollmentTx(ctx, tx, orgID, id, "")
	if errors.Is(err, postgres.ErrNotFound) {
		return SentStep{}, false, nil
	}
	if err != nil {
		return SentStep{}, false, err
	}
	fl, err := store.FlowAt(ctx, tx, orgID, e.FlowID, version)
	if err != nil {
		return SentStep{}, false, err
	}
	v := fl.Current
	s = SentStep{CandidateID: e.CandidateID, MailboxConnectionID: v.MailboxConnectionID, SenderUserID: v.SenderUserID,
		SenderEmail: v.SenderEmail, To: e.ToAddress, LastSentAt: e.LastSentAt}
	if !render || step >= len(v.Steps) {
		return s, true, nil
	}
	c, err := store.CandidateTx(ctx, tx, orgID, e.CandidateID)
	if err != nil {
		return SentStep{}, false, err
	}
	msg, err := f.render(ctx, fl, step, c, e.ToAddress)
	if err != nil {
		// A template that no longer renders still leaves the message
		// logged, by its subject's template.
		f.log.WarnContext(ctx, "a sent step does not render again for its conversation", slog.String("enrollment_id", e.ID), slog.Any("error", err))
		s.Subject = v.Steps[step].Subject
		return s, true, nil
	}
	s.Subject, s.HTMLBody = msg.Subject, msg.HTMLBody
	return s, true, nil
}
