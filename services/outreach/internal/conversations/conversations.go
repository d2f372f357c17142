// Package conversations holds the messages exchanged with candidates, in
// threads. The mailbox service and outreach's flows record them through an
// internal RPC, once each whatever the retries (by the caller's key or the
// message's Message-ID); each new message goes on the candidate's timeline
// and is published as `conversation.logged` in the same transaction.
// Recruiters and hiring managers read them.
package conversations

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/validate"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// EventLogged is the type of the event a new message publishes.
const EventLogged = "conversation.logged"

// Limits of a message and of lists.
const (
	MaxAddressLen   = 320
	MaxRecipients   = 100
	MaxSubjectLen   = 998 // RFC 5322's line limit
	MaxBodyBytes    = 1 << 20
	MaxSnippetLen   = 1000
	MaxHeaderIDLen  = 998
	MaxIDLen        = 200
	DefaultPageSize = 50
	MaxPageSize     = 200
)

const directionKindMsg = "does not go with the direction: outbound is sent; inbound is reply, auto_reply or bounce"

// Kinds of messages, by direction.
var kindsOf = map[string][]string{
	store.Outbound: {"sent"},
	store.Inbound:  {"reply", "auto_reply", "bounce"},
}

// Store is what the package needs of the store.
type Store interface {
	RecordMessage(ctx context.Context, r store.MessageRecord, publish store.PublishMessage) (store.Conversation, store.Message, bool, error)
	Conversations(ctx context.Context, orgID, candidateID string, after *store.TimeCursor, limit int) ([]store.Conversation, error)
	Conversation(ctx context.Context, orgID, id string) (store.Conversation, error)
	Messages(ctx context.Context, orgID, conversationID string, after *store.TimeCursor, limit int) ([]store.Message, error)
}

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// Conversations runs the rules over the store.
type Conversations struct {
	store Store
	pub   Publisher
	now   func() time.Time
}

// New returns the rules over st, publishing with pub; now is the clock
// (time.Now when nil).
func New(st Store, pub Publisher, now func() time.Time) *Conversations {
	if now == nil {
		now = time.Now
	}
	return &Conversations{store: st, pub: pub, now: now}
}

// Recorded is what recording a message did.
type Recorded struct {
	Conversation store.Conversation
	Message      store.Message
	// Created is false when the message had been recorded before.
	Created bool
}

// Record records a message exchanged with a candidate of the organization
// r.OrgID names; the caller is a service.
func (cs *Conversations) Record(ctx context.Context, r store.MessageRecord, idempotencyKey string) (Recorded, error) {
	r, err := check(r, idempotencyKey)
	if err != nil {
		return Recorded{}, err
	}
	conv, msg, created, err := cs.store.RecordMessage(ctx, r, cs.publish)
	switch {
	case errors.Is(err, store.ErrNotLive):
		return Recorded{}, apperr.FailedPrecondition("candidate_not_live", "the candidate is deleted").Wrap(err)
	case errors.Is(err, store.ErrConversationNotFound):
		return Recorded{}, apperr.NotFound("conversation").Wrap(err)
	case err != nil:
		return Recorded{}, err
	}
	return Recorded{Conversation: conv, Message: msg, Created: created}, nil
}

// RecordTx records, inside the caller's transaction (an event's handler),
// a message outreach itself vouches for: r is built by outreach, not read
// from a request, and r.DedupeKey is set. Recording it again is a no-op.
func (cs *Conversations) RecordTx(ctx context.Context, tx pgx.Tx, r store.MessageRecord) (Recorded, error) {
	conv, msg, created, err := store.RecordMessageTx(ctx, tx, r, cs.publish)
	if err != nil {
		return Recorded{}, err
	}
	return Recorded{Conversation: conv, Message: msg, Created: created}, nil
}

// check returns r checked, with its dedupe key, or the first bad field
// named.
func check(r store.MessageRecord, key string) (store.MessageRecord, error) {
	if uuid.Validate(r.OrgID) != nil || len(r.OrgID) != 36 {
		return r, apperr.InvalidArgument("organization_id", "must be an organization id")
	}
	if r.CandidateID == "" {
		return r, apperr.InvalidArgument("candidate_id", "is required")
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"conversation_id", &r.ConversationID}, {"provider_conversation_id", &r.ProviderConversationID},
		{"mailbox_connection_id", &r.MailboxConnectionID}, {"sender_user_id", &r.SenderUserID}, {"idempotency_key", &key}} {
		if err := optional(f.name, f.v, MaxIDLen); err != nil {
			return r, err
		}
	}
	m := &r.Message
	kinds, ok := kindsOf[m.Direction]
	if !ok {
		return r, apperr.InvalidArgument("message.direction", "is required: outbound or inbound")
	}
	if !slices.Contains(kinds, m.Kind) {
		return r, apperr.InvalidArgument("message.kind", directionKindMsg)
	}
	var err error
	if m.From, err = address("message.from", m.From); err != nil {
		return r, err
	}
	if len(m.To)+len(m.Cc) > MaxRecipients {
		return r, apperr.InvalidArgument("message.to", fmt.Sprintf("to and cc hold at most %d addresses", MaxRecipients))
	}
	for i := range m.To {
		if m.To[i], err = address(fmt.Sprintf("message.to[%d]", i), m.To[i]); err != nil {
			return r, err
		}
	}
	for i := range m.Cc {
		if m.Cc[i], err = address(fmt.Sprintf("message.cc[%d]", i), m.Cc[i]); err != nil {
			return r, err
		}
	}
	if err := optional("message.subject", &m.Subject, MaxSubjectLen); err != nil {
		return r, err
	}
	for _, b := range []struct {
		name string
		v    string
	}{{"message.body_text", m.BodyText}, {"message.body_html", m.BodyHTML}} {
		if !utf8.ValidString(b.v) || len(b.v) > MaxBodyBytes {
			return r, apperr.InvalidArgument(b.name, fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxBodyBytes))
		}
	}
	if !utf8.ValidString(m.Snippet) || utf8.RuneCountInString(m.Snippet) > MaxSnippetLen {
		return r, apperr.InvalidArgument("message.snippet", fmt.Sprintf("must be valid UTF-8 of at most %d characters", MaxSnippetLen))
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"message.internet_message_id", &m.InternetMessageID, MaxHeaderIDLen}, {"message.in_reply_to", &m.InReplyTo, MaxHeaderIDLen},
		{"message.mailbox_message_id", &m.MailboxMessageID, MaxIDLen}} {
		if err := optional(f.name, f.v, f.max); err != nil {
			return r, err
		}
	}
	if m.MessageAt.IsZero() {
		return r, apperr.InvalidArgument("message.message_time", "is required: when it was sent or received")
	}
	// Keys of callers and Message-IDs live in one column: prefixed, they
	// cannot collide.
	switch {
	case key != "":
		r.DedupeKey = "key:" + key
	case m.InternetMessageID != "":
		r.DedupeKey = "mid:" + m.InternetMessageID
	default:
		return r, apperr.InvalidArgument("idempotency_key", "is required when the message has no internet_message_id")
	}
	return r, nil
}

func optional(field string, v *string, maxLen int) error {
	if *v == "" {
		return nil
	}
	var err error
	*v, err = validate.Text(field, *v, maxLen)
	return err
}

// address checks one bare e-mail address.
func address(field, s string) (string, error) {
	s, err := validate.Text(field, s, MaxAddressLen)
	if err != nil {
		return "", err
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
		return "", apperr.InvalidArgument(field, "must be an e-mail address such as ada@example.com")
	}
	return s, nil
}

var directionToProto = map[string]outreachv1.MessageDirection{
	store.Outbound: outreachv1.MessageDirection_MESSAGE_DIRECTION_OUTBOUND,
	store.Inbound:  outreachv1.MessageDirection_MESSAGE_DIRECTION_INBOUND,
}

// KindToProto maps the kinds of messages to the API's.
var KindToProto = map[string]outreachv1.MessageKind{
	"sent":       outreachv1.MessageKind_MESSAGE_KIND_SENT,
	"reply":      outreachv1.MessageKind_MESSAGE_KIND_REPLY,
	"auto_reply": outreachv1.MessageKind_MESSAGE_KIND_AUTO_REPLY,
	"bounce":     outreachv1.MessageKind_MESSAGE_KIND_BOUNCE,
}

// publish is the store's callback. Each message is its own aggregate,
// published once, so unordered (version 0): versions per thread would let a
// receiver drop an earlier message delivered late as stale.
func (cs *Conversations) publish(ctx context.Context, tx pgx.Tx, l store.MessageLogged) error {
	c, m := l.Conversation, l.Message
	_, err := cs.pub.Publish(ctx, tx, events.Event{
		Type: EventLogged, OrganizationID: m.OrgID, AggregateID: m.ID, OccurredAt: cs.now(),
		Payload: &outreachv1.ConversationLogged{
			ConversationId: c.ID, MessageId: m.ID, CandidateId: c.CandidateID, Direction: directionToProto[m.Direction],
			Kind: KindToProto[m.Kind], Subject: m.Subject, From: m.From, To: m.To, BodyText: m.BodyText,
			InternetMessageId: m.InternetMessageID, MessageTime: timestamppb.New(m.MessageAt),
			MailboxConnectionId: c.MailboxConnectionID, SenderUserId: c.SenderUserID,
		},
	})
	return err
}

// Query is one page of a list.
type Query struct {
	// ID is the candidate (for List) or the conversation (for Get).
	ID        string
	PageSize  int
	PageToken string
}

type pageToken struct {
	Of    string    `json:"o"`
	At    time.Time `json:"t"`
	After string    `json:"a"`
}

// ConversationsPage is a page of a candidate's conversations.
type ConversationsPage struct {
	Conversations []store.Conversation
	NextPageToken string
}

// List returns a page of the conversations of a candidate of the
// organization, newest activity first.
func (cs *Conversations) List(ctx context.Context, orgID string, q Query) (ConversationsPage, error) {
	size, after, err := cursor(q)
	if err != nil {
		return ConversationsPage{}, err
	}
	found, err := cs.store.Conversations(ctx, orgID, q.ID, after, size+1)
	if errors.Is(err, store.ErrBadCursor) {
		return ConversationsPage{}, badToken(err)
	}
	if err != nil {
		return ConversationsPage{}, err
	}
	page := ConversationsPage{Conversations: found}
	if len(found) > size {
		page.Conversations = found[:size]
		last := page.Conversations[size-1]
		if page.NextPageToken, err = paging.Encode(pageToken{Of: q.ID, At: last.LastMessageAt, After: last.ID}); err != nil {
			return ConversationsPage{}, err
		}
	}
	return page, nil
}

// Thread is a conversation with a page of its messages.
type Thread struct {
	Conversation  store.Conversation
	Messages      []store.Message
	NextPageToken string
}

// Get returns a conversation of the organization with a page of its
// messages, oldest first.
func (cs *Conversations) Get(ctx context.Context, orgID string, q Query) (Thread, error) {
	size, after, err := cursor(q)
	if err != nil {
		return Thread{}, err
	}
	c, err := cs.store.Conversation(ctx, orgID, q.ID)
	if err != nil {
		return Thread{}, err
	}
	found, err := cs.store.Messages(ctx, orgID, c.ID, after, size+1)
	if errors.Is(err, store.ErrBadCursor) {
		return Thread{}, badToken(err)
	}
	if err != nil {
		return Thread{}, err
	}
	t := Thread{Conversation: c, Messages: found}
	if len(found) > size {
		t.Messages = found[:size]
		last := t.Messages[size-1]
		if t.NextPageToken, err = paging.Encode(pageToken{Of: q.ID, At: last.MessageAt, After: last.ID}); err != nil {
			return Thread{}, err
		}
	}
	return t, nil
}

func badToken(cause error) error {
	return apperr.InvalidArgument("page_token", "is not a token of this list").Wrap(cause)
}

// cursor reads the page size and token of q.
func cursor(q Query) (int, *store.TimeCursor, error) {
	size, err := paging.Size(q.PageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return 0, nil, err
	}
	if q.PageToken == "" {
		return size, nil, nil
	}
	t, err := paging.Decode[pageToken](q.PageToken)
	if err != nil || t.Of != q.ID {
		return 0, nil, paging.ErrBadToken
	}
	return size, &store.TimeCursor{At: t.At, ID: t.After}, nil
}
