package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// States of a one-off e-mail.
const (
	EmailPending   = "pending"
	EmailQueued    = "queued"
	EmailSent      = "sent"
	EmailCancelled = "cancelled"
	EmailFailed    = "failed"
)

// CandidateEmail is a recruiter's one-off e-mail to a candidate.
type CandidateEmail struct {
	ID                  string
	OrgID               string
	CandidateID         string
	RequestID           string
	CreatedBy           string
	MailboxConnectionID string
	SenderUserID        string
	SenderEmail         string
	ToAddress           string
	ToName              string
	Subject             string
	HTMLBody            string
	SendAt              *time.Time
	ReplyConversationID string
	// ReplyToProviderID is the provider id of the message it answers.
	ReplyToProviderID string
	State             string
	MailboxMessageID  string
	ConversationID    string
	ProviderMessageID string
	InternetMessageID string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	SentAt            *time.Time
}

const emailColumns = `id::text, org_id::text, candidate_id::text, request_id, created_by, mailbox_connection_id, sender_user_id, sender_email,
	to_address, to_name, subject, html_body, send_at, coalesce(reply_conversation_id::text, ''), reply_to_provider_id, state,
	mailbox_message_id, coalesce(conversation_id::text, ''), provider_message_id, internet_message_id, created_at, updated_at, sent_at`

func scanEmail(row pgx.Row) (CandidateEmail, error) {
	var e CandidateEmail
	err := row.Scan(&e.ID, &e.OrgID, &e.CandidateID, &e.RequestID, &e.CreatedBy, &e.MailboxConnectionID, &e.SenderUserID, &e.SenderEmail,
		&e.ToAddress, &e.ToName, &e.Subject, &e.HTMLBody, &e.SendAt, &e.ReplyConversationID, &e.ReplyToProviderID, &e.State,
		&e.MailboxMessageID, &e.ConversationID, &e.ProviderMessageID, &e.InternetMessageID, &e.CreatedAt, &e.UpdatedAt, &e.SentAt)
	return e, postgres.MapError(err)
}

// EmailByRequestTx returns the e-mail a user's request id made;
// postgres.ErrNotFound when none.
func EmailByRequestTx(ctx context.Context, tx pgx.Tx, orgID, createdBy, requestID string) (CandidateEmail, error) {
	return scanEmail(tx.QueryRow(ctx, `SELECT `+emailColumns+` FROM candidate_emails_sent
		WHERE org_id = $1 AND created_by = $2 AND request_id = $3`, orgID, createdBy, requestID))
}

// InsertEmailTx stores a new e-mail, pending. A request id used meanwhile
// is postgres.ErrConflict.
func InsertEmailTx(ctx context.Context, tx pgx.Tx, e CandidateEmail) (CandidateEmail, error) {
	id, err := newID()
	if err != nil {
		return CandidateEmail{}, err
	}
	return scanEmail(tx.QueryRow(ctx, `INSERT INTO candidate_emails_sent (id, org_id, candidate_id, request_id, created_by, mailbox_connection_id,
			sender_user_id, sender_email, to_address, to_name, subject, html_body, send_at, reply_conversation_id, reply_to_provider_id, state,
			created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'pending', now(), now()) RETURNING `+emailColumns,
		id, e.OrgID, e.CandidateID, e.RequestID, e.CreatedBy, e.MailboxConnectionID, e.SenderUserID, e.SenderEmail, e.ToAddress, e.ToName,
		e.Subject, e.HTMLBody, e.SendAt, nullable(e.ReplyConversationID), e.ReplyToProviderID))
}

// EmailTx reads an e-mail of the organization, with lock appended ("FOR
// UPDATE" or "").
func EmailTx(ctx context.Context, tx pgx.Tx, orgID, id, lock string) (CandidateEmail, error) {
	if !isUUID(id) {
		return CandidateEmail{}, postgres.ErrNotFound
	}
	return scanEmail(tx.QueryRow(ctx, `SELECT `+emailColumns+` FROM candidate_emails_sent WHERE org_id = $1 AND id = $2 `+lock, orgID, id))
}

// WriteEmailTx stores an e-mail's state and what mailbox said of it.
func WriteEmailTx(ctx context.Context, tx pgx.Tx, e CandidateEmail) (CandidateEmail, error) {
	return scanEmail(tx.QueryRow(ctx, `UPDATE candidate_emails_sent SET state = $2, mailbox_message_id = $3, conversation_id = $4,
			provider_message_id = $5, internet_message_id = $6, sent_at = $7, updated_at = now()
		WHERE id = $1 RETURNING `+emailColumns,
		e.ID, e.State, e.MailboxMessageID, nullable(e.ConversationID), e.ProviderMessageID, e.InternetMessageID, e.SentAt))
}

// Email reads an e-mail of the organization.
func (s *Store) Email(ctx context.Context, orgID, id string) (_ CandidateEmail, err error) {
	ctx, sp := span(ctx, "Email")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return CandidateEmail{}, postgres.ErrNotFound
	}
	return scanEmail(s.db.QueryRow(ctx, `SELECT `+emailColumns+` FROM candidate_emails_sent WHERE org_id = $1 AND id = $2`, orgID, id))
}

// Emails returns at most limit e-mails of a candidate of the organization
// (a merged id: its survivor's), newest first, after the cursor (nil: from
// the start).
func (s *Store) Emails(ctx context.Context, orgID, candidateID string, after *TimeCursor, limit int) (_ []CandidateEmail, err error) {
	ctx, sp := span(ctx, "Emails")
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
	rows, err := s.db.Query(ctx, `SELECT `+emailColumns+` FROM candidate_emails_sent
		WHERE org_id = $1 AND candidate_id = $2 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
		ORDER BY created_at DESC, id DESC LIMIT $5`, orgID, c.ID, at, afterID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CandidateEmail, error) { return scanEmail(r) })
	return out, postgres.MapError(err)
}
