package emails_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/emails"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

// fakeMailbox keeps messages by idempotency key, as mailbox does.
type fakeMailbox struct {
	mu        sync.Mutex
	byKey     map[string]flows.Message
	cancelled []string
	// tooLate makes Cancel answer that the message left.
	tooLate bool
}

func (m *fakeMailbox) Submit(_ context.Context, msg flows.Message) (flows.Submitted, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byKey == nil {
		m.byKey = map[string]flows.Message{}
	}
	if _, ok := m.byKey[msg.IdempotencyKey]; !ok {
		m.byKey[msg.IdempotencyKey] = msg
	}
	return flows.Submitted{MessageID: "msg-" + msg.IdempotencyKey}, nil
}

func (m *fakeMailbox) Cancel(_ context.Context, _, messageID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tooLate {
		return flows.ErrTooLate
	}
	m.cancelled = append(m.cancelled, messageID)
	return nil
}

func (m *fakeMailbox) submitted() map[string]flows.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]flows.Message{}
	for k, v := range m.byKey {
		out[k] = v
	}
	return out
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, pgx.Tx, events.Event) (string, error) {
	return uuid.NewString(), nil
}

type world struct {
	t      *testing.T
	pool   *pgxpool.Pool
	st     *store.Store
	mail   *fakeMailbox
	m      *emails.Emails
	log    *emails.Log
	flows  *flows.Flows
	convs  *conversations.Conversations
	org    string
	caller authz.Principal
	now    time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	pool := storetest.New(t)
	if err := jobs.Migrate(t.Context(), pool, "outreach", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	jc, err := jobs.New(pool, jobs.Options{Schema: "outreach", Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, pool: pool, st: store.New(pool), mail: &fakeMailbox{}, org: uuid.NewString(),
		now: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return w.now }
	stagePub := func(context.Context, pgx.Tx, store.StageMove) error { return nil }
	w.flows = flows.New(flows.Options{Store: w.st, Publisher: nopPublisher{}, StagePublish: stagePub, Mailbox: w.mail, Now: clock})
	w.flows.SetJobs(jc)
	w.m = emails.New(emails.Options{Store: w.st, Mailbox: w.mail, Now: clock})
	w.m.SetJobs(jc)
	w.convs = conversations.New(w.st, nopPublisher{}, clock)
	w.log = emails.NewLog(w.m, w.convs, w.flows, stagePub)
	w.caller = authz.Principal{Kind: authz.KindUser, OrgID: w.org, UserID: uuid.NewString(), Role: authz.RoleRecruiter}
	return w
}

func (w *world) candidate(name string, addresses ...string) store.Candidate {
	w.t.Helper()
	c, err := w.st.CreateCandidate(w.t.Context(), store.Candidate{OrgID: w.org, Name: name, Emails: addresses}, "test")
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) input(candidateID, requestID string) emails.Input {
	return emails.Input{CandidateID: candidateID, MailboxConnectionID: "conn-1", SenderEmail: "rita@acme.test",
		Subject: "Hello", HTMLBody: "<p>Hi Ada</p>", RequestID: requestID}
}

func (w *world) send(in emails.Input) store.CandidateEmail {
	w.t.Helper()
	e, err := w.m.Send(w.t.Context(), w.caller, in)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *world) submit(e store.CandidateEmail) {
	w.t.Helper()
	if err := emails.NewSubmitWorker(w.m).Work(w.t.Context(), &river.Job[emails.SubmitArgs]{Args: emails.SubmitArgs{OrgID: w.org, EmailID: e.ID}}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) email(id string) store.CandidateEmail {
	w.t.Helper()
	e, err := w.st.Email(w.t.Context(), w.org, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *world) deliver(typ string, payload proto.Message) {
	w.t.Helper()
	a, err := anypb.New(payload)
	if err != nil {
		w.t.Fatal(err)
	}
	ev := &eventsv1.Event{Id: uuid.NewString(), Type: typ, Source: "mailbox", OrganizationId: w.org, Payload: a}
	h := w.log.Sent(w.flows.ApplyMessageSent)
	if typ == flows.EventMessageReceived {
		h = w.log.Received(w.flows.ApplyMessageReceived)
	}
	if err := pgx.BeginFunc(w.t.Context(), w.pool, func(tx pgx.Tx) error { return h(w.t.Context(), tx, ev) }); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) sent(key, internetID string) {
	w.t.Helper()
	w.deliver(flows.EventMessageSent, &mailboxv1.MessageSent{MessageId: "msg-" + key, MailboxId: "conn-1", IdempotencyKey: key,
		ProviderMessageId: "graph-" + internetID, InternetMessageId: internetID, ConversationId: "thread-" + internetID,
		SentTime: timestamppb.New(w.now), To: []*mailboxv1.Recipient{{Address: "ada@example.com"}}})
}

func (w *world) replied(key, threadOf, internetID string, kind mailboxv1.InboundKind) {
	w.t.Helper()
	w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{InboundMessageId: "in-" + internetID, ConnectionId: "conn-1", Kind: kind,
		SentIdempotencyKey: key, ConversationId: "thread-" + threadOf, InternetMessageId: internetID, FromAddress: "ada@example.com",
		Subject: "RE: Hello", Snippet: "Sounds good", ReceiveTime: timestamppb.New(w.now.Add(time.Hour))})
}

// thread returns the candidate's conversations and the messages of each.
func (w *world) thread(candidateID string) ([]store.Conversation, [][]store.Message) {
	w.t.Helper()
	convs, err := w.st.Conversations(w.t.Context(), w.org, candidateID, nil, 10)
	if err != nil {
		w.t.Fatal(err)
	}
	var msgs [][]store.Message
	for _, c := range convs {
		m, err := w.st.Messages(w.t.Context(), w.org, c.ID, nil, 10)
		if err != nil {
			w.t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return convs, msgs
}

func (w *world) stageName(candidateID string) string {
	w.t.Helper()
	var name string
	if err := w.pool.QueryRow(w.t.Context(), `SELECT s.name FROM candidates c JOIN stages s ON s.id = c.stage_id WHERE c.id = $1`, candidateID).Scan(&name); err != nil {
		w.t.Fatal(err)
	}
	return name
}

func TestSendIsIdempotentByRequestID(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ada := w.candidate("Ada", "ada@example.com")
	first := w.send(w.input(ada.ID, "req-1"))
	again := w.input(ada.ID, "req-1")
	again.Subject = "Something else"
	second := w.send(again)
	if first.ID != second.ID || second.Subject != "Hello" || first.State != store.EmailPending || first.ToAddress != "ada@example.com" {
		t.Fatalf("the same request id should return the same e-mail: %+v, %+v", first, second)
	}
	other := w.send(w.input(ada.ID, "req-2"))
	if other.ID == first.ID {
		t.Fatal("another request id should make another e-mail")
	}
	var n int
	if err := w.pool.QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = $1`, emails.SubmitKind).Scan(&n); err != nil || n != 2 {
		t.Fatalf("one submit job per e-mail: %d, %v", n, err)
	}
	page, err := w.m.List(t.Context(), w.org, ada.ID, 1, "")
	if err != nil || len(page.Emails) != 1 || page.Emails[0].ID != other.ID || page.NextPageToken == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	page, err = w.m.List(t.Context(), w.org, ada.ID, 1, page.NextPageToken)
	if err != nil || len(page.Emails) != 1 || page.Emails[0].ID != first.ID || page.NextPageToken != "" {
		t.Fatalf("second page: %+v, %v", page, err)
	}
}

func TestSentAndReplyAreLoggedOnceAndMoveTheStage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ada := w.candidate("Ada", "ada@example.com")
	at := w.now.Add(2 * time.Hour)
	in := w.input(ada.ID, "req-1")
	in.SendAt = &at
	e := w.send(in)
	w.submit(e)
	w.submit(e) // a retried job hands nothing more over
	key := emails.IdempotencyKey(e.ID)
	msg, ok := w.mail.submitted()[key]
	if !ok || len(w.mail.submitted()) != 1 || msg.To != "ada@example.com" || msg.SendAfter == nil || !msg.SendAfter.Equal(at) || msg.MailboxID != "conn-1" {
		t.Fatalf("handed to mailbox: %+v", w.mail.submitted())
	}
	if got := w.email(e.ID); got.State != store.EmailQueued || got.MailboxMessageID != "msg-"+key {
		t.Fatalf("after the submit: %+v", got)
	}
	w.sent(key, "<one@acme.test>")
	w.sent(key, "<one@acme.test>") // delivered twice
	got := w.email(e.ID)
	if got.State != store.EmailSent || got.SentAt == nil || got.ConversationID == "" {
		t.Fatalf("after message.sent: %+v", got)
	}
	if s := w.stageName(ada.ID); s != store.StageContacted {
		t.Fatalf("stage after the first e-mail: %s", s)
	}
	w.replied(key, "<one@acme.test>", "<reply@example.com>", mailboxv1.InboundKind_INBOUND_KIND_REPLY)
	w.replied(key, "<one@acme.test>", "<reply@example.com>", mailboxv1.InboundKind_INBOUND_KIND_REPLY)
	convs, msgs := w.thread(ada.ID)
	if len(convs) != 1 || convs[0].ID != got.ConversationID || len(msgs[0]) != 2 {
		t.Fatalf("one thread with the e-mail and the reply: %+v %+v", convs, msgs)
	}
	if m := msgs[0][0]; m.Kind != "sent" || m.Subject != "Hello" || m.BodyHTML != "<p>Hi Ada</p>" || m.From != "rita@acme.test" {
		t.Fatalf("sent message: %+v", m)
	}
	if m := msgs[0][1]; m.Kind != "reply" || m.From != "ada@example.com" {
		t.Fatalf("reply: %+v", m)
	}
	if s := w.stageName(ada.ID); s != store.StageReplied {
		t.Fatalf("stage after the reply: %s", s)
	}
	// A reply in the thread answers its last sent message.
	follow := w.input(ada.ID, "req-2")
	follow.ReplyConversationID = got.ConversationID
	f := w.send(follow)
	w.submit(f)
	if m := w.mail.submitted()[emails.IdempotencyKey(f.ID)]; m.ReplyTo != "graph-<one@acme.test>" {
		t.Fatalf("a reply in the thread answers %q", m.ReplyTo)
	}
	if _, err := w.m.Cancel(t.Context(), w.org, ada.ID, e.ID); !isPrecondition(err) {
		t.Fatalf("cancelling a sent e-mail: %v", err)
	}
}

func isPrecondition(err error) bool { return isKind(err, apperr.KindFailedPrecondition) }

func isKind(err error, k apperr.Kind) bool {
	var ae *apperr.Error
	return errors.As(err, &ae) && ae.Kind == k
}

func TestCancelBeforeItLeaves(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ada := w.candidate("Ada", "ada@example.com")
	// Pending: its job then hands nothing over.
	pending := w.send(w.input(ada.ID, "req-1"))
	if c, err := w.m.Cancel(t.Context(), w.org, ada.ID, pending.ID); err != nil || c.State != store.EmailCancelled {
		t.Fatalf("cancel a pending e-mail: %+v, %v", c, err)
	}
	w.submit(pending)
	if len(w.mail.submitted()) != 0 {
		t.Fatalf("a cancelled e-mail was handed to mailbox: %+v", w.mail.submitted())
	}
	// Queued with mailbox: cancelled there.
	queued := w.send(w.input(ada.ID, "req-2"))
	w.submit(queued)
	if c, err := w.m.Cancel(t.Context(), w.org, ada.ID, queued.ID); err != nil || c.State != store.EmailCancelled ||
		len(w.mail.cancelled) != 1 || w.mail.cancelled[0] != "msg-"+emails.IdempotencyKey(queued.ID) {
		t.Fatalf("cancel a queued e-mail: %+v, %v, %v", c, err, w.mail.cancelled)
	}
	if c, err := w.m.Cancel(t.Context(), w.org, ada.ID, queued.ID); err != nil || c.State != store.EmailCancelled {
		t.Fatalf("cancelling again: %+v, %v", c, err)
	}
	// Leaving already: mailbox says so.
	leaving := w.send(w.input(ada.ID, "req-3"))
	w.submit(leaving)
	w.mail.tooLate = true
	if _, err := w.m.Cancel(t.Context(), w.org, ada.ID, leaving.ID); !isPrecondition(err) {
		t.Fatalf("cancelling an e-mail that is leaving: %v", err)
	}
	if got := w.email(leaving.ID); got.State != store.EmailQueued {
		t.Fatalf("a refused cancel changed the e-mail: %+v", got)
	}
	// Another candidate's e-mail, another organization's candidate.
	bob := w.candidate("Bob", "bob@example.com")
	if _, err := w.m.Cancel(t.Context(), w.org, bob.ID, leaving.ID); !isKind(err, apperr.KindNotFound) {
		t.Fatalf("another candidate's e-mail: %v", err)
	}
	if _, err := w.m.Cancel(t.Context(), uuid.NewString(), ada.ID, leaving.ID); !isKind(err, apperr.KindNotFound) {
		t.Fatalf("another organization: %v", err)
	}
}

func TestSendRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ada := w.candidate("Ada", "ada@example.com")
	nobody := w.candidate("No Address")
	bounced := w.candidate("Bounced", "gone@example.com")
	if err := w.st.InTx(t.Context(), func(tx pgx.Tx) error {
		return store.MarkUndeliverable(t.Context(), tx, w.org, "gone@example.com", "bounced")
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change func(*emails.Input)
		kind   apperr.Kind
		field  string
	}{
		{"no mailbox", func(in *emails.Input) { in.MailboxConnectionID = "" }, apperr.KindInvalidArgument, "mailbox_connection_id"},
		{"no subject", func(in *emails.Input) { in.Subject = " " }, apperr.KindInvalidArgument, "subject"},
		{"no body", func(in *emails.Input) { in.HTMLBody = "" }, apperr.KindInvalidArgument, "html_body"},
		{"no request id", func(in *emails.Input) { in.RequestID = "" }, apperr.KindInvalidArgument, "request_id"},
		{"bad sender address", func(in *emails.Input) { in.SenderEmail = "rita" }, apperr.KindInvalidArgument, "sender_email"},
		{"too far ahead", func(in *emails.Input) { t := w.now.AddDate(2, 0, 0); in.SendAt = &t }, apperr.KindInvalidArgument, "send_time"},
		{"no delegation", func(in *emails.Input) { in.SenderUserID = uuid.NewString() }, apperr.KindInvalidArgument, "sender_user_id"},
		{"not the candidate's thread", func(in *emails.Input) { in.ReplyConversationID = uuid.NewString() }, apperr.KindInvalidArgument, "reply_conversation_id"},
		{"no address", func(in *emails.Input) { in.CandidateID = nobody.ID }, apperr.KindFailedPrecondition, ""},
		{"undeliverable", func(in *emails.Input) { in.CandidateID = bounced.ID }, apperr.KindFailedPrecondition, ""},
		{"unknown candidate", func(in *emails.Input) { in.CandidateID = uuid.NewString() }, apperr.KindNotFound, ""},
	} {
		in := w.input(ada.ID, "req-"+c.name)
		c.change(&in)
		_, err := w.m.Send(t.Context(), w.caller, in)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != c.kind || (c.field != "" && ae.Field != c.field) {
			t.Errorf("%s: want %v on %q, got %v", c.name, c.kind, c.field, err)
		}
	}
	stranger := w.caller
	stranger.OrgID = uuid.NewString()
	if _, err := w.m.Send(t.Context(), stranger, w.input(ada.ID, "req-x")); !isKind(err, apperr.KindNotFound) {
		t.Fatalf("another organization's candidate: %v", err)
	}
	var n int
	if err := w.pool.QueryRow(t.Context(), `SELECT count(*) FROM candidate_emails_sent`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused requests stored %d e-mails (%v)", n, err)
	}
	// A teammate's mailbox, once they delegated.
	teammate := uuid.NewString()
	if _, err := w.st.GrantDelegation(t.Context(), w.org, teammate, w.caller.UserID); err != nil {
		t.Fatal(err)
	}
	in := w.input(ada.ID, "req-delegated")
	in.SenderUserID = teammate
	if e := w.send(in); e.SenderUserID != teammate || e.CreatedBy != w.caller.UserID {
		t.Fatalf("delegated e-mail: %+v", e)
	}
}

func TestFlowStepsAreLoggedAndUnmatchedMailIsNot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	owner := w.caller
	f, err := w.flows.Create(t.Context(), owner, flows.Input{Name: "Backend", TimeZone: "UTC",
		Sender: store.FlowVersion{MailboxConnectionID: "conn-1", SenderEmail: "rita@acme.test"},
		Steps:  []store.FlowStep{{DelayUnit: "hours", Subject: "Hello {{ candidate.first_name }}", Body: "<p>Hi</p>"}}})
	if err != nil {
		t.Fatal(err)
	}
	ada := w.candidate("Ada Lovelace", "ada@example.com")
	rs, err := w.flows.Enroll(t.Context(), owner, f.ID, []string{ada.ID})
	if err != nil || len(rs) != 1 {
		t.Fatalf("enroll: %+v, %v", rs, err)
	}
	key := flows.IdempotencyKey(rs[0].EnrollmentID, 0, 1)
	w.sent(key, "<step@acme.test>")
	w.sent(key, "<step@acme.test>")
	w.replied(key, "<step@acme.test>", "<ooo@example.com>", mailboxv1.InboundKind_INBOUND_KIND_AUTO_REPLY)
	// Mail that answers nothing Tandem sent is not logged.
	w.replied("", "<other@x>", "<stranger@example.com>", mailboxv1.InboundKind_INBOUND_KIND_REPLY)
	convs, msgs := w.thread(ada.ID)
	if len(convs) != 1 || len(msgs[0]) != 2 || msgs[0][0].Subject != "Hello Ada" || msgs[0][1].Kind != "auto_reply" {
		t.Fatalf("the step and its auto-reply in one thread: %+v %+v", convs, msgs)
	}
	var n int
	if err := w.pool.QueryRow(t.Context(), `SELECT count(*) FROM conversation_messages WHERE org_id = $1`, w.org).Scan(&n); err != nil || n != 2 {
		t.Fatalf("messages logged: %d, %v", n, err)
	}
}

func TestAnAddressThatBouncedMeanwhileIsNotSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ada := w.candidate("Ada", "ada@example.com")
	e := w.send(w.input(ada.ID, "req-1"))
	if err := w.st.InTx(t.Context(), func(tx pgx.Tx) error {
		return store.MarkUndeliverable(t.Context(), tx, w.org, "ada@example.com", "bounced")
	}); err != nil {
		t.Fatal(err)
	}
	w.submit(e)
	if got := w.email(e.ID); got.State != store.EmailFailed || len(w.mail.submitted()) != 0 {
		t.Fatalf("an e-mail to an address that bounced meanwhile: %+v, %v", got, w.mail.submitted())
	}
}

func TestAPermanentBounceIsLoggedAndMarksTheAddress(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ada := w.candidate("Ada", "ada@example.com")
	e := w.send(w.input(ada.ID, "req-1"))
	w.submit(e)
	key := emails.IdempotencyKey(e.ID)
	w.sent(key, "<one@acme.test>")
	w.deliver(flows.EventMessageReceived, &mailboxv1.MessageReceived{InboundMessageId: "in-ndr", ConnectionId: "conn-1",
		Kind: mailboxv1.InboundKind_INBOUND_KIND_BOUNCE, SentIdempotencyKey: key, ConversationId: "thread-<one@acme.test>",
		InternetMessageId: "<ndr@acme.test>", FromAddress: "postmaster@acme.test", BouncedRecipient: "ada@example.com", BouncePermanent: true,
		ReceiveTime: timestamppb.New(w.now.Add(time.Minute))})
	_, msgs := w.thread(ada.ID)
	if len(msgs) != 1 || len(msgs[0]) != 2 || msgs[0][1].Kind != "bounce" {
		t.Fatalf("the bounce in the thread: %+v", msgs)
	}
	if s := w.stageName(ada.ID); s != store.StageContacted {
		t.Fatalf("a bounce moved the candidate to %s", s)
	}
	_, err := w.m.Send(t.Context(), w.caller, w.input(ada.ID, "req-2"))
	if !isPrecondition(err) {
		t.Fatalf("an e-mail to an address that bounced for good: %v", err)
	}
}
