package inbound

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/mailbox/internal/match"
)

// SentLogDB reads the send pipeline's messages table for matching: what a
// mailbox sent (or may have: a send in flight), with its Message-ID and
// conversation. Only this package reads it for that, so the queries live
// here; the table is the sending side's.
type SentLogDB struct{ db *pgxpool.Pool }

// NewSentLog returns the log over db.
func NewSentLog(db *pgxpool.Pool) *SentLogDB { return &SentLogDB{db: db} }

// sentColumns reads a message for matching; recipients lower case, as
// match.Address writes them.
const sentColumns = `id::text, idempotency_key, internet_message_id, conversation_id,
	coalesce((SELECT array_agg(DISTINCT lower(r->>'address')) FROM jsonb_array_elements(to_recipients || cc_recipients) r), '{}'),
	coalesce(sent_at, send_attempted_at, created_at)`

// sentStates are the messages that may have left.
const sentStates = `state IN ('sending', 'sent')`

func scanSent(row pgx.CollectableRow) (match.Sent, error) {
	var s match.Sent
	err := row.Scan(&s.ID, &s.IdempotencyKey, &s.InternetMessageID, &s.ConversationID, &s.Recipients, &s.SentAt)
	return s, err
}

func (l *SentLogDB) list(ctx context.Context, name, query string, args ...any) (_ []match.Sent, err error) {
	ctx, sp := span(ctx, "SentLog."+name)
	defer func() { end(sp, err) }()
	rows, err := l.db.Query(ctx, query, args...)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, scanSent)
	return out, postgres.MapError(err)
}

// SentInConversation implements SentLog.
func (l *SentLogDB) SentInConversation(ctx context.Context, mailboxID, conversationID string) ([]match.Sent, error) {
	return l.list(ctx, "SentInConversation", `SELECT `+sentColumns+` FROM messages
		WHERE mailbox_id = $1 AND conversation_id = $2 AND conversation_id <> '' AND `+sentStates+`
		ORDER BY created_at DESC LIMIT 100`, mailboxID, conversationID)
}

// SentWithInternetIDs implements SentLog.
func (l *SentLogDB) SentWithInternetIDs(ctx context.Context, mailboxID string, ids []string) ([]match.Sent, error) {
	return l.list(ctx, "SentWithInternetIDs", `SELECT `+sentColumns+` FROM messages
		WHERE mailbox_id = $1 AND internet_message_id = ANY($2) AND internet_message_id <> '' AND `+sentStates+`
		ORDER BY created_at DESC LIMIT 100`, mailboxID, ids)
}

// LastSentTo implements SentLog.
func (l *SentLogDB) LastSentTo(ctx context.Context, mailboxID, addr string) (match.Sent, bool, error) {
	list, err := l.list(ctx, "LastSentTo", `SELECT `+sentColumns+` FROM messages m
		WHERE mailbox_id = $1 AND `+sentStates+` AND EXISTS (
			SELECT 1 FROM jsonb_array_elements(m.to_recipients || m.cc_recipients) r WHERE lower(r->>'address') = $2)
		ORDER BY coalesce(sent_at, send_attempted_at, created_at) DESC LIMIT 1`, mailboxID, addr)
	if err != nil || len(list) == 0 {
		return match.Sent{}, false, errors.Join(err)
	}
	return list[0], true, nil
}
