package emails

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Recorder records a message in the caller's transaction
// (conversations.Conversations).
type Recorder interface {
	RecordTx(ctx context.Context, tx pgx.Tx, r store.MessageRecord) (conversations.Recorded, error)
}

// Steps tells whose flow step a mailbox message is (flows.Flows).
type Steps interface {
	StepOf(ctx context.Context, tx pgx.Tx, orgID, key string, render bool) (flows.SentStep, bool, error)
}

// Log records mailbox's messages in the candidates' conversations, in the
// transaction of the event that tells of them, after the flows' handling
// of the same event: a second copy of an event finds its message recorded
// (by its Message-ID) and changes nothing.
type Log struct {
	emails   *Emails
	recorder Recorder
	steps    Steps
	stagePub store.Publish
}

// NewLog returns the log; stagePub publishes the stage moves of one-off
// e-mails (stages.PublishMove).
func NewLog(m *Emails, r Recorder, steps Steps, stagePub store.Publish) *Log {
	return &Log{emails: m, recorder: r, steps: steps, stagePub: stagePub}
}

// Reasons of the automatic stage moves of one-off e-mails.
const (
	reasonSent    = "first e-mail sent"
	reasonReplied = "replied to an e-mail"
)

// Sent wraps next, the flows' handler of `message.sent`.
func (l *Log) Sent(next events.Handler) events.Handler {
	return func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
		if err := next(ctx, tx, ev); err != nil {
			return err
		}
		var p mailboxv1.MessageSent
		if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
			return fmt.Errorf("message.sent payload: %w", err)
		}
		return l.sent(ctx, tx, ev.GetOrganizationId(), &p)
	}
}

// Received wraps next, the flows' handler of `message.received`.
func (l *Log) Received(next events.Handler) events.Handler {
	return func(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
		if err := next(ctx, tx, ev); err != nil {
			return err
		}
		var p mailboxv1.MessageReceived
		if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
			return fmt.Errorf("message.received payload: %w", err)
		}
		return l.received(ctx, tx, ev.GetOrganizationId(), &p)
	}
}

func (l *Log) sent(ctx context.Context, tx pgx.Tx, orgID string, p *mailboxv1.MessageSent) error {
	at := l.emails.now()
	if p.GetSentTime() != nil {
		at = p.GetSentTime().AsTime()
	}
	r := store.MessageRecord{OrgID: orgID, ProviderConversationID: p.GetConversationId(), MailboxConnectionID: p.GetMailboxId(),
		ProviderMessageID: p.GetProviderMessageId(),
		Message: store.Message{Direction: store.Outbound, Kind: "sent", InternetMessageID: p.GetInternetMessageId(),
			MessageAt: at, MailboxMessageID: p.GetMessageId()}}
	for _, to := range p.GetTo() {
		r.Message.To = append(r.Message.To, to.GetAddress())
	}
	for _, cc := range p.GetCc() {
		r.Message.Cc = append(r.Message.Cc, cc.GetAddress())
	}
	r.DedupeKey = dedupeKey(p.GetInternetMessageId(), p.GetIdempotencyKey())
	if id, ok := emailOfKey(p.GetIdempotencyKey()); ok {
		return l.emailSent(ctx, tx, orgID, id, p, r, at)
	}
	s, ok, err := l.steps.StepOf(ctx, tx, orgID, p.GetIdempotencyKey(), true)
	if err != nil || !ok {
		return err
	}
	r.CandidateID, r.SenderUserID = s.CandidateID, s.SenderUserID
	r.Message.From, r.Message.Subject, r.Message.BodyHTML = s.SenderEmail, s.Subject, s.HTMLBody
	if len(r.Message.To) == 0 && s.To != "" {
		r.Message.To = []string{s.To}
	}
	return l.record(ctx, tx, r)
}

// emailSent marks a one-off e-mail sent, logs it and moves a New
// candidate to Contacted, as a flow's first step does.
func (l *Log) emailSent(ctx context.Context, tx pgx.Tx, orgID, id string, p *mailboxv1.MessageSent, r store.MessageRecord, at time.Time) error {
	e, err := store.EmailTx(ctx, tx, orgID, id, "")
	if errors.Is(err, postgres.ErrNotFound) {
		return nil // purged with its candidate
	}
	if err != nil {
		return err
	}
	// The candidate's lock first, as everywhere else.
	if err := store.LockCandidate(ctx, tx, e.CandidateID); err != nil {
		return err
	}
	if e, err = store.EmailTx(ctx, tx, orgID, id, "FOR UPDATE"); err != nil {
		return err
	}
	r.CandidateID, r.SenderUserID, r.ConversationID = e.CandidateID, e.SenderUserID, e.ReplyConversationID
	r.Message.From, r.Message.Subject, r.Message.BodyHTML = e.SenderEmail, e.Subject, e.HTMLBody
	if len(r.Message.To) == 0 {
		r.Message.To = []string{e.ToAddress}
	}
	rec, err := l.recorder.RecordTx(ctx, tx, r)
	if errors.Is(err, store.ErrNotLive) {
		return nil // deleted meanwhile: nothing to log it on
	}
	if err != nil {
		return fmt.Errorf("log e-mail %s: %w", e.ID, err)
	}
	if e.State != store.EmailSent {
		e.State, e.SentAt, e.ConversationID = store.EmailSent, &at, rec.Conversation.ID
		e.MailboxMessageID, e.ProviderMessageID, e.InternetMessageID = p.GetMessageId(), p.GetProviderMessageId(), p.GetInternetMessageId()
		if _, err := store.WriteEmailTx(ctx, tx, e); err != nil {
			return err
		}
	}
	if _, err := store.AdvanceCandidate(ctx, tx, orgID, e.CandidateID, store.StageContacted,
		store.Move{Reason: reasonSent, Source: "user", Actor: e.CreatedBy}, l.stagePub); err != nil {
		return fmt.Errorf("move to %s: %w", store.StageContacted, err)
	}
	return nil
}

var inboundKinds = map[mailboxv1.InboundKind]string{
	mailboxv1.InboundKind_INBOUND_KIND_REPLY:      "reply",
	mailboxv1.InboundKind_INBOUND_KIND_AUTO_REPLY: "auto_reply",
	mailboxv1.InboundKind_INBOUND_KIND_BOUNCE:     "bounce",
}

// received logs an answer to a message Tandem sent (a flow step or a
// one-off e-mail); mail that answers nothing Tandem sent is not logged.
func (l *Log) received(ctx context.Context, tx pgx.Tx, orgID string, p *mailboxv1.MessageReceived) error {
	kind, ok := inboundKinds[p.GetKind()]
	key := p.GetSentIdempotencyKey()
	if !ok || key == "" {
		return nil
	}
	at := l.emails.now()
	if p.GetReceiveTime() != nil {
		at = p.GetReceiveTime().AsTime()
	}
	r := store.MessageRecord{OrgID: orgID, ProviderConversationID: p.GetConversationId(), MailboxConnectionID: p.GetConnectionId(),
		DedupeKey: dedupeKey(p.GetInternetMessageId(), "inbound:"+p.GetInboundMessageId()),
		Message: store.Message{Direction: store.Inbound, Kind: kind, From: p.GetFromAddress(), Subject: p.GetSubject(),
			Snippet: p.GetSnippet(), BodyText: p.GetSnippet(), InternetMessageID: p.GetInternetMessageId(), MessageAt: at,
			MailboxMessageID: p.GetInboundMessageId()}}
	id, isEmail := emailOfKey(key)
	if !isEmail {
		s, ok, err := l.steps.StepOf(ctx, tx, orgID, key, false)
		if err != nil || !ok {
			return err
		}
		r.CandidateID = s.CandidateID
		r.Message.MessageAt = notBefore(r.Message.MessageAt, s.LastSentAt)
		return l.record(ctx, tx, r)
	}
	e, err := store.EmailTx(ctx, tx, orgID, id, "")
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := store.LockCandidate(ctx, tx, e.CandidateID); err != nil {
		return err
	}
	r.CandidateID = e.CandidateID
	r.Message.MessageAt = notBefore(r.Message.MessageAt, e.SentAt)
	if e.ConversationID != "" {
		r.ConversationID = e.ConversationID
	}
	if err := l.record(ctx, tx, r); err != nil {
		return err
	}
	switch {
	case p.GetKind() == mailboxv1.InboundKind_INBOUND_KIND_REPLY:
		if _, err := store.AdvanceCandidate(ctx, tx, orgID, e.CandidateID, store.StageReplied,
			store.Move{Reason: reasonReplied, Source: "user"}, l.stagePub); err != nil {
			return fmt.Errorf("move to %s: %w", store.StageReplied, err)
		}
	case p.GetKind() == mailboxv1.InboundKind_INBOUND_KIND_BOUNCE && p.GetBouncePermanent():
		address := p.GetBouncedRecipient()
		if address == "" {
			address = e.ToAddress
		}
		return store.MarkUndeliverable(ctx, tx, orgID, address, "bounced")
	}
	return nil
}

func (l *Log) record(ctx context.Context, tx pgx.Tx, r store.MessageRecord) error {
	_, err := l.recorder.RecordTx(ctx, tx, r)
	if errors.Is(err, store.ErrNotLive) || errors.Is(err, postgres.ErrNotFound) {
		return nil // the candidate is deleted: nothing to log it on
	}
	return err
}

// dedupeKey is the message's Message-ID, else the key of what made it;
// prefixed as conversations does, so the two cannot collide.
func dedupeKey(internetMessageID, key string) string {
	if internetMessageID != "" {
		return "mid:" + internetMessageID
	}
	return "key:" + key
}

// notBefore keeps an answer after what it answers in its thread: Graph
// gives received times to the second, so a reply within the second of
// the send would otherwise sort before it.
func notBefore(at time.Time, sent *time.Time) time.Time {
	if sent != nil && at.Before(*sent) {
		return *sent
	}
	return at
}
