package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/sending"
	"github.com/tandemhq/tandem/services/mailbox/internal/server"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

type fakeSending struct {
	got      sending.Submission
	messages map[string]store.Message // by org/id
}

func (f *fakeSending) Submit(_ context.Context, s sending.Submission) (store.Message, bool, error) {
	f.got = s
	return store.Message{ID: "m1", OrgID: s.OrgID, MailboxID: s.MailboxID, State: store.StateDrafted, SendAfter: s.SendAfter, DraftID: "draft"}, true, nil
}

func (f *fakeSending) Get(_ context.Context, orgID, id string) (store.Message, error) {
	m, ok := f.messages[orgID+"/"+id]
	if !ok {
		return store.Message{}, sending.ErrMessageNotFound
	}
	return m, nil
}

func (f *fakeSending) List(context.Context, string, string, int, string) ([]store.Message, string, error) {
	return nil, "", nil
}

func (f *fakeSending) Cancel(context.Context, string, string) (store.Message, error) {
	return store.Message{}, nil
}

func (f *fakeSending) Health(_ context.Context, mb store.Mailbox) (sending.Health, error) {
	return sending.Health{Mailbox: mb, QueueDepth: 3, PerMinute: 30}, nil
}

type fakeMailboxes struct{ mb store.Mailbox }

func (f fakeMailboxes) Get(_ context.Context, caller authz.Principal, id string) (store.Mailbox, error) {
	if caller.OrgID != f.mb.OrgID || id != f.mb.ID {
		return store.Mailbox{}, apperr.NotFound("mailbox not found")
	}
	return f.mb, nil
}

func (f fakeMailboxes) List(context.Context, string, int, string) ([]store.Mailbox, string, error) {
	return []store.Mailbox{f.mb}, "", nil
}

func newServer() (*server.Server, *fakeSending) {
	fs := &fakeSending{messages: map[string]store.Message{
		"org-a/m1": {ID: "m1", OrgID: "org-a", State: store.StateSent, DraftID: "AAk-1", InternetMessageID: "<x@y>"},
	}}
	mb := store.Mailbox{ID: "mb-1", OrgID: "org-a", UserID: "u1", Account: "adele@contoso.example", Status: store.StatusReconnectRequired}
	return server.New(server.Domain{Sending: fs, Mailboxes: fakeMailboxes{mb}}), fs
}

func service(name string) context.Context {
	return authz.WithPrincipal(context.Background(), authz.Principal{Kind: authz.KindService, Service: name})
}

func TestInternalRPCsTakeTheCallingServiceAsTheKeysOwner(t *testing.T) {
	s, fs := newServer()
	after := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	resp, err := s.SubmitMessage(service("outreach"), &mailboxv1.SubmitMessageRequest{OrganizationId: "org-a", MailboxId: "mb-1",
		To: []*mailboxv1.Recipient{{Address: "a@x.example", Name: "A"}}, Subject: "s", HtmlBody: "b", IdempotencyKey: "k",
		SendAfter: timestampOf(after)})
	if err != nil {
		t.Fatal(err)
	}
	if fs.got.Caller != "outreach" || fs.got.To[0].Address != "a@x.example" || !fs.got.SendAfter.Equal(after) {
		t.Errorf("submission %+v", fs.got)
	}
	// A drafted message reads as queued, and has no provider id until sent.
	if resp.GetMessage().GetState() != mailboxv1.MessageState_MESSAGE_STATE_QUEUED || resp.GetMessage().GetProviderMessageId() != "" || !resp.GetCreated() {
		t.Errorf("response %v", resp)
	}
	user := authz.WithPrincipal(context.Background(), authz.Principal{Kind: authz.KindUser, OrgID: "org-a", UserID: "u1", Role: authz.RoleAdmin})
	if _, err := s.SubmitMessage(user, &mailboxv1.SubmitMessageRequest{}); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Errorf("a user submitting: %v", err)
	}
}

func TestAnotherOrganizationsObjectsAreNotFound(t *testing.T) {
	s, _ := newServer()
	got, err := s.GetMessage(service("outreach"), &mailboxv1.GetMessageRequest{OrganizationId: "org-a", MessageId: "m1"})
	if err != nil || got.GetMessage().GetProviderMessageId() != "AAk-1" || got.GetMessage().GetState() != mailboxv1.MessageState_MESSAGE_STATE_SENT {
		t.Fatalf("own message: %v, %v", got, err)
	}
	if _, err := s.GetMessage(service("outreach"), &mailboxv1.GetMessageRequest{OrganizationId: "org-b", MessageId: "m1"}); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("another organization's message: %v", err)
	}
	other := authz.WithPrincipal(context.Background(), authz.Principal{Kind: authz.KindUser, OrgID: "org-b", UserID: "u9", Role: authz.RoleAdmin})
	if _, err := s.GetMailboxHealth(other, &mailboxv1.GetMailboxHealthRequest{MailboxId: "mb-1"}); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("another organization's mailbox: %v", err)
	}
	owner := authz.WithPrincipal(context.Background(), authz.Principal{Kind: authz.KindUser, OrgID: "org-a", UserID: "u1", Role: authz.RoleRecruiter})
	h, err := s.GetMailboxHealth(owner, &mailboxv1.GetMailboxHealthRequest{MailboxId: "mb-1"})
	if err != nil || h.GetHealth().GetStatus() != mailboxv1.MailboxStatus_MAILBOX_STATUS_RECONNECT_REQUIRED ||
		h.GetHealth().GetQueueDepth() != 3 || h.GetHealth().GetAddress() != "adele@contoso.example" {
		t.Errorf("health: %v, %v", h, err)
	}
}
