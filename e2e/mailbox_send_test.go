package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
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
