package inbound

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemhq/tandem/platform/postgres"
)

var tracer = otel.Tracer("github.com/tandemhq/tandem/services/mailbox/internal/inbound")

// Record is an inbound message as recorded.
type Record struct {
	ID                 string
	OrgID              string
	MailboxID          string
	GraphMessageID     string
	InternetMessageID  string
	ConversationID     string
	Kind               string
	Marker             string
	FromAddress        string
	Subject            string
	Snippet            string
	ReceivedAt         time.Time
	SentMessageID      string
	SentIdempotencyKey string
	MatchMethod        string
	BouncedRecipient   string
	BounceStatus       string
	BouncePermanent    bool
	DetectedBy         string
	CreatedAt          time.Time
}

// Undeliverable is an address an organization may no longer write to.
type Undeliverable struct {
	Address          string
	Status           string
	InboundMessageID string
	CreatedAt        time.Time
}

// Store keeps inbound messages, bounces and undeliverable addresses in
// Postgres.
type Store struct{ db *pgxpool.Pool }

// NewStore returns the store over db.
func NewStore(db *pgxpool.Pool) *Store { return &Store{db: db} }

func span(ctx context.Context, name string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "inbound.store."+name)
}

func end(sp trace.Span, err error) {
	if err != nil && !errors.Is(err, postgres.ErrNotFound) {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, "store call failed")
	}
	sp.End()
}

// InTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) (err error) {
	ctx, sp := span(ctx, "InTx")
	defer func() { end(sp, err) }()
	return postgres.MapError(pgx.BeginFunc(ctx, s.db, fn))
}

// WatchSince is when a mailbox's Inbox started being watched;
// postgres.ErrNotFound when it is not.
func (s *Store) WatchSince(ctx context.Context, mailboxID string) (_ time.Time, err error) {
	ctx, sp := span(ctx, "WatchSince")
	defer func() { end(sp, err) }()
	var t time.Time
	err = s.db.QueryRow(ctx, `SELECT watch_since FROM inbox_subscriptions WHERE mailbox_id = $1`, mailboxID).Scan(&t)
	return t, postgres.MapError(err)
}

// Known returns which of the internetMessageIds a mailbox has recorded.
func (s *Store) Known(ctx context.Context, mailboxID string, ids []string) (_ map[string]bool, err error) {
	ctx, sp := span(ctx, "Known")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT internet_message_id FROM inbound_messages
		WHERE mailbox_id = $1 AND internet_message_id = ANY($2)`, mailboxID, ids)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out := make(map[string]bool, len(list))
	for _, id := range list {
		out[id] = true
	}
	return out, nil
}

// Insert records an inbound message in tx unless the mailbox has its
// internetMessageId already; inserted says which. r.ID is set when empty.
func (s *Store) Insert(ctx context.Context, tx pgx.Tx, r *Record) (inserted bool, err error) {
	ctx, sp := span(ctx, "Insert")
	defer func() { end(sp, err) }()
	if r.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return false, err
		}
		r.ID = id.String()
	}
	tag, err := tx.Exec(ctx, `INSERT INTO inbound_messages (id, org_id, mailbox_id, graph_message_id, internet_message_id,
		conversation_id, kind, marker, from_address, subject, snippet, received_at, sent_message_id, sent_idempotency_key,
		match_method, bounced_recipient, bounce_status, bounce_permanent, detected_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (mailbox_id, internet_message_id) DO NOTHING`,
		r.ID, r.OrgID, r.MailboxID, r.GraphMessageID, r.InternetMessageID, r.ConversationID, r.Kind, r.Marker, r.FromAddress,
		r.Subject, r.Snippet, r.ReceivedAt, r.SentMessageID, r.SentIdempotencyKey, r.MatchMethod, r.BouncedRecipient,
		r.BounceStatus, r.BouncePermanent, r.DetectedBy)
	if err != nil {
		return false, postgres.MapError(err)
	}
	return tag.RowsAffected() == 1, nil
}

// RecordBounce records, in tx, that a sent message bounced for a
// recipient; a permanent bounce also makes the address undeliverable for
// the organization (the first bounce's row is kept).
func (s *Store) RecordBounce(ctx context.Context, tx pgx.Tx, r Record) (err error) {
	ctx, sp := span(ctx, "RecordBounce")
	defer func() { end(sp, err) }()
	if r.SentMessageID != "" {
		if _, err := tx.Exec(ctx, `INSERT INTO message_bounces (sent_message_id, recipient, org_id, permanent, status, inbound_message_id)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (sent_message_id, recipient) DO UPDATE SET permanent = message_bounces.permanent OR excluded.permanent`,
			r.SentMessageID, r.BouncedRecipient, r.OrgID, r.BouncePermanent, r.BounceStatus, r.ID); err != nil {
			return postgres.MapError(err)
		}
	}
	if !r.BouncePermanent {
		return nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO undeliverable_addresses (org_id, address, status, inbound_message_id, sent_message_id)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, address) DO NOTHING`,
		r.OrgID, r.BouncedRecipient, r.BounceStatus, r.ID, r.SentMessageID)
	return postgres.MapError(err)
}

// Undeliverable returns which of the addresses (lower case) the
// organization may no longer write to.
func (s *Store) Undeliverable(ctx context.Context, orgID string, addresses []string) (_ []Undeliverable, err error) {
	ctx, sp := span(ctx, "Undeliverable")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT address, status, inbound_message_id::text, created_at FROM undeliverable_addresses
		WHERE org_id = $1 AND address = ANY($2) ORDER BY address`, orgID, addresses)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Undeliverable, error) {
		var u Undeliverable
		return u, r.Scan(&u.Address, &u.Status, &u.InboundMessageID, &u.CreatedAt)
	})
	return out, postgres.MapError(err)
}

// Bounced says whether a sent message bounced, and for good, for any
// recipient.
func (s *Store) Bounced(ctx context.Context, sentMessageID string) (bounced, permanent bool, err error) {
	ctx, sp := span(ctx, "Bounced")
	defer func() { end(sp, err) }()
	err = s.db.QueryRow(ctx, `SELECT count(*) > 0, coalesce(bool_or(permanent), false) FROM message_bounces
		WHERE sent_message_id = $1`, sentMessageID).Scan(&bounced, &permanent)
	return bounced, permanent, postgres.MapError(err)
}

const recordColumns = `id::text, org_id::text, mailbox_id::text, graph_message_id, internet_message_id, conversation_id, kind,
	marker, from_address, subject, snippet, received_at, sent_message_id, sent_idempotency_key, match_method,
	bounced_recipient, bounce_status, bounce_permanent, detected_by, created_at`

func scanRecord(row pgx.Row) (Record, error) {
	var r Record
	err := row.Scan(&r.ID, &r.OrgID, &r.MailboxID, &r.GraphMessageID, &r.InternetMessageID, &r.ConversationID, &r.Kind,
		&r.Marker, &r.FromAddress, &r.Subject, &r.Snippet, &r.ReceivedAt, &r.SentMessageID, &r.SentIdempotencyKey,
		&r.MatchMethod, &r.BouncedRecipient, &r.BounceStatus, &r.BouncePermanent, &r.DetectedBy, &r.CreatedAt)
	return r, postgres.MapError(err)
}

// Position is where a page of inbound messages starts: after this
// message, newest first.
type Position struct {
	ReceivedAt time.Time
	ID         string
}

// List returns a mailbox's inbound messages, newest first, after pos
// (zero: from the newest).
func (s *Store) List(ctx context.Context, orgID, mailboxID string, pos Position, limit int) (_ []Record, err error) {
	ctx, sp := span(ctx, "List")
	defer func() { end(sp, err) }()
	var rows pgx.Rows
	if pos.ID == "" {
		rows, err = s.db.Query(ctx, `SELECT `+recordColumns+` FROM inbound_messages WHERE org_id = $1 AND mailbox_id = $2
			ORDER BY received_at DESC, id DESC LIMIT $3`, orgID, mailboxID, limit)
	} else {
		rows, err = s.db.Query(ctx, `SELECT `+recordColumns+` FROM inbound_messages WHERE org_id = $1 AND mailbox_id = $2
			AND (received_at, id) < ($3, $4::uuid) ORDER BY received_at DESC, id DESC LIMIT $5`, orgID, mailboxID, pos.ReceivedAt, pos.ID, limit)
	}
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) { return scanRecord(r) })
	return out, postgres.MapError(err)
}

// Count is how many inbound messages a mailbox has recorded.
func (s *Store) Count(ctx context.Context, mailboxID string) (n int64, err error) {
	ctx, sp := span(ctx, "Count")
	defer func() { end(sp, err) }()
	err = s.db.QueryRow(ctx, `SELECT count(*) FROM inbound_messages WHERE mailbox_id = $1`, mailboxID).Scan(&n)
	return n, postgres.MapError(err)
}

// MailboxOfUser returns the id of a user's mailbox (the newest, should
// there be several connections); postgres.ErrNotFound when there is none.
func (s *Store) MailboxOfUser(ctx context.Context, orgID, userID string) (_ string, err error) {
	ctx, sp := span(ctx, "MailboxOfUser")
	defer func() { end(sp, err) }()
	if _, err := uuid.Parse(userID); err != nil {
		return "", postgres.ErrNotFound
	}
	var id string
	err = s.db.QueryRow(ctx, `SELECT id::text FROM mailboxes WHERE org_id = $1 AND user_id = $2
		ORDER BY updated_at DESC LIMIT 1`, orgID, userID).Scan(&id)
	return id, postgres.MapError(err)
}

// Subscription returns a mailbox's subscription status and expiry and its
// last catch-up; postgres.ErrNotFound when it is not watched.
func (s *Store) Subscription(ctx context.Context, mailboxID string) (status string, expires, caughtUp *time.Time, err error) {
	ctx, sp := span(ctx, "Subscription")
	defer func() { end(sp, err) }()
	err = s.db.QueryRow(ctx, `SELECT status, expires_at, last_catch_up_at FROM inbox_subscriptions WHERE mailbox_id = $1`,
		mailboxID).Scan(&status, &expires, &caughtUp)
	return status, expires, caughtUp, postgres.MapError(err)
}
