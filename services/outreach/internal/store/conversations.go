package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Timeline entry kinds of messages.
const (
	KindMessageSent     = "message_sent"
	KindMessageReceived = "message_received"
)

// Message directions.
const (
	Outbound = "outbound"
	Inbound  = "inbound"
)

// ErrConversationNotFound is a message recorded to a conversation the
// candidate does not have.
var ErrConversationNotFound = errors.New("conversation not found")

// Conversation is a thread of messages with a candidate.
type Conversation struct {
	ID                     string
	OrgID                  string
	CandidateID            string
	Subject                string
	MailboxConnectionID    string
	SenderUserID           string
	ProviderConversationID string
	CreatedAt              time.Time
	LastMessageAt          time.Time
	MessageCount           int
}

// Message is one message of a conversation.
type Message struct {
	ID                string
	OrgID             string
	ConversationID    string
	Direction         string
	Kind              string // sent, reply, auto_reply, bounce
	From              string
	To                []string
	Cc                []string
	Subject           string
	BodyText          string
	BodyHTML          string
	Snippet           string
	InternetMessageID string
	InReplyTo         string
	// MessageAt is when it was sent or received.
	MessageAt        time.Time
	MailboxMessageID string
	CreatedAt        time.Time
}

// MessageRecord is a message to record and where it belongs.
type MessageRecord struct {
	OrgID       string
	CandidateID string
	// ConversationID names the thread; else ProviderConversationID (in
	// the mailbox), else the message Message.InReplyTo names, else a new
	// thread.
	ConversationID         string
	ProviderConversationID string
	MailboxConnectionID    string
	SenderUserID           string
	// DedupeKey makes recording the message again a no-op.
	DedupeKey string
	// ProviderMessageID is the mailbox provider's id of a sent message,
	// which a later reply in the thread answers.
	ProviderMessageID string
	Message           Message
}

// MessageLogged is what recording a message publishes.
type MessageLogged struct {
	Conversation Conversation
	Message      Message
}

// PublishMessage is called inside the transaction that records a message;
// its error rolls it back.
type PublishMessage func(ctx context.Context, tx pgx.Tx, m MessageLogged) error

const conversationColumns = `id::text, org_id::text, candidate_id::text, subject, mailbox_connection_id, sender_user_id,
	coalesce(provider_conversation_id, ''), created_at, last_message_at, message_count`

func scanConversation(row pgx.Row) (Conversation, error) {
	var c Conversation
	err := row.Scan(&c.ID, &c.OrgID, &c.CandidateID, &c.Subject, &c.MailboxConnectionID, &c.SenderUserID,
		&c.ProviderConversationID, &c.CreatedAt, &c.LastMessageAt, &c.MessageCount)
	return c, postgres.MapError(err)
}

const messageColumns = `id::text, org_id::text, conversation_id::text, direction, kind, from_address, to_addresses, cc_addresses,
	subject, body_text, body_html, snippet, internet_message_id, in_reply_to, message_at, mailbox_message_id, created_at`

func scanMessage(row pgx.Row) (Message, error) {
	var m Message
	err := row.Scan(&m.ID, &m.OrgID, &m.ConversationID, &m.Direction, &m.Kind, &m.From, &m.To, &m.Cc,
		&m.Subject, &m.BodyText, &m.BodyHTML, &m.Snippet, &m.InternetMessageID, &m.InReplyTo, &m.MessageAt, &m.MailboxMessageID, &m.CreatedAt)
	return m, postgres.MapError(err)
}

// errRecordedMeanwhile rolls back a recording that lost the race to record
// the same message.
var errRecordedMeanwhile = errors.New("message recorded meanwhile")

// RecordMessage records a message of a live candidate of the organization
// (a merged id: its survivor) and reports whether it is new. A message
// whose dedupe key or internet message id was recorded before is returned
// as it was, with its conversation, and nothing changes. A new message
// goes into its thread (ErrConversationNotFound when the one named is not
// the candidate's), on the candidate's timeline, and publish runs last.
func (s *Store) RecordMessage(ctx context.Context, r MessageRecord, publish PublishMessage) (_ Conversation, _ Message, created bool, err error) {
	ctx, sp := span(ctx, "RecordMessage")
	defer func() { end(sp, err) }()
	var conv Conversation
	var msg Message
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		conv, msg, created, err = recordMessage(ctx, tx, r, publish)
		return err
	})
	if errors.Is(err, errRecordedMeanwhile) {
		return s.recorded(ctx, r)
	}
	if err != nil {
		return Conversation{}, Message{}, false, err
	}
	return conv, msg, created, nil
}

// RecordMessageTx is RecordMessage inside the caller's transaction (an
// event's handler), in a savepoint: a message recorded meanwhile for
// another candidate undoes only what this call did.
func RecordMessageTx(ctx context.Context, tx pgx.Tx, r MessageRecord, publish PublishMessage) (conv Conversation, msg Message, created bool, err error) {
	err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		var err error
		conv, msg, created, err = recordMessage(ctx, sp, r, publish)
		return err
	})
	if errors.Is(err, errRecordedMeanwhile) {
		if msg, err = recordedMessage(ctx, tx, r.OrgID, r.DedupeKey, r.Message.InternetMessageID); err != nil {
			return Conversation{}, Message{}, false, err
		}
		conv, err = scanConversation(tx.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = $1`, msg.ConversationID))
		return conv, msg, false, err
	}
	return conv, msg, created, err
}

// recordMessage is RecordMessage's work in tx.
func recordMessage(ctx context.Context, tx pgx.Tx, r MessageRecord, publish PublishMessage) (conv Conversation, msg Message, created bool, err error) {
	err = func() error {
		// The candidate's row lock serialises its messages: a thread is
		// found or made once, and a repeat committed meanwhile is seen.
		c, err := candidate(ctx, tx, r.OrgID, r.CandidateID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if !c.Live() {
			return ErrNotLive
		}
		if msg, err = recordedMessage(ctx, tx, r.OrgID, r.DedupeKey, r.Message.InternetMessageID); err == nil {
			conv, err = scanConversation(tx.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = $1`, msg.ConversationID))
			return err
		} else if !errors.Is(err, postgres.ErrNotFound) {
			return err
		}
		if conv, err = threadOf(ctx, tx, c.ID, r); err != nil {
			return err
		}
		id, err := newID()
		if err != nil {
			return err
		}
		m := r.Message
		msg, err = scanMessage(tx.QueryRow(ctx, `INSERT INTO conversation_messages (id, org_id, conversation_id, direction, kind, from_address, to_addresses, cc_addresses,
				subject, body_text, body_html, snippet, internet_message_id, in_reply_to, message_at, mailbox_message_id, dedupe_key, provider_message_id, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, now())
			ON CONFLICT DO NOTHING RETURNING `+messageColumns,
			id, r.OrgID, conv.ID, m.Direction, m.Kind, m.From, nonNil(m.To), nonNil(m.Cc), m.Subject, m.BodyText, m.BodyHTML, m.Snippet,
			m.InternetMessageID, m.InReplyTo, m.MessageAt, m.MailboxMessageID, r.DedupeKey, r.ProviderMessageID))
		if errors.Is(err, postgres.ErrNotFound) {
			// Recorded for another candidate meanwhile (the key is unique
			// per organization): undo the thread this made.
			return errRecordedMeanwhile
		}
		if err != nil {
			return err
		}
		if conv, err = scanConversation(tx.QueryRow(ctx, `UPDATE conversations SET last_message_at = greatest(last_message_at, $2),
				message_count = message_count + 1, subject = CASE WHEN subject = '' THEN $3 ELSE subject END
			WHERE id = $1 RETURNING `+conversationColumns, conv.ID, msg.MessageAt, msg.Subject)); err != nil {
			return err
		}
		kind, actor := KindMessageReceived, ""
		if msg.Direction == Outbound {
			kind, actor = KindMessageSent, r.SenderUserID
		}
		if err := addEntry(ctx, tx, r.OrgID, c.ID, kind, actor, map[string]string{
			"conversation_id": conv.ID, "message_id": msg.ID, "message_kind": msg.Kind,
		}); err != nil {
			return err
		}
		created = true
		return publish(ctx, tx, MessageLogged{Conversation: conv, Message: msg})
	}()
	return conv, msg, created, err
}

// recorded reads a message recorded before, with its conversation.
func (s *Store) recorded(ctx context.Context, r MessageRecord) (Conversation, Message, bool, error) {
	var conv Conversation
	var msg Message
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if msg, err = recordedMessage(ctx, tx, r.OrgID, r.DedupeKey, r.Message.InternetMessageID); err != nil {
			return err
		}
		conv, err = scanConversation(tx.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = $1`, msg.ConversationID))
		return err
	})
	return conv, msg, false, err
}

func recordedMessage(ctx context.Context, tx pgx.Tx, orgID, key, internetID string) (Message, error) {
	// Two arms, one per unique index; the literal <> '' lets the second use
	// its partial index.
	return scanMessage(tx.QueryRow(ctx, `(SELECT `+messageColumns+` FROM conversation_messages WHERE org_id = $1 AND dedupe_key = $2)
		UNION ALL (SELECT `+messageColumns+` FROM conversation_messages WHERE org_id = $1 AND internet_message_id = $3 AND internet_message_id <> '')
		LIMIT 1`, orgID, key, internetID))
}

// threadOf finds or makes the conversation of candidate candidateID that a
// new message of r goes into, locked.
func threadOf(ctx context.Context, tx pgx.Tx, candidateID string, r MessageRecord) (Conversation, error) {
	if r.ConversationID != "" {
		if !isUUID(r.ConversationID) {
			return Conversation{}, ErrConversationNotFound
		}
		c, err := scanConversation(tx.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations
			WHERE org_id = $1 AND id = $2 AND candidate_id = $3 FOR UPDATE`, r.OrgID, r.ConversationID, candidateID))
		if errors.Is(err, postgres.ErrNotFound) {
			return Conversation{}, ErrConversationNotFound
		}
		return c, err
	}
	if r.ProviderConversationID != "" {
		c, err := scanConversation(tx.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations
			WHERE org_id = $1 AND candidate_id = $2 AND mailbox_connection_id = $3 AND provider_conversation_id = $4
			ORDER BY last_message_at DESC LIMIT 1 FOR UPDATE`, r.OrgID, candidateID, r.MailboxConnectionID, r.ProviderConversationID))
		if !errors.Is(err, postgres.ErrNotFound) {
			return c, err
		}
	}
	if r.Message.InReplyTo != "" {
		c, err := scanConversation(tx.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations
			WHERE id = (SELECT conversation_id FROM conversation_messages WHERE org_id = $1 AND internet_message_id = $2 AND internet_message_id <> '')
			  AND candidate_id = $3 FOR UPDATE`, r.OrgID, r.Message.InReplyTo, candidateID))
		if !errors.Is(err, postgres.ErrNotFound) {
			return c, err
		}
	}
	id, err := newID()
	if err != nil {
		return Conversation{}, err
	}
	return scanConversation(tx.QueryRow(ctx, `INSERT INTO conversations (id, org_id, candidate_id, subject, mailbox_connection_id, sender_user_id, provider_conversation_id, created_at, last_message_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8) RETURNING `+conversationColumns,
		id, r.OrgID, candidateID, r.Message.Subject, r.MailboxConnectionID, r.SenderUserID, nullable(r.ProviderConversationID), r.Message.MessageAt))
}

// TimeCursor is the position after the last row of a page ordered by a time
// and then the id.
type TimeCursor struct {
	At time.Time
	ID string
}

// Conversations returns at most limit conversations of a candidate of the
// organization (a merged id: its survivor's), newest activity first, after
// the cursor (nil: from the start).
func (s *Store) Conversations(ctx context.Context, orgID, candidateID string, after *TimeCursor, limit int) (_ []Conversation, err error) {
	ctx, sp := span(ctx, "Conversations")
	defer func() { end(sp, err) }()
	c, err := candidate(ctx, s.db, orgID, candidateID, "")
	if err != nil {
		return nil, err
	}
	var at *time.Time
	var afterID *string
	if after != nil {
		if !isUUID(after.ID) {
			return nil, ErrBadCursor
		}
		at, afterID = &after.At, &after.ID
	}
	rows, err := s.db.Query(ctx, `SELECT `+conversationColumns+` FROM conversations
		WHERE org_id = $1 AND candidate_id = $2 AND ($3::timestamptz IS NULL OR (last_message_at, id) < ($3, $4::uuid))
		ORDER BY last_message_at DESC, id DESC LIMIT $5`, orgID, c.ID, at, afterID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conversation, error) { return scanConversation(r) })
	return out, postgres.MapError(err)
}

// ErrBadCursor is a page cursor that names no row.
var ErrBadCursor = errors.New("cursor names no row")

// Conversation returns a conversation of the organization.
func (s *Store) Conversation(ctx context.Context, orgID, id string) (_ Conversation, err error) {
	ctx, sp := span(ctx, "Conversation")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Conversation{}, postgres.ErrNotFound
	}
	return scanConversation(s.db.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE org_id = $1 AND id = $2`, orgID, id))
}

// Messages returns at most limit messages of a conversation of the
// organization, oldest first, after the cursor (nil: from the start).
func (s *Store) Messages(ctx context.Context, orgID, conversationID string, after *TimeCursor, limit int) (_ []Message, err error) {
	ctx, sp := span(ctx, "Messages")
	defer func() { end(sp, err) }()
	if !isUUID(conversationID) {
		return nil, postgres.ErrNotFound
	}
	var at *time.Time
	var afterID *string
	if after != nil {
		if !isUUID(after.ID) {
			return nil, ErrBadCursor
		}
		at, afterID = &after.At, &after.ID
	}
	rows, err := s.db.Query(ctx, `SELECT `+messageColumns+` FROM conversation_messages
		WHERE org_id = $1 AND conversation_id = $2 AND ($3::timestamptz IS NULL OR (message_at, id) > ($3, $4::uuid))
		ORDER BY message_at, id LIMIT $5`, orgID, conversationID, at, afterID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) { return scanMessage(r) })
	return out, postgres.MapError(err)
}

// LastProviderMessageIDTx returns the provider id of the newest message of
// a conversation of the candidate that has one (what a reply in its thread
// answers), and the conversation's mailbox; postgres.ErrNotFound when the
// conversation is not the candidate's, "" when none of its messages has one.
func LastProviderMessageIDTx(ctx context.Context, tx pgx.Tx, orgID, candidateID, conversationID string) (providerID string, err error) {
	if !isUUID(conversationID) {
		return "", postgres.ErrNotFound
	}
	var found bool
	err = tx.QueryRow(ctx, `SELECT true, coalesce((SELECT m.provider_message_id FROM conversation_messages m
			WHERE m.conversation_id = c.id AND m.provider_message_id <> '' ORDER BY m.message_at DESC, m.id DESC LIMIT 1), '')
		FROM conversations c WHERE c.org_id = $1 AND c.id = $2 AND c.candidate_id = $3`, orgID, conversationID, candidateID).Scan(&found, &providerID)
	return providerID, postgres.MapError(err)
}
