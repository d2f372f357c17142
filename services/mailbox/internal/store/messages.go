package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Message states.
const (
	StateQueued    = "queued"
	StateDrafted   = "drafted"
	StateSending   = "sending"
	StateSent      = "sent"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Final reports whether a message in state s is done with.
func Final(s string) bool { return s == StateSent || s == StateFailed || s == StateCancelled }

// ErrStateChanged means a transition found the message in another state
// than it expected: another worker, or a cancel, got there first.
var ErrStateChanged = errors.New("store: the message is no longer in the expected state")

// Recipient is an address of a message.
type Recipient struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
}

// Message is a message to send.
type Message struct {
	ID                string
	OrgID             string
	MailboxID         string
	Seq               int64
	Caller            string
	IdempotencyKey    string
	RequestHash       []byte
	State             string
	To, Cc            []Recipient
	RecipientCount    int
	Subject           string
	HTMLBody          string
	ReplyToProviderID string
	SendAfter         time.Time
	JobID             *int64
	DraftStartedAt    *time.Time
	DraftID           string
	InternetMessageID string
	ConversationID    string
	SendAttemptedAt   *time.Time
	SentAt            *time.Time
	StatusReason      string
	MayHaveOrphans    bool
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

const messageColumns = `id::text, org_id::text, mailbox_id::text, seq, caller, idempotency_key, request_hash, state, to_recipients, cc_recipients,
	recipient_count, subject, html_body, reply_to_provider_id, send_after, job_id, draft_started_at, draft_id, internet_message_id,
	conversation_id, send_attempted_at, sent_at, status_reason, may_have_orphans, created_at, updated_at`

func scanMessage(row pgx.Row) (Message, error) {
	var m Message
	var raw messageJSON
	if err := row.Scan(messageDest(&m, &raw)...); err != nil {
		return Message{}, postgres.MapError(err)
	}
	return m, raw.decode(&m)
}

// messageJSON holds a message's recipients as scanned.
type messageJSON struct{ to, cc []byte }

// messageDest is where a row of messageColumns scans into.
func messageDest(m *Message, raw *messageJSON) []any {
	return []any{&m.ID, &m.OrgID, &m.MailboxID, &m.Seq, &m.Caller, &m.IdempotencyKey, &m.RequestHash, &m.State, &raw.to, &raw.cc,
		&m.RecipientCount, &m.Subject, &m.HTMLBody, &m.ReplyToProviderID, &m.SendAfter, &m.JobID, &m.DraftStartedAt, &m.DraftID,
		&m.InternetMessageID, &m.ConversationID, &m.SendAttemptedAt, &m.SentAt, &m.StatusReason, &m.MayHaveOrphans, &m.CreatedAt, &m.UpdatedAt}
}

func (raw messageJSON) decode(m *Message) error {
	if err := json.Unmarshal(raw.to, &m.To); err != nil {
		return fmt.Errorf("store: to_recipients: %w", err)
	}
	if err := json.Unmarshal(raw.cc, &m.Cc); err != nil {
		return fmt.Errorf("store: cc_recipients: %w", err)
	}
	return nil
}

func scanMessages(rows pgx.Rows, err error) ([]Message, error) {
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, postgres.MapError(rows.Err())
}

// QueueAhead reports, in tx, whether a message of the mailbox is ahead of
// one due at sendAfter that is not stored yet: on its way to Graph, or
// queued and due by then. Read after the caller's MailboxForSubmit, it is
// exact until tx ends (ADR 29).
func (s *Store) QueueAhead(ctx context.Context, tx pgx.Tx, mailboxID string, sendAfter time.Time) (_ bool, err error) {
	ctx, sp := span(ctx, "QueueAhead")
	defer func() { end(sp, err) }()
	var ahead bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE mailbox_id = $1 AND state IN ('queued', 'drafted', 'sending')
		AND (state <> 'queued' OR send_after <= $2))`, mailboxID, sendAfter).Scan(&ahead)
	return ahead, postgres.MapError(err)
}

// InsertMessage stores m in tx as queued, with its send job m.JobID,
// unless the caller's key made a message already: then it stores nothing
// and returns ErrConflict (the caller rolls back what it did in tx, and
// reads that message with MessageByKey).
func (s *Store) InsertMessage(ctx context.Context, tx pgx.Tx, m Message) (_ Message, err error) {
	ctx, sp := span(ctx, "InsertMessage")
	defer func() { end(sp, err) }()
	to, err := json.Marshal(m.To)
	if err != nil {
		return Message{}, err
	}
	cc, err := json.Marshal(m.Cc)
	if err != nil {
		return Message{}, err
	}
	out, err := scanMessage(tx.QueryRow(ctx, `INSERT INTO messages (id, org_id, mailbox_id, caller, idempotency_key, request_hash, state,
			to_recipients, cc_recipients, recipient_count, subject, html_body, reply_to_provider_id, send_after, job_id)
		VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (org_id, caller, idempotency_key) DO NOTHING
		RETURNING `+messageColumns,
		m.ID, m.OrgID, m.MailboxID, m.Caller, m.IdempotencyKey, m.RequestHash, to, cc, m.RecipientCount, m.Subject, m.HTMLBody,
		m.ReplyToProviderID, m.SendAfter, m.JobID))
	if errors.Is(err, postgres.ErrNotFound) {
		return Message{}, postgres.ErrConflict
	}
	return out, err
}

// MessageByKey returns the message a caller's idempotency key made.
func (s *Store) MessageByKey(ctx context.Context, orgID, caller, key string) (_ Message, err error) {
	ctx, sp := span(ctx, "MessageByKey")
	defer func() { end(sp, err) }()
	if !isUUID(orgID) {
		return Message{}, postgres.ErrNotFound
	}
	return scanMessage(s.db.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE org_id = $1 AND caller = $2 AND idempotency_key = $3`,
		orgID, caller, key))
}

// Message returns a message of the organization.
func (s *Store) Message(ctx context.Context, orgID, id string) (_ Message, err error) {
	ctx, sp := span(ctx, "Message")
	defer func() { end(sp, err) }()
	if !isUUID(id) || !isUUID(orgID) {
		return Message{}, postgres.ErrNotFound
	}
	return scanMessage(s.db.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE org_id = $1 AND id = $2`, orgID, id))
}

// MessageByID returns a message whatever its organization, for its job.
func (s *Store) MessageByID(ctx context.Context, id string) (_ Message, err error) {
	ctx, sp := span(ctx, "MessageByID")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Message{}, postgres.ErrNotFound
	}
	return scanMessage(s.db.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1`, id))
}

// MessageCursor is where a page of a mailbox's messages starts after.
type MessageCursor struct {
	CreatedAt time.Time
	ID        string
}

// ListMessages returns at most limit messages of a mailbox of the
// organization, newest first, after the cursor (nil: from the newest).
func (s *Store) ListMessages(ctx context.Context, orgID, mailboxID string, after *MessageCursor, limit int) (_ []Message, err error) {
	ctx, sp := span(ctx, "ListMessages")
	defer func() { end(sp, err) }()
	if !isUUID(orgID) || !isUUID(mailboxID) {
		return nil, nil
	}
	if after == nil {
		return scanMessages(s.db.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE org_id = $1 AND mailbox_id = $2
			ORDER BY created_at DESC, id DESC LIMIT $3`, orgID, mailboxID, limit))
	}
	return scanMessages(s.db.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE org_id = $1 AND mailbox_id = $2
		AND (created_at, id) < ($3, $4::uuid) ORDER BY created_at DESC, id DESC LIMIT $5`, orgID, mailboxID, after.CreatedAt, after.ID, limit))
}

// QueueHead is the message of a mailbox whose turn it is: the one already
// on its way to Graph (drafted or sending) if there is one, else the
// oldest queued message due at now. A message due later does not hold up
// the ones behind it.
func (s *Store) QueueHead(ctx context.Context, q pgx.Tx, mailboxID string, now time.Time) (_ Message, err error) {
	ctx, sp := span(ctx, "QueueHead")
	defer func() { end(sp, err) }()
	const sql = `SELECT ` + messageColumns + ` FROM messages WHERE mailbox_id = $1 AND state IN ('queued', 'drafted', 'sending')
		AND (state <> 'queued' OR send_after <= $2) ORDER BY (state = 'queued'), seq LIMIT 1`
	if q != nil {
		return scanMessage(q.QueryRow(ctx, sql, mailboxID, now))
	}
	return scanMessage(s.db.QueryRow(ctx, sql, mailboxID, now))
}

// Turn is what a message's send job reads before each step, in one
// statement: the message, its mailbox, which message's turn it is in the
// mailbox's queue, and, when the message is drafted or sending (about to
// be sent), what the mailbox attempted in the day before.
type Turn struct {
	Message Message
	Mailbox Mailbox
	// HeadID is the message whose turn it is at now (QueueHead); "" when
	// no message of the mailbox is due.
	HeadID string
	// Usage is UsageSince(mailbox, now - 24h, message) for a drafted or
	// sending message and one whose draft the read started, zero
	// otherwise.
	Usage DayUsage
	// DraftStarted says that the statement that read the Turn also started
	// the message's draft (StartDraft, at now): the message was queued and
	// its mailbox's head, and the mailbox connected. Message is as after.
	DraftStarted bool
}

// qualify prefixes each column of a column list with alias.
func qualify(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// turnSQL reads the Turn of message $1 at $2, starting its draft when it
// is queued, the head and its mailbox connected: what the job would do
// next with what it read.
var turnSQL = `WITH t AS (
		SELECT m.id, m.state, mb.status,
			coalesce((SELECT h.id::text FROM messages h WHERE h.mailbox_id = m.mailbox_id AND h.state IN ('queued', 'drafted', 'sending')
				AND (h.state <> 'queued' OR h.send_after <= $2) ORDER BY (h.state = 'queued'), h.seq LIMIT 1), '') AS head_id
		FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox_id WHERE m.id = $1
	), started AS (
		UPDATE messages SET may_have_orphans = messages.may_have_orphans OR messages.draft_started_at IS NOT NULL, draft_started_at = $2,
			status_reason = '', updated_at = now()
		FROM t WHERE messages.id = t.id AND messages.state = 'queued' AND t.state = 'queued' AND t.head_id = t.id::text AND t.status = 'connected'
		RETURNING messages.*
	)
	SELECT ` + qualify("m", messageColumns) + `, ` + qualify("mb", mailboxColumns) + `, (SELECT head_id FROM t),
		u.messages, u.recipients, u.latest, EXISTS (SELECT 1 FROM started)
	FROM (SELECT * FROM started UNION ALL SELECT * FROM messages WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM started)) AS m
	JOIN mailboxes mb ON mb.id = m.mailbox_id
	CROSS JOIN LATERAL (SELECT count(*) AS messages, coalesce(sum(a.recipient_count), 0) AS recipients, max(a.send_attempted_at) AS latest
		FROM messages a WHERE (m.state IN ('drafted', 'sending') OR EXISTS (SELECT 1 FROM started)) AND a.mailbox_id = m.mailbox_id
			AND a.send_attempted_at >= $3 AND a.state IN ('sending', 'sent') AND a.id <> m.id) AS u`

// Turn reads message id's Turn at now (and may start its draft, see
// Turn.DraftStarted); ErrNotFound when there is no such message.
func (s *Store) Turn(ctx context.Context, id string, now time.Time) (_ Turn, err error) {
	ctx, sp := span(ctx, "Turn")
	defer func() { end(sp, err) }()
	if !isUUID(id) {
		return Turn{}, postgres.ErrNotFound
	}
	return scanTurn(s.db.QueryRow(ctx, turnSQL, id, now, now.Add(-24*time.Hour)), true)
}

func scanTurn(row pgx.Row, withStart bool) (Turn, error) {
	var t Turn
	var raw messageJSON
	var gapMs int64
	dest := append(messageDest(&t.Message, &raw), mailboxDest(&t.Mailbox, &gapMs)...)
	dest = append(dest, &t.HeadID, &t.Usage.Messages, &t.Usage.Recipients, &t.Usage.Latest)
	if withStart {
		dest = append(dest, &t.DraftStarted)
	}
	if err := row.Scan(dest...); err != nil {
		return Turn{}, postgres.MapError(err)
	}
	t.Mailbox.MinGap = time.Duration(gapMs) * time.Millisecond
	if err := raw.decode(&t.Message); err != nil {
		return Turn{}, err
	}
	return t, nil
}

// transition updates one message from one of the states from, with set
// (SQL assignments over $2...) and args; ErrStateChanged when it was not
// in one of them.
func transition(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, id string, from []string, set string, args ...any) (Message, error) {
	all := append([]any{id, from}, args...)
	m, err := scanMessage(q.QueryRow(ctx, `UPDATE messages SET `+set+`, updated_at = now() WHERE id = $1 AND state = ANY($2)
		RETURNING `+messageColumns, all...))
	if errors.Is(err, postgres.ErrNotFound) {
		return Message{}, ErrStateChanged
	}
	return m, err
}

// RecordDraft moves a queued message to drafted with its draft, and
// returns its Turn after the move, read in the same statement: what the
// next step (the send) would read first.
func (s *Store) RecordDraft(ctx context.Context, id, draftID, internetMessageID, conversationID string, now time.Time) (_ Turn, err error) {
	ctx, sp := span(ctx, "RecordDraft")
	defer func() { end(sp, err) }()
	t, err := scanTurn(s.db.QueryRow(ctx, recordDraftSQL, id, now, now.Add(-24*time.Hour), draftID, internetMessageID, conversationID), false)
	if errors.Is(err, postgres.ErrNotFound) {
		return Turn{}, ErrStateChanged
	}
	return t, err
}

// recordDraftSQL is turnSQL over the message as updated: the statement's
// snapshot still has it queued, so the head is chosen as if it were on
// its way already.
var recordDraftSQL = `WITH d AS (
		UPDATE messages SET state = 'drafted', draft_id = $4, internet_message_id = $5, conversation_id = $6, updated_at = now()
		WHERE id = $1 AND state = 'queued' RETURNING *
	)
	SELECT ` + qualify("d", messageColumns) + `, ` + qualify("mb", mailboxColumns) + `,
		coalesce((SELECT h.id::text FROM messages h WHERE h.mailbox_id = d.mailbox_id AND (h.id = d.id OR h.state IN ('queued', 'drafted', 'sending')
			AND (h.state <> 'queued' OR h.send_after <= $2)) ORDER BY (h.id <> d.id AND h.state = 'queued'), h.seq LIMIT 1), ''),
		u.messages, u.recipients, u.latest
	FROM d JOIN mailboxes mb ON mb.id = d.mailbox_id
	CROSS JOIN LATERAL (SELECT count(*) AS messages, coalesce(sum(a.recipient_count), 0) AS recipients, max(a.send_attempted_at) AS latest
		FROM messages a WHERE a.mailbox_id = d.mailbox_id AND a.send_attempted_at >= $3
			AND a.state IN ('sending', 'sent') AND a.id <> d.id) AS u`

// DraftSending moves a queued message whose draft was just made straight
// to sending, recording the draft and the attempt together: the limits let
// it go at once, so it is recorded drafted and sending in one write, before
// send is called, as MarkSending would (ADR 29).
func (s *Store) DraftSending(ctx context.Context, id, draftID, internetMessageID, conversationID string, at time.Time) (_ Message, err error) {
	ctx, sp := span(ctx, "DraftSending")
	defer func() { end(sp, err) }()
	return transition(ctx, s.db, id, []string{StateQueued},
		`state = 'sending', draft_id = $3, internet_message_id = $4, conversation_id = $5, send_attempted_at = $6`,
		draftID, internetMessageID, conversationID, at)
}

// ForgetDraft moves a drafted message back to queued when its draft is
// gone (deleted in Outlook before it was sent): a new one is made.
func (s *Store) ForgetDraft(ctx context.Context, id string) (_ Message, err error) {
	ctx, sp := span(ctx, "ForgetDraft")
	defer func() { end(sp, err) }()
	return transition(ctx, s.db, id, []string{StateDrafted}, `state = 'queued', draft_id = '', internet_message_id = '', conversation_id = ''`)
}

// MarkSending records, before send is called, that it is: from now on the
// message may have left. A message in state sending already is taken over
// only if its attempt is still prevAttempt (a re-send after recovery), so
// two workers never both send.
func (s *Store) MarkSending(ctx context.Context, id string, prevAttempt *time.Time, at time.Time) (_ Message, err error) {
	ctx, sp := span(ctx, "MarkSending")
	defer func() { end(sp, err) }()
	if prevAttempt == nil {
		return transition(ctx, s.db, id, []string{StateDrafted}, `state = 'sending', send_attempted_at = $3`, at)
	}
	m, err := scanMessage(s.db.QueryRow(ctx, `UPDATE messages SET send_attempted_at = $2, updated_at = now()
		WHERE id = $1 AND state = 'sending' AND send_attempted_at = $3 RETURNING `+messageColumns, id, at, *prevAttempt))
	if errors.Is(err, postgres.ErrNotFound) {
		return Message{}, ErrStateChanged
	}
	return m, err
}

// SendRefused moves a sending message back to drafted when Graph refused
// the send (429): it certainly did not leave.
func (s *Store) SendRefused(ctx context.Context, id string, reason string) (_ Message, err error) {
	ctx, sp := span(ctx, "SendRefused")
	defer func() { end(sp, err) }()
	return transition(ctx, s.db, id, []string{StateSending}, `state = 'drafted', send_attempted_at = NULL, status_reason = $3`, reason)
}

// MarkSent records in tx that the message left, in one statement that
// also notes the mailbox's last send (and so takes the mailbox's lock, as
// LockMailbox does, before the caller looks for the next head).
func (s *Store) MarkSent(ctx context.Context, tx pgx.Tx, id string, at time.Time) (_ Message, err error) {
	ctx, sp := span(ctx, "MarkSent")
	defer func() { end(sp, err) }()
	m, err := scanMessage(tx.QueryRow(ctx, `WITH sent AS (
			UPDATE messages SET state = 'sent', sent_at = $2, status_reason = '', updated_at = now()
			WHERE id = $1 AND state = 'sending' RETURNING *
		), mailbox AS (
			UPDATE mailboxes SET last_sent_at = greatest(coalesce(mailboxes.last_sent_at, $2), $2) FROM sent WHERE mailboxes.id = sent.mailbox_id
		)
		SELECT `+qualify("sent", messageColumns)+` FROM sent`, id, at))
	if errors.Is(err, postgres.ErrNotFound) {
		return Message{}, ErrStateChanged
	}
	return m, err
}

// HeadJob is the send job of the message whose turn it is in a mailbox's
// queue at now (QueueHead's), nil when there is none: what the end of the
// message ahead wakes.
func (s *Store) HeadJob(ctx context.Context, tx pgx.Tx, mailboxID string, now time.Time) (_ *int64, err error) {
	ctx, sp := span(ctx, "HeadJob")
	defer func() { end(sp, err) }()
	var job *int64
	err = tx.QueryRow(ctx, `SELECT job_id FROM messages WHERE mailbox_id = $1 AND state IN ('queued', 'drafted', 'sending')
		AND (state <> 'queued' OR send_after <= $2) ORDER BY (state = 'queued'), seq LIMIT 1`, mailboxID, now).Scan(&job)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return job, postgres.MapError(err)
}

// MarkFailed records in tx that the message cannot be sent; a draft it
// had is left for the cleanup.
func (s *Store) MarkFailed(ctx context.Context, tx pgx.Tx, id, reason string, from ...string) (_ Message, err error) {
	ctx, sp := span(ctx, "MarkFailed")
	defer func() { end(sp, err) }()
	if len(from) == 0 {
		from = []string{StateQueued, StateDrafted, StateSending}
	}
	return transition(ctx, tx, id, from, `state = 'failed', status_reason = $3, may_have_orphans = may_have_orphans OR draft_id <> '' OR draft_started_at IS NOT NULL`, reason)
}

// Cancel cancels in tx a message that has not started to leave.
func (s *Store) Cancel(ctx context.Context, tx pgx.Tx, orgID, id string) (_ Message, err error) {
	ctx, sp := span(ctx, "Cancel")
	defer func() { end(sp, err) }()
	if !isUUID(id) || !isUUID(orgID) {
		return Message{}, postgres.ErrNotFound
	}
	m, err := scanMessage(tx.QueryRow(ctx, `UPDATE messages SET state = 'cancelled', status_reason = 'cancelled',
			may_have_orphans = may_have_orphans OR draft_id <> '' OR draft_started_at IS NOT NULL, updated_at = now()
		WHERE org_id = $1 AND id = $2 AND state IN ('queued', 'drafted') RETURNING `+messageColumns, orgID, id))
	if errors.Is(err, postgres.ErrNotFound) {
		if _, gerr := scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE org_id = $1 AND id = $2`, orgID, id)); gerr != nil {
			return Message{}, gerr
		}
		return Message{}, ErrStateChanged
	}
	return m, err
}

// SetStatusReason notes why a message waits.
func (s *Store) SetStatusReason(ctx context.Context, id, reason string) (err error) {
	ctx, sp := span(ctx, "SetStatusReason")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE messages SET status_reason = $2 WHERE id = $1 AND status_reason <> $2`, id, reason)
	return postgres.MapError(err)
}

// SendStats is what a mailbox handed to Graph since a time.
type SendStats struct {
	Messages   int64
	Recipients int64
	// Oldest is the earliest attempt counted, Latest the latest.
	Oldest, Latest *time.Time
}

// SendStatsSince counts the messages of a mailbox whose send was attempted
// at or after since (sending or sent: one that may have left counts).
func (s *Store) SendStatsSince(ctx context.Context, mailboxID string, since time.Time) (_ SendStats, err error) {
	ctx, sp := span(ctx, "SendStatsSince")
	defer func() { end(sp, err) }()
	var st SendStats
	err = s.db.QueryRow(ctx, `SELECT count(*), coalesce(sum(recipient_count), 0), min(send_attempted_at), max(send_attempted_at) FROM messages
		WHERE mailbox_id = $1 AND send_attempted_at >= $2 AND state IN ('sending', 'sent')`, mailboxID, since).
		Scan(&st.Messages, &st.Recipients, &st.Oldest, &st.Latest)
	return st, postgres.MapError(err)
}

// AttemptsSince lists, oldest first, the send attempts of a mailbox since
// a time (sending or sent), for the limits that count them.
func (s *Store) AttemptsSince(ctx context.Context, mailboxID string, since time.Time) (_ []AttemptRow, err error) {
	ctx, sp := span(ctx, "AttemptsSince")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT send_attempted_at, recipient_count FROM messages
		WHERE mailbox_id = $1 AND send_attempted_at >= $2 AND state IN ('sending', 'sent') ORDER BY send_attempted_at`, mailboxID, since)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []AttemptRow
	for rows.Next() {
		var a AttemptRow
		if err := rows.Scan(&a.At, &a.Recipients); err != nil {
			return nil, postgres.MapError(err)
		}
		out = append(out, a)
	}
	return out, postgres.MapError(rows.Err())
}

// DayUsage is what a mailbox attempted to send since a time, other than
// one message: what its daily limits are counted from.
type DayUsage struct {
	Messages   int64
	Recipients int64
	// Latest is the latest attempt, if any.
	Latest *time.Time
}

// usageWhere selects a mailbox's attempts since $2 (sending or sent),
// leaving out message $3.
const usageWhere = `mailbox_id = $1 AND send_attempted_at >= $2 AND state IN ('sending', 'sent') AND id <> $3::uuid`

// UsageSince sums the attempts of a mailbox since a time, leaving out
// the message except (its own earlier attempt, when it is sent again).
func (s *Store) UsageSince(ctx context.Context, mailboxID string, since time.Time, except string) (_ DayUsage, err error) {
	ctx, sp := span(ctx, "UsageSince")
	defer func() { end(sp, err) }()
	var u DayUsage
	err = s.db.QueryRow(ctx, `SELECT count(*), coalesce(sum(recipient_count), 0), max(send_attempted_at) FROM messages WHERE `+usageWhere,
		mailboxID, since, except).Scan(&u.Messages, &u.Recipients, &u.Latest)
	return u, postgres.MapError(err)
}

// NthAttemptSince is the time of the n-th oldest (from 0) attempt counted
// by UsageSince.
func (s *Store) NthAttemptSince(ctx context.Context, mailboxID string, since time.Time, except string, n int64) (_ time.Time, err error) {
	ctx, sp := span(ctx, "NthAttemptSince")
	defer func() { end(sp, err) }()
	var at time.Time
	err = s.db.QueryRow(ctx, `SELECT send_attempted_at FROM messages WHERE `+usageWhere+` ORDER BY send_attempted_at, id OFFSET $4 LIMIT 1`,
		mailboxID, since, except, n).Scan(&at)
	return at, postgres.MapError(err)
}

// RecipientsFreedAt is the time of the oldest attempt counted by
// UsageSince by which, oldest first, at least need recipients were sent:
// when it leaves the window, need recipients fit again.
func (s *Store) RecipientsFreedAt(ctx context.Context, mailboxID string, since time.Time, except string, need int64) (_ time.Time, err error) {
	ctx, sp := span(ctx, "RecipientsFreedAt")
	defer func() { end(sp, err) }()
	var at time.Time
	err = s.db.QueryRow(ctx, `SELECT send_attempted_at FROM (
			SELECT send_attempted_at, id, sum(recipient_count) OVER (ORDER BY send_attempted_at, id) AS freed FROM messages WHERE `+usageWhere+`
		) AS attempts WHERE freed >= $4 ORDER BY send_attempted_at, id LIMIT 1`, mailboxID, since, except, need).Scan(&at)
	return at, postgres.MapError(err)
}

// AttemptRow is one send attempt counted against a mailbox's limits.
type AttemptRow struct {
	At         time.Time
	Recipients int
}

// QueueDepth counts a mailbox's messages still on their way.
func (s *Store) QueueDepth(ctx context.Context, mailboxID string) (_ int64, err error) {
	ctx, sp := span(ctx, "QueueDepth")
	defer func() { end(sp, err) }()
	var n int64
	err = s.db.QueryRow(ctx, `SELECT count(*) FROM messages WHERE mailbox_id = $1 AND state IN ('queued', 'drafted', 'sending')`, mailboxID).Scan(&n)
	return n, postgres.MapError(err)
}

// ActiveJobIDs returns the send jobs of a mailbox's messages still on their
// way, in queue order.
func (s *Store) ActiveJobIDs(ctx context.Context, tx pgx.Tx, mailboxID string, limit int) (_ []int64, err error) {
	ctx, sp := span(ctx, "ActiveJobIDs")
	defer func() { end(sp, err) }()
	rows, err := tx.Query(ctx, `SELECT job_id FROM messages WHERE mailbox_id = $1 AND state IN ('queued', 'drafted', 'sending') AND job_id IS NOT NULL
		ORDER BY (state = 'queued'), seq LIMIT $2`, mailboxID, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, postgres.MapError(err)
		}
		out = append(out, id)
	}
	return out, postgres.MapError(rows.Err())
}

// OrphanCandidates lists the messages of a mailbox that may have left a
// draft behind, by id.
func (s *Store) OrphanCandidates(ctx context.Context, mailboxID string) (_ map[string]Message, err error) {
	ctx, sp := span(ctx, "OrphanCandidates")
	defer func() { end(sp, err) }()
	list, err := scanMessages(s.db.Query(ctx, `SELECT `+messageColumns+` FROM messages WHERE mailbox_id = $1 AND may_have_orphans`, mailboxID))
	if err != nil {
		return nil, err
	}
	out := make(map[string]Message, len(list))
	for _, m := range list {
		out[m.ID] = m
	}
	return out, nil
}

// OrphansCleared clears the mark of the final messages whose drafts the
// cleanup has dealt with.
func (s *Store) OrphansCleared(ctx context.Context, ids []string) (err error) {
	ctx, sp := span(ctx, "OrphansCleared")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `UPDATE messages SET may_have_orphans = false WHERE id = ANY($1::uuid[]) AND state IN ('sent', 'failed', 'cancelled')`, ids)
	return postgres.MapError(err)
}

// MailboxesWithOrphans lists mailboxes that may hold orphaned drafts.
func (s *Store) MailboxesWithOrphans(ctx context.Context, limit int) (_ []string, err error) {
	ctx, sp := span(ctx, "MailboxesWithOrphans")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT DISTINCT mailbox_id::text FROM messages WHERE may_have_orphans LIMIT $1`, limit)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, postgres.MapError(err)
		}
		out = append(out, id)
	}
	return out, postgres.MapError(rows.Err())
}
