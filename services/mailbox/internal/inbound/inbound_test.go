package inbound_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/match"
	"github.com/tandemhq/tandem/services/mailbox/internal/subscriptions"
)

// send sends a message from the recruiter to to through Graph (draft and
// send, as the pipeline does), waits for its delivery and records it as
// sent.
func (e *env) send(subject, to string) match.Sent {
	e.t.Helper()
	mb := graph.Mailbox{ConnectionID: mailboxID}
	d, err := e.gc.CreateDraft(e.ctx, mb, graph.Draft{Subject: subject, HTML: "<p>Hello</p>", To: []graph.Recipient{{Address: to}}})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.gc.Send(e.ctx, mb, d.ID); err != nil {
		e.t.Fatal(err)
	}
	poll.Until(e.t, 10*time.Second, func() error {
		list, err := e.ctl.Messages(e.ctx, to, "inbox")
		if err != nil {
			return err
		}
		for _, m := range list {
			if m.InternetMessageID == d.InternetMessageID {
				return nil
			}
		}
		return errors.New("not delivered yet")
	})
	s := match.Sent{ID: uuid.NewString(), IdempotencyKey: "key-" + subject, InternetMessageID: d.InternetMessageID,
		ConversationID: d.ConversationID, Recipients: []string{match.Address(to)}, SentAt: time.Now().Add(-time.Second)}
	e.sent.add(s)
	return s
}

func (e *env) records() []inbound.Record {
	e.t.Helper()
	list, err := e.st.List(e.ctx, orgID, mailboxID, inbound.Position{}, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// waitRecords waits until n messages are recorded.
func (e *env) waitRecords(n int) []inbound.Record {
	e.t.Helper()
	var list []inbound.Record
	poll.Until(e.t, 20*time.Second, func() error {
		list = e.records()
		if len(list) != n {
			return fmt.Errorf("%d inbound messages, want %d", len(list), n)
		}
		return nil
	})
	return list
}

// settle waits until River has no inbound work left.
func (e *env) settle() {
	e.t.Helper()
	poll.Until(e.t, 20*time.Second, func() error {
		var n int
		if err := e.db.QueryRow(e.ctx, `SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d jobs left", n)
		}
		return nil
	})
}

// deliveries waits until the simulator has no notification left to post.
func (e *env) deliveries() []simclient.Delivery {
	e.t.Helper()
	var out []simclient.Delivery
	poll.Until(e.t, 20*time.Second, func() error {
		list, err := e.ctl.Deliveries(e.ctx)
		if err != nil {
			return err
		}
		for _, d := range list {
			if d.State == simclient.DeliveryPending {
				return errors.New("a notification is still pending")
			}
		}
		out = list
		return nil
	})
	return out
}

func (e *env) jobsOfKind(kind string) int {
	e.t.Helper()
	var n int
	if err := e.db.QueryRow(e.ctx, `SELECT count(*) FROM river_job WHERE kind = $1`, kind).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestReplyFromANotificationIsRecordedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.settle() // the first catch-up, after the subscription was made, is over
	sent := e.send("Role at Tandem", candidate)
	// Graph may deliver a notification twice.
	if err := e.ctl.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: simclient.NotifyDuplicate}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctl.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: sent.InternetMessageID, Body: "Sounds good, call me."}); err != nil {
		t.Fatal(err)
	}
	got := e.waitRecords(1)[0]
	poll.Until(t, 20*time.Second, func() error {
		ds, err := e.ctl.Deliveries(e.ctx)
		if err != nil {
			return err
		}
		delivered := 0
		for _, d := range ds {
			if d.Kind == "change" && d.State == simclient.DeliveryDelivered {
				delivered++
			}
		}
		if delivered < 2 {
			return fmt.Errorf("%d change notifications delivered, want the reply's twice", delivered)
		}
		return nil
	})
	e.settle()
	if n := len(e.records()); n != 1 {
		t.Fatalf("%d inbound messages after a repeated notification, want 1", n)
	}
	if got.Kind != "reply" || got.SentMessageID != sent.ID || got.MatchMethod != string(match.ByConversation) ||
		got.DetectedBy != inbound.ByNotification || got.FromAddress != candidate || got.SentIdempotencyKey != sent.IdempotencyKey {
		t.Fatalf("recorded %+v", got)
	}
	if !strings.Contains(got.Snippet, "Sounds good") {
		t.Errorf("snippet %q", got.Snippet)
	}
	if n := e.outbox(); n != 1 {
		t.Fatalf("%d message.received published, want 1", n)
	}
}

func TestCatchUpFindsWhatNotificationsMissedAndResyncsWithoutDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.settle() // the first catch-up, after the subscription was made
	sent := e.send("Catch-up", candidate)
	if err := e.ctl.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: simclient.NotifyDrop}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctl.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: sent.InternetMessageID, Body: "Found by delta"}); err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, d := range e.deliveries() {
		if d.State == simclient.DeliveryDropped {
			dropped++
		}
	}
	if dropped != 1 || len(e.records()) != 0 {
		t.Fatalf("%d dropped, %d recorded: the notification should be lost", dropped, len(e.records()))
	}
	if err := e.inbox.CatchUp(e.ctx, mailboxID); err != nil {
		t.Fatal(err)
	}
	list := e.records()
	if len(list) != 1 || list[0].Kind != "reply" || list[0].DetectedBy != inbound.ByCatchUp || list[0].SentMessageID != sent.ID {
		t.Fatalf("after the catch-up: %+v", list)
	}
	state := func() inbound.SyncState {
		st, err := e.reader.State(e.ctx, authz.Principal{OrgID: orgID, UserID: userID, Role: authz.RoleRecruiter}, "")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := state(); !st.HasCursor || st.LastCatchUpAt == nil || st.SubscriptionStatus != subscriptions.StatusActive ||
		st.SubscriptionExpiry == nil || st.InboundMessages != 1 {
		t.Fatalf("sync state %+v", st)
	}

	// Again from the cursor: nothing new.
	if err := e.inbox.CatchUp(e.ctx, mailboxID); err != nil {
		t.Fatal(err)
	}
	// Redis lost the cursor: a full round, which finds nothing twice.
	if err := e.cursors.Drop(e.ctx, mailboxID); err != nil {
		t.Fatal(err)
	}
	if err := e.inbox.CatchUp(e.ctx, mailboxID); err != nil {
		t.Fatal(err)
	}
	// Graph forgot the token (410 Gone, then syncStateNotFound): a full round.
	for _, mode := range []string{simclient.DeltaGone, simclient.DeltaSyncStateNotFound} {
		if n, err := e.ctl.ExpireDelta(e.ctx, simclient.DeltaExpiry{Mailbox: recruiter, Mode: mode}); err != nil || n == 0 {
			t.Fatalf("expire %s: %d %v", mode, n, err)
		}
		if err := e.inbox.CatchUp(e.ctx, mailboxID); err != nil {
			t.Fatalf("catch-up after %s: %v", mode, err)
		}
	}
	e.settle()
	if n := len(e.records()); n != 1 {
		t.Fatalf("%d inbound messages after resyncs, want 1", n)
	}
	if n := e.outbox(); n != 1 {
		t.Fatalf("%d message.received published, want 1", n)
	}
	// A second answer while notifications are lost and the cursor is
	// stale is found once too.
	if err := e.ctl.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: simclient.NotifyDrop}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctl.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: sent.InternetMessageID, Body: "And again"}); err != nil {
		t.Fatal(err)
	}
	e.deliveries()
	if _, err := e.ctl.ExpireDelta(e.ctx, simclient.DeltaExpiry{Mailbox: recruiter, Mode: simclient.DeltaGone}); err != nil {
		t.Fatal(err)
	}
	if err := e.inbox.CatchUp(e.ctx, mailboxID); err != nil {
		t.Fatal(err)
	}
	if n := len(e.records()); n != 2 {
		t.Fatalf("%d inbound messages, want 2", n)
	}
	if st := state(); !st.HasCursor || st.InboundMessages != 2 {
		t.Fatalf("sync state %+v", st)
	}
}

func TestWrongClientStateChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.settle()
	subs, err := e.ctl.Subscriptions(e.ctx)
	if err != nil || len(subs) != 1 {
		t.Fatalf("subscriptions %v %v", subs, err)
	}
	before := e.jobsOfKind("inbound_fetch")
	out, err := e.subs.Accept(e.ctx, []subscriptions.Notification{
		{SubscriptionID: subs[0].ID, ClientState: "not-the-secret", MessageID: "AAMkAGI2"},
		{SubscriptionID: subs[0].ID, ClientState: "", MessageID: "AAMkAGI3"},
		{SubscriptionID: "unknown-subscription", ClientState: subs[0].ClientState, MessageID: "AAMkAGI4"},
		{SubscriptionID: subs[0].ID, ClientState: subs[0].ClientState + "x", LifecycleEvent: subscriptions.SubscriptionRemoved},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Accepted != 0 || out.Rejected != 4 {
		t.Fatalf("outcome %+v, want all four rejected", out)
	}
	if after := e.jobsOfKind("inbound_fetch") + e.jobsOfKind("inbox_subscription_lifecycle"); after != before {
		t.Fatalf("jobs went from %d to %d", before, after)
	}
	if now, err := e.ctl.Subscriptions(e.ctx); err != nil || len(now) != 1 || now[0].ID != subs[0].ID {
		t.Fatalf("the subscription changed: %v %v", now, err)
	}
	// The right secret (the simulator shows it) is taken.
	out, err = e.subs.Accept(e.ctx, []subscriptions.Notification{{SubscriptionID: subs[0].ID, ClientState: subs[0].ClientState, MessageID: "AAMkAGI5"}})
	if err != nil || out.Accepted != 1 {
		t.Fatalf("the right clientState: %+v %v", out, err)
	}
}

func TestAutoReplyBounceAndStrangersAreToldApart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ooo := e.send("Out of office test", candidate)
	if _, err := e.ctl.AutoReply(e.ctx, simclient.AutoReply{From: candidate, InternetMessageID: ooo.InternetMessageID}); err != nil {
		t.Fatal(err)
	}
	bounced := e.send("Bounce test", "nobody@example.net")
	if _, err := e.ctl.Bounce(e.ctx, simclient.Bounce{InternetMessageID: bounced.InternetMessageID}); err != nil {
		t.Fatal(err)
	}
	// A stranger writes, in a thread of their own.
	if _, err := e.ctl.Inbound(e.ctx, simclient.InboundMessage{From: simclient.Address{Address: "stranger@example.com"},
		To: []simclient.Address{{Address: recruiter}}, Subject: "Re: your role", Body: "Hi!"}); err != nil {
		t.Fatal(err)
	}
	list := e.waitRecords(3)
	byKind := map[string]inbound.Record{}
	for _, r := range list {
		byKind[r.Kind] = r
	}
	if r := byKind["auto_reply"]; r.SentMessageID != ooo.ID || r.FromAddress != candidate {
		t.Errorf("auto-reply %+v", r)
	}
	if r := byKind["bounce"]; r.SentMessageID != bounced.ID || r.BouncedRecipient != "nobody@example.net" || !r.BouncePermanent || r.BounceStatus != "5.1.1" {
		t.Errorf("bounce %+v", r)
	}
	if r := byKind[inbound.KindUnrelated]; r.FromAddress != "stranger@example.com" || r.SentMessageID != "" {
		t.Errorf("stranger %+v", r)
	}
	if _, ok := byKind["reply"]; ok {
		t.Errorf("something was taken for a reply: %+v", list)
	}
	e.settle()
	if n := e.outbox(); n != 2 {
		t.Errorf("%d message.received, want 2 (the stranger's answers nothing)", n)
	}
	// Paged, newest first, for the owner; nobody else's.
	owner := authz.Principal{OrgID: orgID, UserID: userID, Role: authz.RoleRecruiter}
	page1, next, err := e.reader.List(e.ctx, owner, "", 2, "")
	if err != nil || len(page1) != 2 || next == "" {
		t.Fatalf("page 1: %d %q %v", len(page1), next, err)
	}
	page2, last, err := e.reader.List(e.ctx, owner, mailboxID, 2, next)
	if err != nil || len(page2) != 1 || last != "" || page2[0].ID == page1[0].ID || page2[0].ID == page1[1].ID {
		t.Fatalf("page 2: %+v %q %v", page2, last, err)
	}
	if page1[0].ReceivedAt.Before(page1[1].ReceivedAt) || page1[1].ReceivedAt.Before(page2[0].ReceivedAt) {
		t.Error("not newest first")
	}
	if _, _, err := e.reader.List(e.ctx, owner, "", 2, "not-a-token"); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Errorf("a bad token: %v", err)
	}
	for name, p := range map[string]authz.Principal{
		"a colleague":          {OrgID: orgID, UserID: uuid.NewString(), Role: authz.RoleRecruiter},
		"another organization": {OrgID: uuid.NewString(), UserID: userID, Role: authz.RoleAdmin},
	} {
		if _, _, err := e.reader.List(e.ctx, p, mailboxID, 0, ""); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("%s: %v, want not found", name, err)
		}
	}
	if list, _, err := e.reader.List(e.ctx, authz.Principal{OrgID: orgID, UserID: uuid.NewString(), Role: authz.RoleAdmin}, mailboxID, 0, ""); err != nil || len(list) != 3 {
		t.Errorf("an admin of the organization: %d %v", len(list), err)
	}
	if _, err := e.reader.CheckRecipients(e.ctx, orgID, []string{"not an address"}); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Errorf("a bad address: %v", err)
	}
	und, err := e.reader.CheckRecipients(e.ctx, orgID, []string{"Nobody@Example.net", candidate})
	if err != nil || len(und) != 1 || und[0].Address != "nobody@example.net" || und[0].Status != "5.1.1" {
		t.Fatalf("undeliverable %+v %v", und, err)
	}
	if b, perm, err := e.st.Bounced(e.ctx, bounced.ID); err != nil || !b || !perm {
		t.Fatalf("bounced %v %v %v", b, perm, err)
	}
	if b, _, err := e.st.Bounced(e.ctx, ooo.ID); err != nil || b {
		t.Fatalf("the out-of-office message bounced? %v %v", b, err)
	}
}

func TestLifecycleNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.settle()
	first, err := e.ctl.Subscriptions(e.ctx)
	if err != nil || len(first) != 1 {
		t.Fatalf("subscriptions %v %v", first, err)
	}
	if first[0].LifecycleNotificationURL != e.hook.URL+"/webhooks/graph/lifecycle" || first[0].NotificationURL != e.hook.URL+"/webhooks/graph" ||
		first[0].ChangeType != "created" || !strings.Contains(first[0].Resource, "inbox") {
		t.Fatalf("subscription %+v", first[0])
	}
	if left := time.Until(first[0].ExpirationDateTime); left < 6*24*time.Hour {
		t.Errorf("subscription lives %v, want close to 7 days", left)
	}

	// reauthorizationRequired pauses notifications until reauthorised.
	if err := e.ctl.TriggerLifecycle(e.ctx, first[0].ID, simclient.LifecycleReauthorizationRequired); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, func() error {
		subs, err := e.ctl.Subscriptions(e.ctx)
		if err != nil {
			return err
		}
		if len(subs) != 1 || subs[0].NeedsReauthorization {
			return fmt.Errorf("subscriptions %+v", subs)
		}
		return nil
	})

	// subscriptionRemoved: a new one is made.
	if err := e.ctl.TriggerLifecycle(e.ctx, first[0].ID, simclient.LifecycleSubscriptionRemoved); err != nil {
		t.Fatal(err)
	}
	var second simclient.Subscription
	poll.Until(t, 20*time.Second, func() error {
		subs, err := e.ctl.Subscriptions(e.ctx)
		if err != nil {
			return err
		}
		if len(subs) != 1 || subs[0].ID == first[0].ID {
			return fmt.Errorf("subscriptions %+v", subs)
		}
		second = subs[0]
		return nil
	})
	if second.ClientState == first[0].ClientState {
		t.Error("the new subscription kept the old secret")
	}
	e.settle()
	// The old subscription's secret no longer opens anything.
	out, err := e.subs.Accept(e.ctx, []subscriptions.Notification{{SubscriptionID: first[0].ID, ClientState: first[0].ClientState, MessageID: "x"}})
	if err != nil || out.Rejected != 1 {
		t.Fatalf("the old subscription: %+v %v", out, err)
	}

	// missed: a catch-up finds what the lost notifications said.
	sent := e.send("Missed", candidate)
	if err := e.ctl.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: simclient.NotifyDrop}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctl.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: sent.InternetMessageID, Body: "Hello?"}); err != nil {
		t.Fatal(err)
	}
	e.deliveries()
	if err := e.ctl.TriggerLifecycle(e.ctx, second.ID, simclient.LifecycleMissed); err != nil {
		t.Fatal(err)
	}
	if got := e.waitRecords(1)[0]; got.Kind != "reply" || got.DetectedBy != inbound.ByCatchUp {
		t.Fatalf("after missed: %+v", got)
	}
}

func TestRenewalBeforeExpiryAndRecreationWhenGraphForgot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.settle()
	subs, err := e.ctl.Subscriptions(e.ctx)
	if err != nil || len(subs) != 1 {
		t.Fatalf("subscriptions %v %v", subs, err)
	}
	first := subs[0]
	expiry := func() time.Time {
		var at time.Time
		if err := e.db.QueryRow(e.ctx, `SELECT expires_at FROM inbox_subscriptions WHERE mailbox_id = $1`, mailboxID).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	// Nothing is due a week ahead.
	if n, err := e.subs.ScheduleDue(e.ctx); err != nil || n != 0 {
		t.Fatalf("due: %d %v", n, err)
	}
	// Within a day of expiry it is renewed, at Graph too.
	soon := time.Now().Add(2 * time.Hour)
	if _, err := e.db.Exec(e.ctx, `UPDATE inbox_subscriptions SET expires_at = $2 WHERE mailbox_id = $1`, mailboxID, soon); err != nil {
		t.Fatal(err)
	}
	if n, err := e.subs.ScheduleDue(e.ctx); err != nil || n != 1 {
		t.Fatalf("due: %d %v", n, err)
	}
	poll.Until(t, 20*time.Second, func() error {
		if at := expiry(); at.Before(time.Now().Add(6 * 24 * time.Hour)) {
			return fmt.Errorf("expires %v", at)
		}
		return nil
	})
	now, err := e.ctl.Subscriptions(e.ctx)
	if err != nil || len(now) != 1 || now[0].ID != first.ID || !now[0].ExpirationDateTime.After(first.ExpirationDateTime.Add(-time.Minute)) {
		t.Fatalf("after the renewal: %+v %v", now, err)
	}

	// Graph drops the subscription and its lifecycle notification is lost:
	// the renewal finds it gone and makes a new one.
	if err := e.ctl.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: simclient.NotifyDrop, Lifecycle: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.ctl.TriggerLifecycle(e.ctx, first.ID, simclient.LifecycleSubscriptionRemoved); err != nil {
		t.Fatal(err)
	}
	if err := e.subs.Ensure(e.ctx, mailboxID, false); err != nil {
		t.Fatal(err)
	}
	now, err = e.ctl.Subscriptions(e.ctx)
	if err != nil || len(now) != 1 || now[0].ID == first.ID {
		t.Fatalf("after Graph forgot it: %+v %v", now, err)
	}
	// And notifications reach the new one.
	e.settle()
	sent := e.send("After the recreation", candidate)
	if _, err := e.ctl.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: sent.InternetMessageID, Body: "Got it"}); err != nil {
		t.Fatal(err)
	}
	if got := e.waitRecords(1)[0]; got.DetectedBy != inbound.ByNotification || got.SentMessageID != sent.ID {
		t.Fatalf("recorded %+v", got)
	}
}

// A recipient who writes a new message instead of answering in the thread
// has still answered: matched by their address.
func TestAFreshMessageFromARecipientIsAReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.settle()
	sent := e.send("A role", candidate)
	msg, err := e.ctl.Inbound(e.ctx, simclient.InboundMessage{From: simclient.Address{Address: strings.ToUpper(candidate)},
		To: []simclient.Address{{Address: recruiter}}, Subject: "Question about the role", Body: "Is it remote?"})
	if err != nil {
		t.Fatal(err)
	}
	got := e.waitRecords(1)[0]
	if got.InternetMessageID != msg.InternetMessageID || got.Kind != "reply" || got.MatchMethod != string(match.BySender) || got.SentMessageID != sent.ID {
		t.Fatalf("recorded %+v", got)
	}
}
