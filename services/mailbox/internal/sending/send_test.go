package sending

import (
	"errors"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

const (
	mailboxA = "00000000-0000-4000-8000-00000000d001"
	mailboxB = "00000000-0000-4000-8000-00000000d002"
	adele    = providersim.DemoContosoUser
)

var errCrash = errors.New("test: the process died here")

// crashOnce makes the worker stop at point the first time it gets there.
func crashOnce(w *SendWorker, point string) {
	done := false
	w.crash = func(p string) error {
		if p == point && !done {
			done = true
			return errCrash
		}
		return nil
	}
}

func TestAMessageIsSentOnceWithItsIDsAndMessageSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	m := e.drain(e.submit(mb, "k1", "cand@example.com"), 5)
	if m.State != store.StateSent || m.DraftID == "" || m.InternetMessageID == "" || m.ConversationID == "" || m.SentAt == nil {
		t.Fatalf("sent message %+v", m)
	}
	if n := e.copies(adele, "sentitems", m.ID); n != 1 {
		t.Errorf("Sent Items holds %d copies", n)
	}
	if n := e.copies("cand@example.com", "inbox", m.ID); n != 1 {
		t.Errorf("the recipient got %d copies", n)
	}
	sent := e.pub.sent()
	if len(sent) != 1 || sent[0].GetInternetMessageId() != m.InternetMessageID || sent[0].GetConversationId() != m.ConversationID ||
		sent[0].GetProviderMessageId() != m.DraftID || sent[0].GetIdempotencyKey() != "k1" {
		t.Errorf("message.sent %v", sent)
	}
	// Its job running again (a redelivery) does nothing.
	if _, err := e.work(m); err != nil || len(e.pub.sent()) != 1 {
		t.Errorf("second run: %v, %d events", err, len(e.pub.sent()))
	}
}

// A crash between the draft and its record: the draft is orphaned, a new
// one is made and sent, and the cleanup deletes the orphan.
func TestACrashBetweenDraftAndRecordNeverSendsTheOrphan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	crashOnce(e.worker, "after-draft")
	m := e.submit(mb, "k1", "cand@example.com")
	if _, err := e.work(m); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v", err)
	}
	m = e.drain(m, 5)
	if m.State != store.StateSent || !m.MayHaveOrphans {
		t.Fatalf("message %+v", m)
	}
	if n := e.copies(adele, "drafts", m.ID); n != 1 {
		t.Fatalf("Drafts holds %d drafts of it before the cleanup", n)
	}
	if err := e.cleaner.clean(e.ctx, mb.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.copies(adele, "drafts", m.ID); n != 0 {
		t.Errorf("Drafts holds %d drafts of it after the cleanup", n)
	}
	if n := e.copies("cand@example.com", "inbox", m.ID); n != 1 {
		t.Errorf("the recipient got %d copies", n)
	}
	if e.message(m.ID).MayHaveOrphans {
		t.Error("the mark stays after the cleanup")
	}
}

// A crash after "send attempted" was recorded and before send was called:
// the draft stays a draft; only past ConfirmAfter is it sent, once.
func TestACrashBeforeTheSendCallSendsOnceAfterTheConfirmWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	crashOnce(e.worker, "before-send")
	m := e.submit(mb, "k1", "cand@example.com")
	if _, err := e.work(m); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v", err)
	}
	if got := e.message(m.ID); got.State != store.StateSending {
		t.Fatalf("state %s", got.State)
	}
	// Still a draft, right after: no proof it did not leave.
	snooze, err := e.work(m)
	if err != nil || snooze <= 0 || e.message(m.ID).State != store.StateSending {
		t.Fatalf("within the window: snooze %s, %v, %s", snooze, err, e.message(m.ID).State)
	}
	if n := e.copies("cand@example.com", "inbox", m.ID); n != 0 {
		t.Fatalf("sent within the window: %d", n)
	}
	e.advance(2*time.Minute + time.Second)
	m = e.drain(m, 3)
	if m.State != store.StateSent {
		t.Fatalf("state %s", m.State)
	}
	if n := e.copies("cand@example.com", "inbox", m.ID); n != 1 {
		t.Errorf("the recipient got %d copies", n)
	}
}

// A crash after Graph accepted the send and before it was recorded, with
// Graph filing the message late: the worker waits for Graph, not for a
// second send.
func TestACrashAfterTheSendWithGraphsDelayIsNotSentTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.ctl.SetGraphLimits(e.ctx, simclient.GraphLimits{SentItemsDelayMs: 30_000}); err != nil {
		t.Fatal(err)
	}
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	crashOnce(e.worker, "after-send")
	m := e.submit(mb, "k1", "cand@example.com")
	if _, err := e.work(m); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v", err)
	}
	for range 3 {
		if snooze, err := e.work(m); err != nil || snooze <= 0 {
			t.Fatalf("waiting for Graph: %s, %v", snooze, err)
		}
		e.advance(2 * time.Second)
	}
	if _, err := e.ctl.AdvanceClock(e.ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	m = e.drain(m, 2)
	if m.State != store.StateSent {
		t.Fatalf("state %s", m.State)
	}
	if n := e.copies("cand@example.com", "inbox", m.ID); n != 1 {
		t.Errorf("the recipient got %d copies", n)
	}
	if n, err := e.ctl.Counter(e.ctx, "graph.sentAgain"); err != nil || n != 0 {
		t.Errorf("sent again %d times, %v", n, err)
	}
}

// A send whose answer is lost (a 502 after the POST reached Graph) is
// settled from what Graph shows.
func TestAnUnknownOutcomeIsSettledFromGraph(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	if _, err := e.ctl.AddFault(e.ctx, simclient.Fault{Endpoint: "graph.sendDraft", Status: 504, Count: 1}); err != nil {
		t.Fatal(err)
	}
	m := e.submit(mb, "k1", "cand@example.com")
	if _, err := e.work(m); err == nil || e.message(m.ID).State != store.StateSending {
		t.Fatalf("first run: %v, %s", err, e.message(m.ID).State)
	}
	e.advance(2*time.Minute + time.Second)
	m = e.drain(m, 3)
	if n := e.copies("cand@example.com", "inbox", m.ID); m.State != store.StateSent || n != 1 {
		t.Errorf("state %s, %d copies", m.State, n)
	}
}

func TestA429IsHonouredForThatMailboxOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.connect(mailboxA, org, adele, store.StatusChange{})
	b := e.connect(mailboxB, org, providersim.DemoContosoAdmin, store.StatusChange{})
	if _, err := e.ctl.AddFault(e.ctx, simclient.Fault{Endpoint: "graph.sendDraft", Mailbox: adele, Status: 429, RetryAfter: "7.25", Count: 10}); err != nil {
		t.Fatal(err)
	}
	ma := e.submit(a, "ka", "cand@example.com")
	snooze, err := e.work(ma)
	if err != nil || snooze < 7250*time.Millisecond || snooze > 8*time.Second {
		t.Fatalf("throttled mailbox: snooze %s, %v", snooze, err)
	}
	if got := e.message(ma.ID); got.State != store.StateDrafted || got.SendAttemptedAt != nil {
		t.Errorf("a refused send goes back to drafted: %+v", got)
	}
	mbm := e.drain(e.submit(b, "kb", "cand2@example.com"), 5)
	if mbm.State != store.StateSent {
		t.Errorf("the other mailbox waits too: %s", mbm.State)
	}
}

func TestMessagesOfAMailboxGoInSubmitOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{MinGap: 0})
	first := e.submit(mb, "k1", "cand@example.com")
	second := e.submit(mb, "k2", "cand@example.com")
	snooze, err := e.work(second)
	if err != nil || snooze != 30*time.Second || e.message(second.ID).State != store.StateQueued {
		t.Fatalf("the second before the first: %s, %v", snooze, err)
	}
	e.drain(first, 5)
	e.drain(second, 5)
	if !e.message(first.ID).SentAt.Before(*e.message(second.ID).SentAt) && !e.message(first.ID).SentAt.Equal(*e.message(second.ID).SentAt) {
		t.Error("sent out of order")
	}
}

func TestTheMailboxsOwnLimitsHoldTheNextMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{DailyMessageLimit: 2, MinGap: 10 * time.Second})
	e.drain(e.submit(mb, "k1", "cand@example.com"), 5)
	m2 := e.submit(mb, "k2", "cand@example.com")
	snooze, err := e.work(m2)
	if err != nil || snooze != 10*time.Second {
		t.Fatalf("minimum gap: %s, %v", snooze, err)
	}
	e.advance(snooze)
	e.drain(m2, 5)
	m3 := e.submit(mb, "k3", "cand@example.com")
	snooze, err = e.work(m3)
	if err != nil || snooze < 23*time.Hour || snooze > 24*time.Hour {
		t.Fatalf("daily limit: %s, %v", snooze, err)
	}
	if got := e.message(m3.ID); got.StatusReason == "" || got.State != store.StateDrafted {
		t.Errorf("waiting message %+v", got)
	}
}

func TestAMailboxWithoutATokenHoldsItsQueueUntilReconnected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	token, err := e.tokens.AccessToken(e.ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.tokens.Remove(mb.ID)
	m := e.submit(mb, "k1", "cand@example.com")
	snooze, err := e.work(m)
	if err != nil || snooze != 2*time.Minute {
		t.Fatalf("held: %s, %v", snooze, err)
	}
	if got := e.message(m.ID); got.State != store.StateQueued || got.StatusReason != holdReason {
		t.Errorf("held message %+v", got)
	}
	e.tokens.Set(mb.ID, token)
	if got := e.drain(m, 5); got.State != store.StateSent {
		t.Errorf("after reconnecting: %s", got.State)
	}
}

func TestSubmitIsIdempotentPerCallerAndKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	s := Submission{OrgID: org, MailboxID: mb.ID, Caller: caller, To: []Recipient{{Address: "cand@example.com"}},
		Subject: "Hi", HTMLBody: "<p>x</p>", IdempotencyKey: "enrollment-1/step-1"}
	first, created, err := e.pipeline.Submit(e.ctx, s)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	again, created, err := e.pipeline.Submit(e.ctx, s)
	if err != nil || created || again.ID != first.ID {
		t.Errorf("retry: %v %v %v", again.ID, created, err)
	}
	changed := s
	changed.Subject = "Other"
	if _, _, err := e.pipeline.Submit(e.ctx, changed); !errors.Is(err, apperr.ErrAlreadyExists) {
		t.Errorf("reused key: %v", err)
	}
	other := s
	other.Caller = "flows"
	if m, created, err := e.pipeline.Submit(e.ctx, other); err != nil || !created || m.ID == first.ID {
		t.Errorf("another caller's key: %v %v", created, err)
	}
	foreign := s
	foreign.OrgID, foreign.IdempotencyKey = otherOrg, "x"
	if _, _, err := e.pipeline.Submit(e.ctx, foreign); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("another organization's mailbox: %v", err)
	}
	for name, bad := range map[string]Submission{
		"to":              {OrgID: org, MailboxID: mb.ID, Caller: caller, Subject: "x", HTMLBody: "x", IdempotencyKey: "b1"},
		"to[0].address":   {OrgID: org, MailboxID: mb.ID, Caller: caller, To: []Recipient{{Address: "Ada <a@x.example>"}}, Subject: "x", HTMLBody: "x", IdempotencyKey: "b2"},
		"subject":         {OrgID: org, MailboxID: mb.ID, Caller: caller, To: []Recipient{{Address: "a@x.example"}}, HTMLBody: "x", IdempotencyKey: "b3"},
		"html_body":       {OrgID: org, MailboxID: mb.ID, Caller: caller, To: []Recipient{{Address: "a@x.example"}}, Subject: "x", IdempotencyKey: "b4"},
		"idempotency_key": {OrgID: org, MailboxID: mb.ID, Caller: caller, To: []Recipient{{Address: "a@x.example"}}, Subject: "x", HTMLBody: "x"},
	} {
		_, _, err := e.pipeline.Submit(e.ctx, bad)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != name {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCancelStopsAMessageBeforeItLeavesOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	crashOnce(e.worker, "before-send")
	leaving := e.submit(mb, "k1", "cand@example.com")
	if _, err := e.work(leaving); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	if _, err := e.pipeline.Cancel(e.ctx, org, leaving.ID); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Errorf("cancel while sending: %v", err)
	}
	if _, err := e.pipeline.Cancel(e.ctx, otherOrg, leaving.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("cancel from another organization: %v", err)
	}
	queued := e.submit(mb, "k2", "cand@example.com")
	got, err := e.pipeline.Cancel(e.ctx, org, queued.ID)
	if err != nil || got.State != store.StateCancelled {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	if _, err := e.work(queued); err != nil || e.message(queued.ID).State != store.StateCancelled {
		t.Errorf("a cancelled message's job: %v", err)
	}
	if n := e.copies("cand@example.com", "inbox", queued.ID); n != 0 {
		t.Errorf("a cancelled message went: %d", n)
	}
}

func TestAMailboxsMessagesArePagedNewestFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	var ids []string
	for _, k := range []string{"k1", "k2", "k3"} {
		ids = append(ids, e.submit(mb, k, "cand@example.com").ID)
	}
	page, next, err := e.pipeline.List(e.ctx, org, mb.ID, 2, "")
	if err != nil || len(page) != 2 || next == "" || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("first page: %d, %q, %v", len(page), next, err)
	}
	page, next, err = e.pipeline.List(e.ctx, org, mb.ID, 2, next)
	if err != nil || len(page) != 1 || next != "" || page[0].ID != ids[0] {
		t.Fatalf("second page: %d, %q, %v", len(page), next, err)
	}
	if _, _, err := e.pipeline.List(e.ctx, org, mb.ID, 2, "not-a-token"); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Errorf("a bad token: %v", err)
	}
	if _, _, err := e.pipeline.List(e.ctx, org, mb.ID, 201, ""); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Errorf("a page too large: %v", err)
	}
	if _, _, err := e.pipeline.List(e.ctx, otherOrg, mb.ID, 2, ""); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("another organization's mailbox: %v", err)
	}
}

// A message cancelled after its draft was made never sends it: the draft
// is deleted by the cleanup its cancel enqueued.
func TestACancelledMessagesDraftIsDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{MinGap: time.Hour})
	e.drain(e.submit(mb, "k1", "cand@example.com"), 5)
	// The gap holds the second message once its draft is made.
	m := e.submit(mb, "k2", "cand@example.com")
	if snooze, err := e.work(m); err != nil || snooze <= 0 || e.message(m.ID).State != store.StateDrafted {
		t.Fatalf("waiting for the gap: %s, %v, %s", snooze, err, e.message(m.ID).State)
	}
	if n := e.copies(adele, "drafts", m.ID); n != 1 {
		t.Fatalf("%d drafts", n)
	}
	got, err := e.pipeline.Cancel(e.ctx, org, m.ID)
	if err != nil || got.State != store.StateCancelled || !got.MayHaveOrphans {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	if err := e.cleaner.clean(e.ctx, mb.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.copies(adele, "drafts", m.ID); n != 0 {
		t.Errorf("%d drafts left", n)
	}
	if n := e.copies("cand@example.com", "inbox", m.ID); n != 0 {
		t.Errorf("a cancelled message went: %d", n)
	}
	if e.message(m.ID).MayHaveOrphans {
		t.Error("the mark stays")
	}
	h, err := e.pipeline.Health(e.ctx, mb)
	if err != nil || h.QueueDepth != 0 || h.SentToday != 1 || h.SentLastMinute != 1 || !h.NextSendTime.IsZero() {
		t.Errorf("health %+v, %v", h, err)
	}
}
