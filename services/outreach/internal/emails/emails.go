// Package emails is a recruiter's one-off e-mail to a candidate: sent now
// or at a time, from the recruiter's mailbox or a teammate's who delegated
// sending, optionally as a reply in one of the candidate's conversations,
// and cancellable until it leaves. Mailbox sends it: a job enqueued with
// the e-mail hands it over (key "candidate_email:<id>"), and mailbox's
// message.sent marks it sent. The package also logs every sent and
// received message of a candidate in the candidate's conversation (Log).
package emails

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/validate"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Limits of an e-mail and of lists.
const (
	MaxSubjectLen   = 255 // mailbox's limit
	MaxBodyBytes    = 1 << 20
	MaxIDLen        = 200
	MaxAddressLen   = 320
	MaxScheduleAway = 366 * 24 * time.Hour
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// keyPrefix starts the mailbox idempotency key of a one-off e-mail.
const keyPrefix = "candidate_email:"

// IdempotencyKey is the key the e-mail is handed to mailbox with: every
// attempt of its job uses the same one.
func IdempotencyKey(emailID string) string { return keyPrefix + emailID }

// emailOfKey reads an IdempotencyKey; ok is false for other keys.
func emailOfKey(key string) (id string, ok bool) {
	return strings.CutPrefix(key, keyPrefix)
}

// Store is what the package needs of the store.
type Store interface {
	InTx(ctx context.Context, fn func(pgx.Tx) error) error
	HasDelegation(ctx context.Context, orgID, grantor, grantee string) (bool, error)
	Email(ctx context.Context, orgID, id string) (store.CandidateEmail, error)
	Emails(ctx context.Context, orgID, candidateID string, after *store.TimeCursor, limit int) ([]store.CandidateEmail, error)
}

// Jobs inserts River jobs in the caller's transaction (the River client).
type Jobs = flows.Jobs

// Options build Emails.
type Options struct {
	Store   Store
	Mailbox flows.Mailbox
	Logger  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Emails runs the rules of one-off e-mails.
type Emails struct {
	store   Store
	mailbox flows.Mailbox
	jobs    Jobs
	log     *slog.Logger
	now     func() time.Time
}

// New returns the rules; SetJobs must be called before anything is sent.
func New(o Options) *Emails {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Emails{store: o.Store, mailbox: o.Mailbox, log: o.Logger, now: o.Now}
}

// SetJobs gives the rules the River client, which is built after them
// (its workers need them).
func (m *Emails) SetJobs(j Jobs) { m.jobs = j }

// Input is what a caller asks to send.
type Input struct {
	CandidateID         string
	MailboxConnectionID string
	SenderUserID        string
	SenderEmail         string
	Subject             string
	HTMLBody            string
	SendAt              *time.Time
	ReplyConversationID string
	RequestID           string
}

// check returns the fields of in checked, or the first bad one named.
func (m *Emails) check(ctx context.Context, caller authz.Principal, in Input) (Input, error) {
	var err error
	if in.MailboxConnectionID == "" {
		return in, apperr.InvalidArgument("mailbox_connection_id", "is required")
	}
	if len(in.MailboxConnectionID) > MaxIDLen {
		return in, apperr.InvalidArgument("mailbox_connection_id", "is not a connection id")
	}
	if in.SenderUserID == "" {
		in.SenderUserID = caller.UserID
	}
	if in.SenderUserID != caller.UserID {
		if len(in.SenderUserID) > MaxIDLen {
			return in, apperr.InvalidArgument("sender_user_id", "is not a user id")
		}
		ok, err := m.store.HasDelegation(ctx, caller.OrgID, in.SenderUserID, caller.UserID)
		if err != nil {
			return in, err
		}
		if !ok {
			return in, apperr.InvalidArgument("sender_user_id", "has not allowed you to send on their behalf")
		}
	}
	if in.SenderEmail != "" {
		if in.SenderEmail, err = validate.Text("sender_email", in.SenderEmail, MaxAddressLen); err != nil {
			return in, err
		}
		if a, err := mail.ParseAddress(in.SenderEmail); err != nil || a.Address != in.SenderEmail {
			return in, apperr.InvalidArgument("sender_email", "must be an e-mail address such as ada@example.com")
		}
	}
	if in.Subject, err = validate.Text("subject", in.Subject, MaxSubjectLen); err != nil {
		return in, err
	}
	if in.Subject == "" {
		return in, apperr.InvalidArgument("subject", "is required")
	}
	if strings.TrimSpace(in.HTMLBody) == "" {
		return in, apperr.InvalidArgument("html_body", "is required")
	}
	if !utf8.ValidString(in.HTMLBody) || len(in.HTMLBody) > MaxBodyBytes {
		return in, apperr.InvalidArgument("html_body", fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxBodyBytes))
	}
	if in.SendAt != nil {
		now := m.now()
		switch {
		case in.SendAt.After(now.Add(MaxScheduleAway)):
			return in, apperr.InvalidArgument("send_time", "must be within a year")
		case !in.SendAt.After(now):
			in.SendAt = nil // a time past is now
		}
	}
	if in.ReplyConversationID != "" && len(in.ReplyConversationID) > MaxIDLen {
		return in, apperr.InvalidArgument("reply_conversation_id", "is not a conversation id")
	}
	if in.RequestID, err = validate.Text("request_id", in.RequestID, MaxIDLen); err != nil {
		return in, err
	}
	if in.RequestID == "" {
		return in, apperr.InvalidArgument("request_id", "is required: the same id returns the same e-mail")
	}
	return in, nil
}

// Send stores the e-mail and, in the same transaction, the job that hands
// it to mailbox. The same request id (of the same caller) returns the
// e-mail it made, whatever else the request says.
func (m *Emails) Send(ctx context.Context, caller authz.Principal, in Input) (store.CandidateEmail, error) {
	if caller.UserID == "" {
		return store.CandidateEmail{}, apperr.PermissionDenied("only a user sends e-mails to candidates")
	}
	in, err := m.check(ctx, caller, in)
	if err != nil {
		return store.CandidateEmail{}, err
	}
	var out store.CandidateEmail
	err = m.store.InTx(ctx, func(tx pgx.Tx) error {
		c, err := store.CandidateTx(ctx, tx, caller.OrgID, in.CandidateID)
		if err != nil {
			return err
		}
		if err := store.LockCandidate(ctx, tx, c.ID); err != nil {
			return err
		}
		if out, err = store.EmailByRequestTx(ctx, tx, caller.OrgID, caller.UserID, in.RequestID); err == nil {
			return nil
		} else if !errors.Is(err, postgres.ErrNotFound) {
			return err
		}
		if !c.Live() {
			return apperr.FailedPrecondition("candidate_not_live", "the candidate is deleted")
		}
		to, err := deliverable(ctx, tx, caller.OrgID, c)
		if err != nil {
			return err
		}
		e := store.CandidateEmail{OrgID: caller.OrgID, CandidateID: c.ID, RequestID: in.RequestID, CreatedBy: caller.UserID,
			MailboxConnectionID: in.MailboxConnectionID, SenderUserID: in.SenderUserID, SenderEmail: in.SenderEmail, ToAddress: to,
			ToName: c.Name, Subject: in.Subject, HTMLBody: in.HTMLBody, SendAt: in.SendAt, ReplyConversationID: in.ReplyConversationID}
		if e.ReplyConversationID != "" {
			e.ReplyToProviderID, err = store.LastProviderMessageIDTx(ctx, tx, caller.OrgID, c.ID, e.ReplyConversationID)
			if errors.Is(err, postgres.ErrNotFound) {
				return apperr.InvalidArgument("reply_conversation_id", "is not a conversation of the candidate")
			}
			if err != nil {
				return err
			}
			if e.ReplyToProviderID == "" {
				return apperr.InvalidArgument("reply_conversation_id", "has no sent message to reply to")
			}
		}
		if out, err = store.InsertEmailTx(ctx, tx, e); err != nil {
			return err
		}
		_, err = m.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: SubmitArgs{OrgID: out.OrgID, EmailID: out.ID}}})
		return err
	})
	if errors.Is(err, postgres.ErrNotFound) {
		return store.CandidateEmail{}, apperr.NotFound("candidate").Wrap(err)
	}
	if errors.Is(err, postgres.ErrConflict) {
		// The same request id committed meanwhile: answer its e-mail.
		return m.byRequest(ctx, caller, in.RequestID)
	}
	return out, err
}

func (m *Emails) byRequest(ctx context.Context, caller authz.Principal, requestID string) (store.CandidateEmail, error) {
	var out store.CandidateEmail
	err := m.store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = store.EmailByRequestTx(ctx, tx, caller.OrgID, caller.UserID, requestID)
		return err
	})
	return out, err
}

// deliverable picks the candidate's first address that did not bounce
// for good.
func deliverable(ctx context.Context, tx pgx.Tx, orgID string, c store.Candidate) (string, error) {
	if len(c.Emails) == 0 {
		return "", apperr.FailedPrecondition("no_email_address", "the candidate has no e-mail address")
	}
	bad, err := store.Undeliverable(ctx, tx, orgID, c.Emails)
	if err != nil {
		return "", err
	}
	for _, a := range c.Emails {
		if !bad[a] {
			return a, nil
		}
	}
	return "", apperr.FailedPrecondition("address_undeliverable", "every e-mail address of the candidate bounced")
}

// Cancel stops an e-mail that has not left. One with mailbox is cancelled
// there first (outside any transaction); one that left or is leaving is
// FailedPrecondition. Cancelling a cancelled e-mail returns it.
func (m *Emails) Cancel(ctx context.Context, orgID, candidateID, emailID string) (store.CandidateEmail, error) {
	e, err := m.ofCandidate(ctx, orgID, candidateID, emailID)
	if err != nil {
		return store.CandidateEmail{}, err
	}
	if e.State == store.EmailQueued && e.MailboxMessageID != "" {
		if err := m.mailbox.Cancel(ctx, orgID, e.MailboxMessageID); errors.Is(err, flows.ErrTooLate) {
			return store.CandidateEmail{}, apperr.FailedPrecondition("email_sent", "the e-mail has left or is leaving").Wrap(err)
		} else if err != nil {
			return store.CandidateEmail{}, err
		}
	}
	err = m.store.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := store.EmailTx(ctx, tx, orgID, e.ID, "FOR UPDATE")
		if err != nil {
			return err
		}
		switch cur.State {
		case store.EmailCancelled:
			e = cur
			return nil
		case store.EmailSent:
			return apperr.FailedPrecondition("email_sent", "the e-mail has left")
		case store.EmailFailed:
			return apperr.FailedPrecondition("email_failed", "mailbox refused the e-mail; there is nothing to cancel")
		case store.EmailQueued:
			if cur.MailboxMessageID != e.MailboxMessageID {
				return apperr.Unavailable("the e-mail is being handed to mailbox; try again", nil)
			}
		}
		// A pending e-mail's job finds it cancelled: if it had handed it to
		// mailbox meanwhile, it cancels it there.
		cur.State = store.EmailCancelled
		e, err = store.WriteEmailTx(ctx, tx, cur)
		return err
	})
	return e, err
}

// ofCandidate reads an e-mail of a candidate of the organization (a
// merged id: its survivor); another's is NotFound.
func (m *Emails) ofCandidate(ctx context.Context, orgID, candidateID, emailID string) (store.CandidateEmail, error) {
	var e store.CandidateEmail
	err := m.store.InTx(ctx, func(tx pgx.Tx) error {
		c, err := store.CandidateTx(ctx, tx, orgID, candidateID)
		if err != nil {
			return err
		}
		if e, err = store.EmailTx(ctx, tx, orgID, emailID, ""); err != nil {
			return err
		}
		if e.CandidateID != c.ID {
			return postgres.ErrNotFound
		}
		return nil
	})
	if errors.Is(err, postgres.ErrNotFound) {
		return store.CandidateEmail{}, apperr.NotFound("email").Wrap(err)
	}
	return e, err
}

// Page is a page of a candidate's e-mails.
type Page struct {
	Emails        []store.CandidateEmail
	NextPageToken string
}

type pageToken struct {
	Of    string    `json:"o"`
	At    time.Time `json:"t"`
	After string    `json:"a"`
}

// List returns a page of a candidate's e-mails, newest first.
func (m *Emails) List(ctx context.Context, orgID, candidateID string, pageSize int, token string) (Page, error) {
	pageSize, err := paging.Size(pageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return Page{}, err
	}
	var after *store.TimeCursor
	if token != "" {
		t, err := paging.Decode[pageToken](token)
		if err != nil || t.Of != candidateID {
			return Page{}, paging.ErrBadToken
		}
		after = &store.TimeCursor{At: t.At, ID: t.After}
	}
	found, err := m.store.Emails(ctx, orgID, candidateID, after, pageSize+1)
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return Page{}, apperr.InvalidArgument("page_token", "is not a token of this list").Wrap(err)
	case errors.Is(err, postgres.ErrNotFound):
		return Page{}, apperr.NotFound("candidate").Wrap(err)
	case err != nil:
		return Page{}, err
	}
	p := Page{Emails: found}
	if len(found) > pageSize {
		p.Emails = found[:pageSize]
		last := p.Emails[pageSize-1]
		if p.NextPageToken, err = paging.Encode(pageToken{Of: candidateID, At: last.CreatedAt, After: last.ID}); err != nil {
			return Page{}, err
		}
	}
	return p, nil
}
