package conversations_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/postgres"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/store/storetest"
)

type world struct {
	pool      *pgxpool.Pool
	st        *store.Store
	cs        *conversations.Conversations
	org       string
	candidate store.Candidate
}

func newWorld(t *testing.T) *world {
	t.Helper()
	pool := storetest.New(t)
	st := store.New(pool)
	w := &world{pool: pool, st: st, cs: conversations.New(st, storetest.Publisher(t, pool), nil), org: uuid.NewString()}
	w.candidate = w.newCandidate(t, "ada@example.com")
	return w
}

func (w *world) newCandidate(t *testing.T, email string) store.Candidate {
	t.Helper()
	c, err := w.st.CreateCandidate(t.Context(), store.Candidate{OrgID: w.org, Name: "Ada", Emails: []string{email}}, "u")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// sent is a flow's first message to the candidate.
func (w *world) sent(n int) store.MessageRecord {
	return store.MessageRecord{OrgID: w.org, CandidateID: w.candidate.ID, MailboxConnectionID: "conn-1", SenderUserID: "rec-1",
		ProviderConversationID: fmt.Sprintf("graph-conv-%d", n),
		Message: store.Message{Direction: store.Outbound, Kind: "sent", From: "rec@contoso.example", To: []string{"ada@example.com"},
			Subject: "Senior Go engineer at Contoso", BodyText: "Hello Ada", InternetMessageID: fmt.Sprintf("<sent-%d@contoso.example>", n),
			MessageAt: t0.Add(time.Duration(n) * time.Hour)}}
}

// reply is the candidate's answer to sent(n), found by In-Reply-To.
func (w *world) reply(n int) store.MessageRecord {
	return store.MessageRecord{OrgID: w.org, CandidateID: w.candidate.ID,
		Message: store.Message{Direction: store.Inbound, Kind: "reply", From: "ada@example.com", To: []string{"rec@contoso.example"},
			Subject: "RE: Senior Go engineer at Contoso", BodyText: "Keen!", InternetMessageID: fmt.Sprintf("<reply-%d@example.com>", n),
			InReplyTo: fmt.Sprintf("<sent-%d@contoso.example>", n), MessageAt: t0.Add(time.Duration(n)*time.Hour + time.Minute)}}
}

func TestRecordingTwiceIsOneMessageOneEntryOneEvent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first, err := w.cs.Record(t.Context(), w.sent(1), "")
	if err != nil || !first.Created {
		t.Fatalf("record: %+v, %v", first, err)
	}
	again, err := w.cs.Record(t.Context(), w.sent(1), "")
	if err != nil || again.Created || again.Message.ID != first.Message.ID || again.Conversation.ID != first.Conversation.ID || again.Conversation.MessageCount != 1 {
		t.Fatalf("record again: %+v, %v", again, err)
	}
	// A caller's key dedupes too, whatever the message says.
	keyed := w.sent(2)
	keyed.Message.InternetMessageID = ""
	k1, err := w.cs.Record(t.Context(), keyed, "enrollment-7:step-1")
	if err != nil || !k1.Created {
		t.Fatal(err)
	}
	keyed.Message.BodyText = "a retry that changed"
	if k2, err := w.cs.Record(t.Context(), keyed, "enrollment-7:step-1"); err != nil || k2.Created || k2.Message.ID != k1.Message.ID || k2.Message.BodyText != "Hello Ada" {
		t.Fatalf("keyed again: %+v, %v", k2, err)
	}
	entries, err := w.st.Timeline(t.Context(), w.org, w.candidate.ID, store.Viewer{}, []string{store.KindMessageSent}, "", 10)
	if err != nil || len(entries) != 2 || entries[0].ActorUserID != "rec-1" || entries[0].Detail["message_id"] != first.Message.ID {
		t.Fatalf("timeline %+v, %v", entries, err)
	}
	evs := storetest.Published(t, w.pool, conversations.EventLogged)
	if len(evs) != 2 {
		t.Fatalf("published %d events, want 2", len(evs))
	}
	payload := &outreachv1.ConversationLogged{}
	if err := evs[0].GetPayload().UnmarshalTo(payload); err != nil {
		t.Fatal(err)
	}
	if evs[0].GetAggregateId() != first.Message.ID || evs[0].GetVersion() != 0 || payload.GetConversationId() != first.Conversation.ID ||
		payload.GetCandidateId() != w.candidate.ID || payload.GetDirection() != outreachv1.MessageDirection_MESSAGE_DIRECTION_OUTBOUND ||
		payload.GetKind() != outreachv1.MessageKind_MESSAGE_KIND_SENT || payload.GetInternetMessageId() != "<sent-1@contoso.example>" ||
		!payload.GetMessageTime().AsTime().Equal(t0.Add(time.Hour)) || payload.GetSenderUserId() != "rec-1" {
		t.Fatalf("event %v, payload %v", evs[0], payload)
	}
}

// The same message recorded at once by many callers is recorded once.
func TestConcurrentRecordsOfOneMessage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const n = 6
	got := make([]conversations.Recorded, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = w.cs.Record(context.WithoutCancel(t.Context()), w.sent(1), "") })
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil || got[i].Message.ID != got[0].Message.ID {
			t.Fatalf("record %d: %+v, %v", i, got[i], errs[i])
		}
		if got[i].Created {
			created++
		}
	}
	if created != 1 || len(storetest.Published(t, w.pool, "")) != 1 {
		t.Fatalf("created %d times, published %d", created, len(storetest.Published(t, w.pool, "")))
	}
	list, err := w.cs.List(t.Context(), w.org, conversations.Query{ID: w.candidate.ID})
	if err != nil || len(list.Conversations) != 1 {
		t.Fatalf("threads: %+v, %v", list, err)
	}
}

// A reply joins the thread of the message it answers; the provider's
// conversation id joins its thread too; threads list newest activity
// first and their messages oldest first, a page at a time.
func TestThreadsAndPages(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	one, err := w.cs.Record(t.Context(), w.sent(1), "")
	if err != nil {
		t.Fatal(err)
	}
	two, err := w.cs.Record(t.Context(), w.sent(2), "")
	if err != nil {
		t.Fatal(err)
	}
	if one.Conversation.ID == two.Conversation.ID {
		t.Fatal("two first messages share a thread")
	}
	replied, err := w.cs.Record(t.Context(), w.reply(1), "")
	if err != nil || replied.Conversation.ID != one.Conversation.ID || replied.Conversation.MessageCount != 2 ||
		!replied.Conversation.LastMessageAt.Equal(t0.Add(time.Hour+time.Minute)) {
		t.Fatalf("the reply's thread: %+v, %v", replied, err)
	}
	followUp := w.sent(1)
	followUp.Message.InternetMessageID, followUp.Message.MessageAt = "<follow-up@contoso.example>", t0.Add(5*time.Hour)
	if f, err := w.cs.Record(t.Context(), followUp, ""); err != nil || f.Conversation.ID != one.Conversation.ID {
		t.Fatalf("by provider conversation id: %+v, %v", f, err)
	}
	page, err := w.cs.List(t.Context(), w.org, conversations.Query{ID: w.candidate.ID, PageSize: 1})
	if err != nil || len(page.Conversations) != 1 || page.Conversations[0].ID != one.Conversation.ID || page.NextPageToken == "" {
		t.Fatalf("newest activity first: %+v, %v", page, err)
	}
	rest, err := w.cs.List(t.Context(), w.org, conversations.Query{ID: w.candidate.ID, PageSize: 1, PageToken: page.NextPageToken})
	if err != nil || len(rest.Conversations) != 1 || rest.Conversations[0].ID != two.Conversation.ID || rest.NextPageToken != "" {
		t.Fatalf("second page: %+v, %v", rest, err)
	}
	thread, err := w.cs.Get(t.Context(), w.org, conversations.Query{ID: one.Conversation.ID, PageSize: 2})
	if err != nil || thread.Conversation.MessageCount != 3 || len(thread.Messages) != 2 || thread.Messages[0].ID != one.Message.ID ||
		thread.Messages[1].Kind != "reply" || thread.NextPageToken == "" {
		t.Fatalf("thread: %+v, %v", thread, err)
	}
	last, err := w.cs.Get(t.Context(), w.org, conversations.Query{ID: one.Conversation.ID, PageSize: 2, PageToken: thread.NextPageToken})
	if err != nil || len(last.Messages) != 1 || last.Messages[0].InternetMessageID != "<follow-up@contoso.example>" || last.NextPageToken != "" {
		t.Fatalf("thread, page 2: %+v, %v", last, err)
	}
	if _, err := w.cs.Get(t.Context(), w.org, conversations.Query{ID: two.Conversation.ID, PageToken: thread.NextPageToken}); err == nil {
		t.Fatal("a token of another thread is accepted")
	}
	received, err := w.st.Timeline(t.Context(), w.org, w.candidate.ID, store.Viewer{}, []string{store.KindMessageReceived}, "", 10)
	if err != nil || len(received) != 1 || received[0].Detail["message_kind"] != "reply" || received[0].ActorUserID != "" {
		t.Fatalf("the reply on the timeline: %+v, %v", received, err)
	}
}

// Another organization's candidate, conversation or thread is not found;
// a thread of another candidate cannot be written to.
func TestConversationsStayInTheirOrganization(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rec, err := w.cs.Record(t.Context(), w.sent(1), "")
	if err != nil {
		t.Fatal(err)
	}
	theirs := w.sent(9)
	theirs.OrgID = uuid.NewString()
	if _, err := w.cs.Record(t.Context(), theirs, ""); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("record for another organization's candidate: %v", err)
	}
	if _, err := w.cs.List(t.Context(), theirs.OrgID, conversations.Query{ID: w.candidate.ID}); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("list another organization's candidate: %v", err)
	}
	if _, err := w.cs.Get(t.Context(), theirs.OrgID, conversations.Query{ID: rec.Conversation.ID}); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("get another organization's thread: %v", err)
	}
	other := w.newCandidate(t, "grace@example.com")
	wrong := w.sent(3)
	wrong.CandidateID, wrong.ConversationID = other.ID, rec.Conversation.ID
	_, err = w.cs.Record(t.Context(), wrong, "")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindNotFound {
		t.Fatalf("a message into another candidate's thread: %v", err)
	}
}

// Bad input names its field and stores nothing.
func TestBadMessageNamesItsField(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for field, change := range map[string]func(*store.MessageRecord, *string){
		"organization_id":      func(r *store.MessageRecord, _ *string) { r.OrgID = "acme" },
		"candidate_id":         func(r *store.MessageRecord, _ *string) { r.CandidateID = "" },
		"message.direction":    func(r *store.MessageRecord, _ *string) { r.Message.Direction = "" },
		"message.kind":         func(r *store.MessageRecord, _ *string) { r.Message.Kind = "reply" },
		"message.from":         func(r *store.MessageRecord, _ *string) { r.Message.From = "not an address" },
		"message.to[0]":        func(r *store.MessageRecord, _ *string) { r.Message.To = []string{"x@"} },
		"message.subject":      func(r *store.MessageRecord, _ *string) { r.Message.Subject = "a\nb" },
		"message.body_text":    func(r *store.MessageRecord, _ *string) { r.Message.BodyText = "\xff" },
		"message.message_time": func(r *store.MessageRecord, _ *string) { r.Message.MessageAt = time.Time{} },
		"idempotency_key":      func(r *store.MessageRecord, _ *string) { r.Message.InternetMessageID = "" },
		"message.internet_message_id": func(r *store.MessageRecord, _ *string) {
			r.Message.InternetMessageID = "<a\x00b>"
		},
	} {
		r, key := w.sent(1), ""
		change(&r, &key)
		_, err := w.cs.Record(t.Context(), r, key)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	if list, err := w.cs.List(t.Context(), w.org, conversations.Query{ID: w.candidate.ID}); err != nil || len(list.Conversations) != 0 {
		t.Fatalf("bad input stored %+v, %v", list, err)
	}
}

type failAfter struct{ pub *events.Publisher }

var errLater = errors.New("a later step failed")

func (f failAfter) Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error) {
	if _, err := f.pub.Publish(ctx, tx, ev); err != nil {
		return "", err
	}
	return "", errLater
}

func TestNothingIsPublishedWhenTheRecordRollsBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs := conversations.New(w.st, failAfter{pub: storetest.Publisher(t, w.pool)}, nil)
	if _, err := cs.Record(t.Context(), w.sent(1), ""); !errors.Is(err, errLater) {
		t.Fatalf("want the later failure, got %v", err)
	}
	if evs := storetest.Published(t, w.pool, ""); len(evs) != 0 {
		t.Fatalf("published %v", evs)
	}
	if list, err := w.cs.List(t.Context(), w.org, conversations.Query{ID: w.candidate.ID}); err != nil || len(list.Conversations) != 0 {
		t.Fatalf("stored %+v, %v", list, err)
	}
	// The message was not recorded, so recording it now creates it.
	if rec, err := w.cs.Record(t.Context(), w.sent(1), ""); err != nil || !rec.Created {
		t.Fatalf("after the rollback: %+v, %v", rec, err)
	}
}

// A merge moves the threads to the survivor; the merged id reads them.
func TestTheSurvivorOfAMergeKeepsTheConversations(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := w.newCandidate(t, "ada@work.example")
	if _, err := w.cs.Record(t.Context(), w.sent(1), ""); err != nil {
		t.Fatal(err)
	}
	r := w.sent(2)
	r.CandidateID = other.ID
	moved, err := w.cs.Record(t.Context(), r, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.st.MergeCandidates(t.Context(), w.org, w.candidate.ID, other.ID, "u", func(s, m store.Candidate) store.Candidate {
		s.Emails = append(s.Emails, m.Emails...)
		return s
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{w.candidate.ID, other.ID} {
		list, err := w.cs.List(t.Context(), w.org, conversations.Query{ID: id})
		if err != nil || len(list.Conversations) != 2 || list.Conversations[0].ID != moved.Conversation.ID || list.Conversations[0].CandidateID != w.candidate.ID {
			t.Fatalf("threads of %s after the merge: %+v, %v", id, list, err)
		}
	}
	// A reply recorded for the merged id lands in the moved thread.
	reply := w.reply(2)
	reply.CandidateID = other.ID
	if rec, err := w.cs.Record(t.Context(), reply, ""); err != nil || rec.Conversation.ID != moved.Conversation.ID {
		t.Fatalf("a reply after the merge: %+v, %v", rec, err)
	}
}

// RecordTx records in the caller's transaction: a message recorded
// already, even for another candidate, comes back as it was, and the
// caller's transaction goes on and commits its own work.
func TestRecordTxInTheCallersTransaction(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.sent(1)
	r.DedupeKey = "mid:" + r.Message.InternetMessageID
	var first conversations.Recorded
	err := pgx.BeginFunc(t.Context(), w.pool, func(tx pgx.Tx) error {
		var err error
		first, err = w.cs.RecordTx(t.Context(), tx, r)
		return err
	})
	if err != nil || !first.Created {
		t.Fatalf("record: %+v, %v", first, err)
	}
	other := w.newCandidate(t, "bob@example.com")
	r.CandidateID = other.ID
	err = pgx.BeginFunc(t.Context(), w.pool, func(tx pgx.Tx) error {
		again, err := w.cs.RecordTx(t.Context(), tx, r)
		if err != nil {
			return err
		}
		if again.Created || again.Message.ID != first.Message.ID || again.Conversation.CandidateID != w.candidate.ID {
			t.Errorf("recorded again: %+v", again)
		}
		_, err = tx.Exec(t.Context(), `UPDATE candidates SET title = 'after' WHERE id = $1`, other.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := w.st.Candidate(t.Context(), w.org, other.ID); err != nil || c.Title != "after" {
		t.Fatalf("the caller's transaction should commit: %+v, %v", c, err)
	}
	convs, err := w.st.Conversations(t.Context(), w.org, other.ID, nil, 10)
	if err != nil || len(convs) != 0 {
		t.Fatalf("the other candidate got a thread: %+v, %v", convs, err)
	}
}
