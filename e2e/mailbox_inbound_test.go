package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// inboundWorld is a stack with a recruiter whose mailbox is connected and
// subscribed, and the clients the inbound tests use.
type inboundWorld struct {
	t       *testing.T
	s       *stack.Stack
	ctl     *simclient.Client
	userAPI api
	conn    *identityv1.Connection
	send    mailboxv1.MailboxServiceClient
	inbound mailboxv1.MailboxInboundServiceClient
	sub     simclient.Subscription
}

// newInboundWorld starts a stack whose scheduled catch-up runs at start and
// then only hourly, so what a test sees between restarts came from
// notifications.
func newInboundWorld(t *testing.T) *inboundWorld {
	t.Helper()
	s := stack.Start(t, binDir, stack.Options{Env: []string{"TANDEM_INBOUND_CATCH_UP_EVERY=1h"}})
	w := &inboundWorld{t: t, s: s, ctl: sim(t, s)}
	w.userAPI, w.conn = connectedMailbox(t, s, contosoUser)
	cc, err := grpc.NewClient(s.Procs["mailbox"].Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	w.send, w.inbound = mailboxv1.NewMailboxServiceClient(cc), mailboxv1.NewMailboxInboundServiceClient(cc)
	// Connecting subscribes the mailbox's Inbox, with the gateway's URLs.
	poll.Until(t, 60*time.Second, func() error {
		subs, err := w.ctl.Subscriptions(t.Context())
		if err != nil {
			return err
		}
		if len(subs) != 1 {
			return fmt.Errorf("%d subscriptions", len(subs))
		}
		w.sub = subs[0]
		return nil
	})
	if w.sub.NotificationURL != s.GatewayURL+"/webhooks/graph" || w.sub.LifecycleNotificationURL != s.GatewayURL+"/webhooks/graph/lifecycle" ||
		w.sub.Mailbox != contosoUser || w.sub.ChangeType != "created" {
		t.Fatalf("subscription %+v", w.sub)
	}
	// The first catch-up (at start and after the subscription) has run.
	poll.Until(t, 60*time.Second, func() error {
		st := &mailboxv1.GetInboundSyncStateResponse{}
		w.userAPI.must("GET", "/v1/inboundSyncState", nil, st)
		if st.GetLastCatchUpTime() == nil || !st.GetHasSyncCursor() || st.GetSubscriptionStatus() != "active" {
			return fmt.Errorf("sync state %v", st)
		}
		return nil
	})
	return w
}

// asOutreachService calls mailbox as outreach does.
func asOutreachService(ctx context.Context, s *stack.Stack) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-tandem-service-token", s.ServiceToken, "x-tandem-service", "outreach")
}

// sendTo submits a message through mailbox's SubmitMessage, as outreach
// does, waits until it left and the recipient holds it, and returns it.
func (w *inboundWorld) sendTo(to, subject, key string) *mailboxv1.Message {
	w.t.Helper()
	req := &mailboxv1.SubmitMessageRequest{OrganizationId: w.conn.GetOrganizationId(), MailboxId: w.conn.GetId(),
		To: []*mailboxv1.Recipient{{Address: to}}, Subject: subject, HtmlBody: "<p>" + subject + "</p>", IdempotencyKey: key}
	var msg *mailboxv1.Message
	poll.Until(w.t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(asOutreachService(w.t.Context(), w.s), 10*time.Second)
		defer cancel()
		if msg == nil {
			resp, err := w.send.SubmitMessage(ctx, req)
			if status.Code(err) == codes.NotFound {
				return err // identity's mailbox.connected is on its way
			}
			if err != nil {
				w.t.Fatalf("submit: %v", err)
			}
			msg = resp.GetMessage()
		}
		resp, err := w.send.GetMessage(ctx, &mailboxv1.GetMessageRequest{OrganizationId: w.conn.GetOrganizationId(), MessageId: msg.GetId()})
		if err != nil {
			return err
		}
		if resp.GetMessage().GetState() != mailboxv1.MessageState_MESSAGE_STATE_SENT {
			return fmt.Errorf("message is %v", resp.GetMessage().GetState())
		}
		msg = resp.GetMessage()
		return nil
	})
	return msg
}

// delivered waits until address holds the message.
func (w *inboundWorld) delivered(address, internetID string) {
	w.t.Helper()
	poll.Until(w.t, 30*time.Second, func() error {
		list, err := w.ctl.Messages(w.t.Context(), address, "inbox")
		if err != nil {
			return err
		}
		for _, m := range list {
			if m.InternetMessageID == internetID {
				return nil
			}
		}
		return errors.New("not delivered yet")
	})
}

// inboundMessages lists the recruiter's inbound messages over REST.
func (w *inboundWorld) inboundMessages() []*mailboxv1.InboundMessage {
	w.t.Helper()
	out := &mailboxv1.ListInboundMessagesResponse{}
	w.userAPI.must("GET", "/v1/inboundMessages?pageSize=200", nil, out)
	return out.GetInboundMessages()
}

// waitInbound waits until n inbound messages are recorded (through a
// mailbox restart too: it retries an answer that is not 200).
func (w *inboundWorld) waitInbound(n int, within time.Duration) []*mailboxv1.InboundMessage {
	w.t.Helper()
	var list []*mailboxv1.InboundMessage
	poll.Until(w.t, within, func() error {
		out := &mailboxv1.ListInboundMessagesResponse{}
		if code, body := w.userAPI.call("GET", "/v1/inboundMessages?pageSize=200", nil, out); code != http.StatusOK {
			return fmt.Errorf("list: %d %s", code, body)
		}
		list = out.GetInboundMessages()
		if len(list) != n {
			return fmt.Errorf("%d inbound messages, want %d", len(list), n)
		}
		return nil
	})
	return list
}

// notificationsSettled waits until the simulator has no notification
// left to post and returns its delivery log.
func (w *inboundWorld) notificationsSettled() []simclient.Delivery {
	w.t.Helper()
	var out []simclient.Delivery
	poll.Until(w.t, 30*time.Second, func() error {
		list, err := w.ctl.Deliveries(w.t.Context())
		if err != nil {
			return err
		}
		for _, d := range list {
			if d.State == simclient.DeliveryPending {
				return errors.New("a notification is on its way")
			}
		}
		out = list
		return nil
	})
	return out
}

func byInternetID(list []*mailboxv1.InboundMessage, id string) *mailboxv1.InboundMessage {
	for _, m := range list {
		if m.GetInternetMessageId() == id {
			return m
		}
	}
	return nil
}

// MB-3 (detection): the candidate's reply is detected from Graph's change
// notification, through the gateway; with the notification dropped, from
// the scheduled delta catch-up; each recorded once.
func TestScenario_MB_3(t *testing.T) {
	w := newInboundWorld(t)
	ctx := t.Context()
	const candidate = "jo.candidate@example.org"
	sent := w.sendTo(candidate, "A role at Contoso", "mb3/step-1")
	w.delivered(candidate, sent.GetInternetMessageId())

	// Graph delivers the notification twice; it is recorded once.
	if err := w.ctl.AddNotificationFault(ctx, simclient.NotificationFault{Mode: simclient.NotifyDuplicate}); err != nil {
		t.Fatal(err)
	}
	reply, err := w.ctl.Reply(ctx, simclient.Reply{From: candidate, InternetMessageID: sent.GetInternetMessageId(), Body: "Yes, let's talk."})
	if err != nil {
		t.Fatal(err)
	}
	got := w.waitInbound(1, 30*time.Second)[0]
	if got.GetKind() != mailboxv1.InboundKind_INBOUND_KIND_REPLY || got.GetDetectedBy() != "notification" ||
		got.GetSentMessageId() != sent.GetId() || got.GetSentIdempotencyKey() != "mb3/step-1" ||
		got.GetInternetMessageId() != reply.InternetMessageID || got.GetConversationId() != sent.GetConversationId() ||
		got.GetFromAddress() != candidate || got.GetMatchMethod() != "conversation" {
		t.Fatalf("recorded %v", got)
	}
	// Both POSTs (the batch and its duplicate) are acknowledged with 202.
	poll.Until(t, 30*time.Second, func() error {
		ds, err := w.ctl.Deliveries(ctx)
		if err != nil {
			return err
		}
		acked := 0
		for _, d := range ds {
			if d.Kind == "change" && d.State == simclient.DeliveryDelivered {
				acked++
				if d.Statuses[len(d.Statuses)-1] != http.StatusAccepted {
					t.Fatalf("the gateway answered %v", d.Statuses)
				}
			}
		}
		if acked < 2 {
			return fmt.Errorf("%d notifications acknowledged, want the reply's twice", acked)
		}
		return nil
	})
	w.notificationsSettled()
	if n := len(w.inboundMessages()); n != 1 {
		t.Fatalf("%d inbound messages after a repeated notification, want 1", n)
	}

	// The next answer's notification is lost; the scheduled catch-up (it
	// runs when mailbox starts, and on its interval) finds it.
	if err := w.ctl.AddNotificationFault(ctx, simclient.NotificationFault{Mode: simclient.NotifyDrop}); err != nil {
		t.Fatal(err)
	}
	second, err := w.ctl.Reply(ctx, simclient.Reply{From: candidate, InternetMessageID: sent.GetInternetMessageId(), Body: "Also, Tuesday works."})
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, d := range w.notificationsSettled() {
		if d.State == simclient.DeliveryDropped {
			dropped++
		}
	}
	if dropped != 1 {
		t.Fatalf("%d notifications dropped, want 1", dropped)
	}
	if n := len(w.inboundMessages()); n != 1 {
		t.Fatalf("%d inbound messages before the catch-up, want 1", n)
	}
	w.s.Procs["mailbox"].Stop()
	w.s.Procs["mailbox"].Start()
	list := w.waitInbound(2, 60*time.Second)
	found := byInternetID(list, second.InternetMessageID)
	if found == nil || found.GetDetectedBy() != "catch_up" || found.GetKind() != mailboxv1.InboundKind_INBOUND_KIND_REPLY || found.GetSentMessageId() != sent.GetId() {
		t.Fatalf("after the catch-up: %v", list)
	}
	if again := byInternetID(list, reply.InternetMessageID); again == nil || again.GetId() != got.GetId() {
		t.Fatalf("the first reply changed: %v", again)
	}
	st := &mailboxv1.GetInboundSyncStateResponse{}
	w.userAPI.must("GET", "/v1/inboundSyncState", nil, st)
	if st.GetInboundMessages() != 2 || st.GetSubscriptionExpireTime().AsTime().Before(time.Now().Add(6*24*time.Hour)) {
		t.Fatalf("sync state %v", st)
	}
	// The mailbox's health says the same.
	health := &mailboxv1.GetMailboxHealthResponse{}
	w.userAPI.must("GET", "/v1/mailboxes/"+w.conn.GetId()+"/health", nil, health)
	if h := health.GetHealth(); h.GetSubscriptionStatus() != "active" || !h.GetSubscriptionExpireTime().AsTime().Equal(st.GetSubscriptionExpireTime().AsTime()) ||
		h.GetLastCatchUpTime() == nil {
		t.Fatalf("health %v", h)
	}
}

// MB-6: an out-of-office auto-reply is not taken for a reply; a bounce
// marks the message bounced and the address undeliverable.
func TestScenario_MB_6(t *testing.T) {
	w := newInboundWorld(t)
	ctx := t.Context()
	const candidate, nobody = "away@example.org", "no.such.person@example.net"
	away := w.sendTo(candidate, "Are you open to a chat?", "mb6/away")
	w.delivered(candidate, away.GetInternetMessageId())
	ooo, err := w.ctl.AutoReply(ctx, simclient.AutoReply{From: candidate, InternetMessageID: away.GetInternetMessageId()})
	if err != nil {
		t.Fatal(err)
	}
	bounced := w.sendTo(nobody, "A role for you", "mb6/bounce")
	ndr, err := w.ctl.Bounce(ctx, simclient.Bounce{InternetMessageID: bounced.GetInternetMessageId()})
	if err != nil {
		t.Fatal(err)
	}
	list := w.waitInbound(2, 30*time.Second)
	auto := byInternetID(list, ooo.InternetMessageID)
	if auto == nil || auto.GetKind() != mailboxv1.InboundKind_INBOUND_KIND_AUTO_REPLY || auto.GetSentMessageId() != away.GetId() {
		t.Fatalf("out of office: %v", auto)
	}
	nd := byInternetID(list, ndr.InternetMessageID)
	if nd == nil || nd.GetKind() != mailboxv1.InboundKind_INBOUND_KIND_BOUNCE || nd.GetSentMessageId() != bounced.GetId() ||
		nd.GetBouncedRecipient() != nobody || !nd.GetBouncePermanent() || nd.GetBounceStatus() != "5.1.1" {
		t.Fatalf("bounce: %v", nd)
	}
	// The address is undeliverable for the organization; the one that
	// answered automatically is not.
	resp, err := w.inbound.CheckRecipients(asOutreachService(ctx, w.s), &mailboxv1.CheckRecipientsRequest{
		OrganizationId: w.conn.GetOrganizationId(), Addresses: []string{"No.Such.Person@Example.net", candidate}})
	if err != nil {
		t.Fatal(err)
	}
	if u := resp.GetUndeliverable(); len(u) != 1 || u[0].GetAddress() != nobody || u[0].GetInboundMessageId() != nd.GetId() {
		t.Fatalf("undeliverable %v", u)
	}
	// Checking recipients is for services only.
	if _, err := w.inbound.CheckRecipients(ctx, &mailboxv1.CheckRecipientsRequest{OrganizationId: w.conn.GetOrganizationId(), Addresses: []string{nobody}}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("CheckRecipients without a service token: %v", err)
	}
}

// The negative tests of inbound mail: a notification with a wrong
// clientState changes nothing; a forged validation request gets nothing
// useful; a message from an unknown sender in an unrelated thread is not
// taken for a reply; another organization sees none of it.
func TestMailboxInboundRefusesWhatIsNotGraphOrNotAReply(t *testing.T) {
	w := newInboundWorld(t)
	ctx := t.Context()
	hook := w.s.GatewayURL + "/webhooks/graph"
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(rawURL, contentType, body string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body == "" {
			req.Body = http.NoBody
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, string(b)
	}

	t.Run("forged validation", func(t *testing.T) {
		// Graph's own handshake works.
		if code, h, body := post(hook+"?validationToken="+url.QueryEscape("Validation: Testing client application reachability"), "text/plain", ""); code != http.StatusOK ||
			body != "Validation: Testing client application reachability" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			t.Fatalf("handshake: %d %q", code, body)
		}
		for name, q := range map[string]struct{ query, body string }{
			"markup":           {"validationToken=" + url.QueryEscape(`<html><script>alert(document.cookie)</script>`), ""},
			"a body too":       {"validationToken=abc", `{"value":[]}`},
			"too long":         {"validationToken=" + strings.Repeat("A", 600), ""},
			"header injection": {"validationToken=" + url.QueryEscape("x\r\nSet-Cookie: s=1"), ""},
		} {
			code, h, body := post(hook+"?"+q.query, "text/plain", q.body)
			if code != http.StatusBadRequest || strings.Contains(body, "<script") || strings.Contains(body, "abc") ||
				strings.Contains(body, "AAAA") || h.Get("Set-Cookie") != "" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: %d %q %v", name, code, body, h)
			}
		}
	})

	t.Run("wrong clientState", func(t *testing.T) {
		const candidate = "sam.candidate@example.org"
		sent := w.sendTo(candidate, "Hello Sam", "neg/step-1")
		w.delivered(candidate, sent.GetInternetMessageId())
		before := len(w.inboundMessages())
		// The reply's own notification is lost, so only ours could tell.
		if err := w.ctl.AddNotificationFault(ctx, simclient.NotificationFault{Mode: simclient.NotifyDrop}); err != nil {
			t.Fatal(err)
		}
		reply, err := w.ctl.Reply(ctx, simclient.Reply{From: candidate, InternetMessageID: sent.GetInternetMessageId(), Body: "Hi"})
		if err != nil {
			t.Fatal(err)
		}
		w.notificationsSettled()
		// The id Graph's notification would name: the recruiter's copy.
		copyID := ""
		inbox, err := w.ctl.Messages(ctx, contosoUser, "inbox")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range inbox {
			if m.InternetMessageID == reply.InternetMessageID {
				copyID = m.ImmutableID
			}
		}
		if copyID == "" {
			t.Fatal("the reply is not in the recruiter's inbox")
		}
		forged := func(clientState string) string {
			return `{"value":[{"subscriptionId":"` + w.sub.ID + `","clientState":"` + clientState + `","changeType":"created",` +
				`"resource":"Users/x/Messages/` + copyID + `","resourceData":{"id":"` + copyID + `"},"tenantId":"t"},` +
				`{"subscriptionId":"` + w.sub.ID + `","clientState":"` + clientState + `","lifecycleEvent":"subscriptionRemoved"}]}`
		}
		for _, cs := range []string{"guess", "", w.sub.ClientState[:len(w.sub.ClientState)-1]} {
			if code, _, body := post(hook, "application/json", forged(cs)); code != http.StatusAccepted {
				t.Fatalf("forged notification: %d %s", code, body)
			}
		}
		// Nothing changed: no message recorded, the subscription is the
		// same one (the forged subscriptionRemoved did nothing).
		st := &mailboxv1.GetInboundSyncStateResponse{}
		w.userAPI.must("GET", "/v1/inboundSyncState", nil, st)
		if n := len(w.inboundMessages()); n != before || st.GetInboundMessages() != int64(before) {
			t.Fatalf("%d inbound messages after forged notifications, want %d", n, before)
		}
		if subs, err := w.ctl.Subscriptions(ctx); err != nil || len(subs) != 1 || subs[0].ID != w.sub.ID {
			t.Fatalf("the subscription changed: %v %v", subs, err)
		}
		// With the right clientState the same notification is taken: the
		// forged ones were refused for their secret, nothing else.
		if code, _, body := post(hook, "application/json", `{"value":[{"subscriptionId":"`+w.sub.ID+`","clientState":"`+w.sub.ClientState+
			`","changeType":"created","resourceData":{"id":"`+copyID+`"}}]}`); code != http.StatusAccepted {
			t.Fatalf("notification: %d %s", code, body)
		}
		list := w.waitInbound(before+1, 30*time.Second)
		if got := byInternetID(list, reply.InternetMessageID); got == nil || got.GetKind() != mailboxv1.InboundKind_INBOUND_KIND_REPLY {
			t.Fatalf("recorded %v", list)
		}
	})

	t.Run("an unknown sender in an unrelated thread", func(t *testing.T) {
		before := len(w.inboundMessages())
		msg, err := w.ctl.Inbound(ctx, simclient.InboundMessage{From: simclient.Address{Address: "stranger@example.com", Name: "A Stranger"},
			To: []simclient.Address{{Address: contosoUser}}, Subject: "RE: A role at Contoso", Body: "Is this still open?",
			Headers: []simclient.Header{{Name: "In-Reply-To", Value: "<unrelated@example.com>"}}})
		if err != nil {
			t.Fatal(err)
		}
		list := w.waitInbound(before+1, 30*time.Second)
		got := byInternetID(list, msg.InternetMessageID)
		if got == nil || got.GetKind() != mailboxv1.InboundKind_INBOUND_KIND_UNRELATED || got.GetSentMessageId() != "" || got.GetMatchMethod() != "" {
			t.Fatalf("a stranger's mail: %v", got)
		}
	})

	t.Run("another organization", func(t *testing.T) {
		_, otherAPI := signedIn(t, w.s, newBrowser(t, w.s), as{email: fabrikamAdmin, consentForOrg: true})
		code, body := otherAPI.call("GET", "/v1/inboundMessages?connectionId="+w.conn.GetId(), nil, nil)
		wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
		code, body = otherAPI.call("GET", "/v1/inboundSyncState", nil, nil)
		wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	})
}

// BenchmarkGraphNotificationsAcknowledged posts Graph notifications to the
// gateway's /webhooks/graph from 8 clients at once, each POST carrying one
// (or ten, as Graph batches them) change notifications of the real
// subscription with its real secret, and reports the notifications
// acknowledged per second and the POSTs' p50 and p99: the gateway's
// parsing, mailbox's AcceptNotifications (the subscription read, the
// constant-time check) and the fetch jobs stored in Postgres, all before
// the 202. The fetch jobs then run behind it, against the simulator.
func BenchmarkGraphNotificationsAcknowledged(b *testing.B) {
	s := stack.Start(b, binDir, stack.Options{Env: []string{"TANDEM_LOG_LEVEL=warn", "TANDEM_INBOUND_CATCH_UP_EVERY=1h"}})
	ctl := sim(b, s)
	connected := func() simclient.Subscription {
		var sub simclient.Subscription
		poll.Until(b, 60*time.Second, func() error {
			subs, err := ctl.Subscriptions(context.Background())
			if err != nil || len(subs) != 1 {
				return fmt.Errorf("%d subscriptions: %w", len(subs), err)
			}
			sub = subs[0]
			return nil
		})
		return sub
	}
	br := newBrowser(b, s)
	_, userAPI := signedIn(b, s, br, as{email: contosoUser})
	connect := &identityv1.ConnectMailboxResponse{}
	userAPI.must("POST", "/v1/mailboxConnection:connect", &identityv1.ConnectMailboxRequest{}, connect)
	if res := exchange(b, br, loginCode(b, br.walk(br.open(connect.GetAuthorizeUrl()), as{email: contosoUser}))); res.GetOutcome() != "mailbox_connected" {
		b.Fatalf("connect: %v", res)
	}
	sub := connected()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var seq atomic.Int64
	for _, batch := range []int{1, 10} {
		b.Run(fmt.Sprintf("notifications=%d", batch), func(b *testing.B) {
			var (
				mu   sync.Mutex
				took []time.Duration
			)
			one := func() string {
				id := fmt.Sprintf("AAMkBench%09d", seq.Add(1))
				return `{"subscriptionId":"` + sub.ID + `","clientState":"` + sub.ClientState +
					`","changeType":"created","resource":"Users/u/Messages/` + id + `","resourceData":{"id":"` + id + `"},"tenantId":"t"}`
			}
			b.SetParallelism(4) // 8 clients on 2 cores
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				mine := make([]time.Duration, 0, 1024)
				for pb.Next() {
					items := make([]string, batch)
					for i := range items {
						items[i] = one()
					}
					req, err := http.NewRequest(http.MethodPost, s.GatewayURL+"/webhooks/graph", strings.NewReader(`{"value":[`+strings.Join(items, ",")+`]}`))
					if err != nil {
						b.Error(err)
						return
					}
					req.Header.Set("Content-Type", "application/json")
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := io.Copy(io.Discard, resp.Body); err != nil {
						b.Error(err)
					}
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				took = append(took, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			elapsed := time.Since(start)
			if len(took) == 0 {
				return
			}
			p50, p99 := percentiles(took)
			b.ReportMetric(float64(len(took)*batch)/elapsed.Seconds(), "notifications/s")
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		})
	}
}
