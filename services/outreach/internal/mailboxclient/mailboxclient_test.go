package mailboxclient_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/mailboxclient"
)

// fakeMailbox answers SubmitMessage by the subject it is given.
type fakeMailbox struct {
	mailboxv1.UnimplementedMailboxServiceServer
	last *mailboxv1.SubmitMessageRequest
}

func (f *fakeMailbox) SubmitMessage(_ context.Context, r *mailboxv1.SubmitMessageRequest) (*mailboxv1.SubmitMessageResponse, error) {
	f.last = r
	switch r.GetSubject() {
	case "used":
		return nil, status.Error(codes.AlreadyExists, "key used with other content")
	case "refused":
		return nil, status.Error(codes.InvalidArgument, "no such mailbox")
	case "down":
		return nil, status.Error(codes.Unavailable, "try later")
	case "unknown":
		return nil, status.Error(codes.NotFound, "no such mailbox yet")
	}
	return &mailboxv1.SubmitMessageResponse{Message: &mailboxv1.Message{Id: "m-1"}, Created: true}, nil
}

func (f *fakeMailbox) CancelMessage(_ context.Context, r *mailboxv1.CancelMessageRequest) (*mailboxv1.CancelMessageResponse, error) {
	switch r.GetMessageId() {
	case "left":
		return nil, status.Error(codes.FailedPrecondition, "it left")
	case "gone":
		return nil, status.Error(codes.NotFound, "no such message")
	case "down":
		return nil, status.Error(codes.Unavailable, "try later")
	}
	return &mailboxv1.CancelMessageResponse{}, nil
}

func TestSubmit(t *testing.T) {
	fake := &fakeMailbox{}
	srv := grpc.NewServer()
	mailboxv1.RegisterMailboxServiceServer(srv, fake)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := srv.Serve(lis); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	c := mailboxclient.New(conn)
	msg := flows.Message{OrgID: "org", MailboxID: "conn-1", To: "ada@example.com", ToName: "Ada", Subject: "Hi", HTMLBody: "<p>x</p>",
		ReplyTo: "graph-1", IdempotencyKey: "flowstep:e:1:v1"}
	got, err := c.Submit(t.Context(), msg)
	if err != nil || got.MessageID != "m-1" {
		t.Fatalf("submit %+v %v", got, err)
	}
	r := fake.last
	if r.GetOrganizationId() != "org" || r.GetMailboxId() != "conn-1" || r.GetTo()[0].GetAddress() != "ada@example.com" ||
		r.GetReplyToProviderMessageId() != "graph-1" || r.GetIdempotencyKey() != "flowstep:e:1:v1" || r.GetHtmlBody() != "<p>x</p>" {
		t.Fatalf("request %v", r)
	}
	if r.GetSendAfter() != nil {
		t.Fatalf("a step has no send-after: %v", r.GetSendAfter())
	}
	// A scheduled one-off e-mail waits in mailbox until its time.
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	later := msg
	later.SendAfter = &at
	if _, err := c.Submit(t.Context(), later); err != nil || !fake.last.GetSendAfter().AsTime().Equal(at) {
		t.Fatalf("send-after %v, %v", fake.last.GetSendAfter(), err)
	}
	for subject, want := range map[string]error{"used": flows.ErrKeyUsed, "refused": flows.ErrRefused} {
		msg.Subject = subject
		if _, err := c.Submit(t.Context(), msg); !errors.Is(err, want) {
			t.Fatalf("%s: %v", subject, err)
		}
	}
	if err := c.Cancel(t.Context(), "org", "queued"); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if err := c.Cancel(t.Context(), "org", "gone"); err != nil {
		t.Fatalf("cancel of a message mailbox does not have: %v", err)
	}
	if err := c.Cancel(t.Context(), "org", "left"); !errors.Is(err, flows.ErrTooLate) {
		t.Fatalf("cancel of a sent message: %v", err)
	}
	if err := c.Cancel(t.Context(), "org", "down"); err == nil || errors.Is(err, flows.ErrTooLate) {
		t.Fatalf("cancel while mailbox is down: %v", err)
	}
	for _, subject := range []string{"down", "unknown"} {
		msg.Subject = subject
		if _, err := c.Submit(t.Context(), msg); err == nil || errors.Is(err, flows.ErrRefused) || errors.Is(err, flows.ErrKeyUsed) {
			t.Fatalf("%s is temporary: %v", subject, err)
		}
	}
}
