package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// markerHeader is the header the mailbox stamps on every message with its
// id (ADR 19).
const markerHeader = "X-Tandem-Message-Key"

// mailboxClient is a gRPC client of one mailbox process.
func mailboxClient(t testing.TB, s *stack.Stack, proc string) mailboxv1.MailboxServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(s.Procs[proc].Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return mailboxv1.NewMailboxServiceClient(conn)
}

// asOutreach calls as the outreach service does.
func asOutreach(ctx context.Context, s *stack.Stack) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-tandem-service-token", s.ServiceToken, "x-tandem-service", "outreach")
}

// submitWhenKnown submits req, again while the mailbox service has not
// heard of the mailbox yet (identity's mailbox.connected is on its way):
// the key makes the retries one message.
func submitWhenKnown(t testing.TB, s *stack.Stack, mb mailboxv1.MailboxServiceClient, req *mailboxv1.SubmitMessageRequest) *mailboxv1.Message {
	t.Helper()
	var out *mailboxv1.Message
	poll.Until(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(asOutreach(t.Context(), s), 10*time.Second)
		defer cancel()
		resp, err := mb.SubmitMessage(ctx, req)
		if err != nil {
			if status.Code(err) == codes.NotFound {
				return err
			}
			t.Fatalf("submit: %v", err)
		}
		out = resp.GetMessage()
		return nil
	})
	return out
}

// waitState polls until the message is in state.
func waitState(t testing.TB, s *stack.Stack, mb mailboxv1.MailboxServiceClient, orgID, id string, want mailboxv1.MessageState, within time.Duration) *mailboxv1.Message {
	t.Helper()
	var got *mailboxv1.Message
	poll.Until(t, within, func() error {
		ctx, cancel := context.WithTimeout(asOutreach(t.Context(), s), 10*time.Second)
		defer cancel()
		resp, err := mb.GetMessage(ctx, &mailboxv1.GetMessageRequest{OrganizationId: orgID, MessageId: id})
		if err != nil {
			return err
		}
		got = resp.GetMessage()
		if got.GetState() == mailboxv1.MessageState_MESSAGE_STATE_FAILED {
			t.Fatalf("message %s failed: %s", id, got.GetStatusReason())
		}
		if got.GetState() != want {
			return fmt.Errorf("message %s is %v (%s), want %v", id, got.GetState(), got.GetStatusReason(), want)
		}
		return nil
	})
	return got
}

// copiesByMarker counts address's messages in folder by the message id
// each carries.
func copiesByMarker(t testing.TB, ctl *simclient.Client, address, folder string) map[string]int {
	t.Helper()
	list, err := ctl.Messages(t.Context(), address, folder)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range list {
		if k := m.HeaderValue(markerHeader); k != "" {
			out[k]++
		}
	}
	return out
}

// MB-1: a recruiter with a connected mailbox; a message submitted through
// mailbox (as outreach does) lands in the mailbox's Sent Items and the
// candidate's inbox once, keeps its Message-ID and conversation, and a
// follow-up is a reply in the same thread.
func TestScenario_MB_1(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	ctx := t.Context()
	userAPI, conn := connectedMailbox(t, s, contosoUser)
	mb := mailboxClient(t, s, "mailbox")
	ctl := sim(t, s)
	const candidate = "grace.hopper@example.com"
	req := &mailboxv1.SubmitMessageRequest{
		OrganizationId: conn.GetOrganizationId(), MailboxId: conn.GetId(),
		To:      []*mailboxv1.Recipient{{Address: candidate, Name: "Grace Hopper"}},
		Subject: "A role at Contoso", HtmlBody: "<p>Hello Grace</p>", IdempotencyKey: "enrollment-1/step-1",
	}
	first := submitWhenKnown(t, s, mb, req)
	sent := waitState(t, s, mb, conn.GetOrganizationId(), first.GetId(), mailboxv1.MessageState_MESSAGE_STATE_SENT, 60*time.Second)
	if sent.GetInternetMessageId() == "" || sent.GetConversationId() == "" || sent.GetProviderMessageId() == "" || sent.GetSentTime() == nil {
		t.Fatalf("sent message without its ids: %v", sent)
	}

	// The same key again is the same message, never a second one; the key
	// with other content is refused.
	again, err := mb.SubmitMessage(asOutreach(ctx, s), req)
	if err != nil || again.GetCreated() || again.GetMessage().GetId() != first.GetId() {
		t.Fatalf("resubmit: %v, %v", again, err)
	}
	reused := &mailboxv1.SubmitMessageRequest{OrganizationId: req.GetOrganizationId(), MailboxId: req.GetMailboxId(), To: req.GetTo(),
		Subject: "Something else", HtmlBody: req.GetHtmlBody(), IdempotencyKey: req.GetIdempotencyKey()}
	if _, err := mb.SubmitMessage(asOutreach(ctx, s), reused); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("reused key: %v", err)
	}

	// A follow-up in the thread: createReply on the message sent.
	followUp := submitWhenKnown(t, s, mb, &mailboxv1.SubmitMessageRequest{
		OrganizationId: conn.GetOrganizationId(), MailboxId: conn.GetId(),
		To: req.GetTo(), HtmlBody: "<p>Following up</p>", IdempotencyKey: "enrollment-1/step-2",
		ReplyToProviderMessageId: sent.GetProviderMessageId(), SendAfter: timestamppb.New(time.Now().Add(time.Second)),
	})
	reply := waitState(t, s, mb, conn.GetOrganizationId(), followUp.GetId(), mailboxv1.MessageState_MESSAGE_STATE_SENT, 60*time.Second)
	if reply.GetConversationId() != sent.GetConversationId() || reply.GetInternetMessageId() == sent.GetInternetMessageId() {
		t.Fatalf("the follow-up left the thread: %v", reply)
	}

	sentItems := copiesByMarker(t, ctl, contosoUser, "sentitems")
	inbox := copiesByMarker(t, ctl, candidate, "inbox")
	for _, id := range []string{first.GetId(), followUp.GetId()} {
		if sentItems[id] != 1 || inbox[id] != 1 {
			t.Errorf("message %s: %d in Sent Items, %d in the candidate's inbox; want 1 and 1", id, sentItems[id], inbox[id])
		}
	}
	msgs, err := ctl.Messages(ctx, candidate, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.HeaderValue(markerHeader) == followUp.GetId() {
			if m.HeaderValue("In-Reply-To") != sent.GetInternetMessageId() || !strings.HasPrefix(m.Subject, "RE: ") {
				t.Errorf("follow-up headers: In-Reply-To %q, subject %q", m.HeaderValue("In-Reply-To"), m.Subject)
			}
		}
	}

	// The owner sees the mailbox's health over REST; its addresses came
	// from Graph.
	health := &mailboxv1.GetMailboxHealthResponse{}
	poll.Until(t, 30*time.Second, func() error {
		userAPI.must("GET", "/v1/mailboxes/"+conn.GetId()+"/health", nil, health)
		h := health.GetHealth()
		if h.GetStatus() != mailboxv1.MailboxStatus_MAILBOX_STATUS_CONNECTED || h.GetSentToday() != 2 || h.GetQueueDepth() != 0 ||
			!slices.Contains(h.GetOwnAddresses(), contosoUser) || h.GetMessagesPerMinute() != 30 {
			return fmt.Errorf("health %v", h)
		}
		return nil
	})

	// Another organization sees none of it.
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, body := otherAPI.call("GET", "/v1/mailboxes/"+conn.GetId()+"/health", nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	other := &mailboxv1.ListMailboxesResponse{}
	otherAPI.must("GET", "/v1/mailboxes", nil, other)
	if len(other.GetMailboxes()) != 0 {
		t.Errorf("another organization lists %v", other.GetMailboxes())
	}
	if _, err := mb.GetMessage(asOutreach(ctx, s), &mailboxv1.GetMessageRequest{OrganizationId: "00000000-0000-4000-8000-000000000999", MessageId: first.GetId()}); status.Code(err) != codes.NotFound {
		t.Errorf("another organization's message: %v", err)
	}
	// Sending is for services only.
	code, body = userAPI.call("POST", "/v1/mailboxes/"+conn.GetId()+"/messages", &mailboxv1.SubmitMessageRequest{}, nil)
	if code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Errorf("a REST route to SubmitMessage: %d %s", code, body)
	}
}

// submitBatch submits n messages with keys prefix-0... to the candidates in
// turn and returns their ids in submit order.
func submitBatch(t testing.TB, s *stack.Stack, mb mailboxv1.MailboxServiceClient, orgID, mailboxID, prefix string, n int, candidates []string) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		m := submitWhenKnown(t, s, mb, &mailboxv1.SubmitMessageRequest{
			OrganizationId: orgID, MailboxId: mailboxID,
			To:      []*mailboxv1.Recipient{{Address: candidates[i%len(candidates)]}},
			Subject: fmt.Sprintf("Message %d", i), HtmlBody: fmt.Sprintf("<p>Message %d</p>", i),
			IdempotencyKey: fmt.Sprintf("%s-%d", prefix, i),
		})
		ids[i] = m.GetId()
	}
	return ids
}

// listAll reads every message of a mailbox, page by page.
func listAll(t testing.TB, s *stack.Stack, mb mailboxv1.MailboxServiceClient, orgID, mailboxID string) ([]*mailboxv1.Message, error) {
	t.Helper()
	var out []*mailboxv1.Message
	token := ""
	for {
		ctx, cancel := context.WithTimeout(asOutreach(t.Context(), s), 10*time.Second)
		resp, err := mb.ListMessages(ctx, &mailboxv1.ListMessagesRequest{OrganizationId: orgID, MailboxId: mailboxID, PageSize: 200, PageToken: token})
		cancel()
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetMessages()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// waitAllSent polls until every message of the mailbox is sent.
func waitAllSent(t testing.TB, s *stack.Stack, mb mailboxv1.MailboxServiceClient, orgID, mailboxID string, n int, within time.Duration) []*mailboxv1.Message {
	t.Helper()
	var list []*mailboxv1.Message
	poll.Until(t, within, func() error {
		var err error
		if list, err = listAll(t, s, mb, orgID, mailboxID); err != nil {
			return err
		}
		sent := 0
		for _, m := range list {
			switch m.GetState() {
			case mailboxv1.MessageState_MESSAGE_STATE_SENT:
				sent++
			case mailboxv1.MessageState_MESSAGE_STATE_FAILED, mailboxv1.MessageState_MESSAGE_STATE_CANCELLED:
				t.Fatalf("message %s is %v: %s", m.GetId(), m.GetState(), m.GetStatusReason())
			}
		}
		if sent != n {
			return fmt.Errorf("%d of %d sent", sent, n)
		}
		return nil
	})
	return list
}

// userRequests is how many Graph requests the simulator has seen for upn's
// mailbox, of the operations sending uses.
func userRequests(t testing.TB, ctl *simclient.Client, upn string) int64 {
	t.Helper()
	counters, err := ctl.Counters(t.Context(), "graph.")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, op := range []string{"getUser", "createMessage", "createReply", "sendDraft", "getMessage", "listMessages", "deleteMessage"} {
		n += counters["graph."+op+"/user="+upn]
	}
	return n
}

// exactlyOnce waits until Sent Items and the candidates' inboxes hold each
// message exactly once (Graph files sent messages a little late), and
// checks nothing else of ours is there and no draft of ours is left.
func exactlyOnce(t testing.TB, ctl *simclient.Client, upn string, candidates, ids []string) {
	t.Helper()
	poll.Until(t, 60*time.Second, func() error {
		sentItems := copiesByMarker(t, ctl, upn, "sentitems")
		delivered := map[string]int{}
		for _, c := range candidates {
			for id, n := range copiesByMarker(t, ctl, c, "inbox") {
				delivered[id] += n
			}
		}
		for _, id := range ids {
			if sentItems[id] > 1 || delivered[id] > 1 {
				t.Fatalf("message %s: %d in Sent Items, %d delivered", id, sentItems[id], delivered[id])
			}
			if sentItems[id] != 1 || delivered[id] != 1 {
				return fmt.Errorf("message %s: %d in Sent Items, %d delivered; want 1 and 1", id, sentItems[id], delivered[id])
			}
		}
		if len(sentItems) != len(ids) || len(delivered) != len(ids) {
			t.Fatalf("%d messages in Sent Items and %d delivered, want %d", len(sentItems), len(delivered), len(ids))
		}
		if drafts := copiesByMarker(t, ctl, upn, "drafts"); len(drafts) != 0 {
			return fmt.Errorf("drafts of ours left in Drafts: %v", drafts)
		}
		return nil
	})
	if n, err := ctl.Counter(t.Context(), "graph.sentAgain"); err != nil || n != 0 {
		t.Errorf("a draft was sent twice: %d, %v", n, err)
	}
}

// MB-4: a backlog within the limits. With the per-minute rate lowered to
// 10 on both sides (so the test takes a minute, not several), the
// simulator never sees the mailbox over its rate or over 4 requests at
// once, nothing goes to it before a 429's Retry-After, and every message
// is delivered in the end, once.
func TestScenario_MB_4(t *testing.T) {
	const perMinute = 10
	s := stack.Start(t, binDir, stack.Options{Env: []string{
		fmt.Sprintf("TANDEM_MESSAGES_PER_MINUTE=%d", perMinute), "TANDEM_MAILBOX_MIN_GAP=0s",
	}})
	ctx := t.Context()
	ctl := sim(t, s)
	if _, err := ctl.SetGraphLimits(ctx, simclient.GraphLimits{MessagesPerMinute: perMinute}); err != nil {
		t.Fatal(err)
	}
	userAPI, conn := connectedMailbox(t, s, contosoUser)
	mb := mailboxClient(t, s, "mailbox")
	// The first send is refused with a fractional Retry-After.
	if _, err := ctl.AddFault(ctx, simclient.Fault{Endpoint: "graph.sendDraft", Mailbox: contosoUser, Status: http.StatusTooManyRequests, RetryAfter: "2.5", Count: 1}); err != nil {
		t.Fatal(err)
	}
	candidates := []string{"ada@example.com", "alan@example.com"}
	const n = 14
	ids := submitBatch(t, s, mb, conn.GetOrganizationId(), conn.GetId(), "backlog", n, candidates)

	// Nothing reaches Graph for the mailbox until the Retry-After is over.
	poll.Until(t, 30*time.Second, func() error {
		if got, err := ctl.Counter(ctx, "graph.faults"); err != nil || got != 1 {
			return fmt.Errorf("the 429 was answered %d times (%w)", got, err)
		}
		return nil
	})
	before, at := userRequests(t, ctl, contosoUser), time.Now()
	poll.Until(t, 5*time.Second, func() error {
		if time.Since(at) < 2*time.Second {
			if got := userRequests(t, ctl, contosoUser); got != before {
				t.Fatalf("%d requests %s after a Retry-After of 2.5s", got-before, time.Since(at))
			}
			return fmt.Errorf("watching")
		}
		return nil
	})

	// Under the backlog the health says when the next one may go.
	poll.Until(t, 90*time.Second, func() error {
		h := &mailboxv1.GetMailboxHealthResponse{}
		userAPI.must("GET", "/v1/mailboxes/"+conn.GetId()+"/health", nil, h)
		if h.GetHealth().GetSentToday() < perMinute || h.GetHealth().GetQueueDepth() == 0 {
			return fmt.Errorf("health %v", h.GetHealth())
		}
		if next := h.GetHealth().GetNextSendTime().AsTime(); h.GetHealth().GetMessagesPerMinute() != perMinute || !next.After(time.Now().Add(-time.Second)) {
			t.Fatalf("health under a backlog: %v", h.GetHealth())
		}
		return nil
	})

	list := waitAllSent(t, s, mb, conn.GetOrganizationId(), conn.GetId(), n, 3*time.Minute)
	var sentAt []time.Time
	for _, m := range list {
		sentAt = append(sentAt, m.GetSentTime().AsTime())
	}
	slices.SortFunc(sentAt, func(a, b time.Time) int { return a.Compare(b) })
	for i := perMinute; i < len(sentAt); i++ {
		if gap := sentAt[i].Sub(sentAt[i-perMinute]); gap < time.Minute {
			t.Errorf("%d messages within %s", perMinute+1, gap)
		}
	}
	for name, want := range map[string]int64{
		"graph.overLimit.messagesPerMinute/user=" + contosoUser: 0, // never over Exchange's rate
		"graph.throttled/user=" + contosoUser:                   0, // never over 4 at once or 10,000 per 10 minutes
		"graph.sendDraft/user=" + contosoUser:                   n + 1,
	} {
		if got, err := ctl.Counter(ctx, name); err != nil || got != want {
			t.Errorf("%s = %d (%v), want %d", name, got, err, want)
		}
	}
	exactlyOnce(t, ctl, contosoUser, candidates, ids)
	// In submit order.
	byID := map[string]time.Time{}
	for _, m := range list {
		byID[m.GetId()] = m.GetSentTime().AsTime()
	}
	for i := 1; i < len(ids); i++ {
		if byID[ids[i]].Before(byID[ids[i-1]]) {
			t.Errorf("message %d went before message %d", i, i-1)
		}
	}
}

// sentCount is how many of the mailbox's messages are sent.
func sentCount(t testing.TB, s *stack.Stack, mb mailboxv1.MailboxServiceClient, orgID, mailboxID string) (int, error) {
	list, err := listAll(t, s, mb, orgID, mailboxID)
	n := 0
	for _, m := range list {
		if m.GetState() == mailboxv1.MessageState_MESSAGE_STATE_SENT {
			n++
		}
	}
	return n, err
}

// stallAndKill holds the next request of endpoint for upn in the
// simulator, SIGKILLs the mailbox process while it waits there, lets the
// request through (the simulator then carries it out: the draft is made,
// or the send goes, with nobody left to record it) and starts the mailbox
// again.
func stallAndKill(t testing.TB, s *stack.Stack, ctl *simclient.Client, endpoint, upn string) {
	t.Helper()
	f, err := ctl.AddFault(t.Context(), simclient.Fault{Endpoint: endpoint, Mailbox: upn, Stall: true, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 60*time.Second, func() error {
		faults, err := ctl.Faults(t.Context())
		if err != nil {
			return err
		}
		for _, x := range faults {
			if x.ID == f.ID && x.Remaining == 0 {
				return nil
			}
		}
		return fmt.Errorf("no request stalled at %s yet", endpoint)
	})
	kill(t, s)
	if err := ctl.RemoveFault(t.Context(), f.ID); err != nil {
		t.Fatal(err)
	}
	s.Procs["mailbox"].Start()
}

func kill(t testing.TB, s *stack.Stack) {
	t.Helper()
	if _, err := s.Procs["mailbox"].Signal(syscall.SIGKILL, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// waitSent polls until at least n of the mailbox's messages are sent.
func waitSent(t testing.TB, s *stack.Stack, mb mailboxv1.MailboxServiceClient, orgID, mailboxID string, n int, within time.Duration) {
	t.Helper()
	poll.Until(t, within, func() error {
		got, err := sentCount(t, s, mb, orgID, mailboxID)
		if err != nil {
			return err
		}
		if got < n {
			return fmt.Errorf("%d sent, waiting for %d", got, n)
		}
		return nil
	})
}

// MB-5: the mailbox process is SIGKILLed during a batch of 200 sends:
// between a draft's creation and its record, between a send and its
// record (with Graph filing sent messages late), and at a random moment;
// restarted each time, it sends every message exactly once.
func TestScenario_MB_5(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{ProcessEnv: map[string][]string{"mailbox": {
		// Limits raised on both sides so 200 messages take seconds; a
		// killed process's jobs are taken over within seconds too.
		"TANDEM_MESSAGES_PER_MINUTE=100000", "TANDEM_MAILBOX_MIN_GAP=0s",
		"TANDEM_SEND_CONFIRM_AFTER=6s", "TANDEM_SEND_JOB_TIMEOUT=6s", "TANDEM_STUCK_JOB_RESCUE_AFTER=8s",
	}}})
	ctx := t.Context()
	ctl := sim(t, s)
	if _, err := ctl.SetGraphLimits(ctx, simclient.GraphLimits{MessagesPerMinute: 100_000, SentItemsDelayMs: 1500}); err != nil {
		t.Fatal(err)
	}
	_, conn := connectedMailbox(t, s, contosoUser)
	mb := mailboxClient(t, s, "mailbox")
	orgID, mailboxID := conn.GetOrganizationId(), conn.GetId()
	candidates := []string{"ada@example.com", "alan@example.com", "grace@example.com", "edsger@example.com"}
	const n = 200

	// The first draft's creation is held, so the batch is all queued
	// before the first kill.
	f, err := ctl.AddFault(ctx, simclient.Fault{Endpoint: "graph.createMessage", Mailbox: contosoUser, Stall: true, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	ids := submitBatch(t, s, mb, orgID, mailboxID, "batch", n, candidates)
	if err := ctl.RemoveFault(ctx, f.ID); err != nil {
		t.Fatal(err)
	}

	stallAndKill(t, s, ctl, "graph.createMessage", contosoUser) // between draft and record
	waitSent(t, s, mb, orgID, mailboxID, 60, 3*time.Minute)
	stallAndKill(t, s, ctl, "graph.sendDraft", contosoUser) // between send and record
	waitSent(t, s, mb, orgID, mailboxID, 120, 3*time.Minute)
	kill(t, s) // at random
	s.Procs["mailbox"].Start()

	waitAllSent(t, s, mb, orgID, mailboxID, n, 4*time.Minute)
	exactlyOnce(t, ctl, contosoUser, candidates, ids)
	// The kill between draft and record left a draft nobody recorded: one
	// more was created, none more sent, and the orphan was deleted.
	counters, err := ctl.Counters(ctx, "graph.")
	if err != nil {
		t.Fatal(err)
	}
	if c := counters["graph.createMessage/user="+contosoUser]; c <= n {
		t.Errorf("%d drafts created: the first kill left none behind", c)
	}
	if c := counters["graph.sendDraft/user="+contosoUser]; c != n {
		t.Errorf("%d sends for %d messages", c, n)
	}
	if c := counters["graph.deleteMessage/user="+contosoUser]; c < 1 {
		t.Errorf("no orphaned draft deleted")
	}
}

// A mailbox whose grant is revoked holds its queue and says so; connected
// again, it sends what waited at once.
func TestMailbox_AQueueWaitsForTheMailboxToBeConnectedAgain(t *testing.T) {
	// 6-second tokens, refreshed 3 seconds ahead: a revoked grant shows at
	// the next refresh, within seconds.
	s := stack.Start(t, binDir, stack.Options{Env: []string{"TANDEM_VAULT_REFRESH_BEFORE=3s"}})
	ctx := t.Context()
	ctl := sim(t, s)
	if err := ctl.SetLifetimes(ctx, simclient.Lifetimes{AccessTokenSeconds: 6}); err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t, s)
	_, userAPI := signedIn(t, s, br, as{email: contosoUser})
	connect := func() *mailboxv1.MailboxHealth {
		t.Helper()
		c := &identityv1.ConnectMailboxResponse{}
		userAPI.must("POST", "/v1/mailboxConnection:connect", &identityv1.ConnectMailboxRequest{}, c)
		res := exchange(t, br, loginCode(t, br.walk(br.open(c.GetAuthorizeUrl()), as{email: contosoUser})))
		if res.GetOutcome() != "mailbox_connected" {
			t.Fatalf("connect mailbox: %v", res)
		}
		return &mailboxv1.MailboxHealth{MailboxId: res.GetConnection().GetId(), OrganizationId: res.GetConnection().GetOrganizationId()}
	}
	conn := connect()
	mb := mailboxClient(t, s, "mailbox")
	req := func(key string) *mailboxv1.SubmitMessageRequest {
		return &mailboxv1.SubmitMessageRequest{OrganizationId: conn.GetOrganizationId(), MailboxId: conn.GetMailboxId(),
			To: []*mailboxv1.Recipient{{Address: "ada@example.com"}}, Subject: "Hello " + key, HtmlBody: "<p>Hello</p>", IdempotencyKey: key}
	}
	first := submitWhenKnown(t, s, mb, req("before"))
	waitState(t, s, mb, conn.GetOrganizationId(), first.GetId(), mailboxv1.MessageState_MESSAGE_STATE_SENT, 60*time.Second)

	if _, err := ctl.RevokeSessions(ctx, contosoUser); err != nil {
		t.Fatal(err)
	}
	// Identity finds out at its next refresh.
	idc := identityClient(t, s, "identity")
	poll.Until(t, 30*time.Second, func() error {
		_, err := idc.GetAccessToken(asService(ctx, s), &identityv1.GetAccessTokenRequest{ConnectionId: conn.GetMailboxId()})
		if status.Code(err) != codes.FailedPrecondition {
			return fmt.Errorf("identity still hands out a token (%w)", err)
		}
		return nil
	})
	held := submitWhenKnown(t, s, mb, req("while-revoked"))
	health := func() *mailboxv1.MailboxHealth {
		h := &mailboxv1.GetMailboxHealthResponse{}
		userAPI.must("GET", "/v1/mailboxes/"+conn.GetMailboxId()+"/health", nil, h)
		return h.GetHealth()
	}
	poll.Until(t, 60*time.Second, func() error {
		h := health()
		m := waitState(t, s, mb, conn.GetOrganizationId(), held.GetId(), mailboxv1.MessageState_MESSAGE_STATE_QUEUED, 10*time.Second)
		if h.GetStatus() != mailboxv1.MailboxStatus_MAILBOX_STATUS_RECONNECT_REQUIRED || h.GetStatusReason() == "" || h.GetQueueDepth() != 1 ||
			!strings.Contains(m.GetStatusReason(), "connected again") {
			return fmt.Errorf("health %v, message %q", h, m.GetStatusReason())
		}
		return nil
	})

	// Connected again: the held message goes at once, not after its
	// safety-net wait.
	connect()
	start := time.Now()
	waitState(t, s, mb, conn.GetOrganizationId(), held.GetId(), mailboxv1.MessageState_MESSAGE_STATE_SENT, 60*time.Second)
	if took := time.Since(start); took > time.Minute {
		t.Errorf("the queue went %s after the reconnection", took)
	}
	if h := health(); h.GetStatus() != mailboxv1.MailboxStatus_MAILBOX_STATUS_CONNECTED || h.GetQueueDepth() != 0 {
		t.Errorf("health after reconnecting: %v", h)
	}
	if got := copiesByMarker(t, ctl, "ada@example.com", "inbox"); got[first.GetId()] != 1 || got[held.GetId()] != 1 {
		t.Errorf("delivered %v", got)
	}
}
