package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/authz"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/server"
	"github.com/tandemhq/tandem/services/mailbox/internal/subscriptions"
)

const inboundSvc = "/tandem.mailbox.v1.MailboxInboundService/"

// Every inbound RPC has a rule; the internal ones have no REST route and
// the others do.
func TestEveryInboundRPCHasARuleAndTheRightRoute(t *testing.T) {
	if missing := server.Policy.Missing(mailboxv1.MailboxInboundService_ServiceDesc); len(missing) != 0 {
		t.Errorf("RPCs without an authorization rule: %v", missing)
	}
	rules, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "proto", "http_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mailboxv1.MailboxInboundService_ServiceDesc.Methods {
		internal := server.Policy[inboundSvc+m.MethodName].String() == "internal"
		routed := strings.Contains(string(rules), "selector: tandem.mailbox.v1.MailboxInboundService."+m.MethodName+"\n")
		if internal == routed {
			t.Errorf("%s: internal %v, routed %v", m.MethodName, internal, routed)
		}
	}
	for name, want := range map[string]string{"AcceptNotifications": "internal", "CheckRecipients": "internal"} {
		if got := server.Policy[inboundSvc+name].String(); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

type fakeNotifications struct{ got []subscriptions.Notification }

func (f *fakeNotifications) Accept(_ context.Context, list []subscriptions.Notification) (subscriptions.Outcome, error) {
	f.got = list
	return subscriptions.Outcome{Accepted: 1, Rejected: len(list) - 1}, nil
}

type fakeReader struct{ caller authz.Principal }

func (f *fakeReader) List(_ context.Context, caller authz.Principal, _ string, _ int, _ string) ([]inbound.Record, string, error) {
	f.caller = caller
	return []inbound.Record{{ID: "i1", Kind: "bounce", BouncedRecipient: "jo@example.org", BouncePermanent: true, ReceivedAt: time.Unix(10, 0)},
		{ID: "i2", Kind: inbound.KindUnrelated}}, "next", nil
}

func (f *fakeReader) State(context.Context, authz.Principal, string) (inbound.SyncState, error) {
	at := time.Unix(20, 0)
	return inbound.SyncState{MailboxID: "m", SubscriptionStatus: "active", LastCatchUpAt: &at, HasCursor: true, InboundMessages: 3}, nil
}

func (f *fakeReader) CheckRecipients(context.Context, string, []string) ([]inbound.Undeliverable, error) {
	return []inbound.Undeliverable{{Address: "jo@example.org", Status: "5.1.1"}}, nil
}

func TestInboundHandlerTranslates(t *testing.T) {
	n, r := &fakeNotifications{}, &fakeReader{}
	h := server.NewInbound(n, r)
	ctx := t.Context()
	resp, err := h.AcceptNotifications(ctx, &mailboxv1.AcceptNotificationsRequest{Notifications: []*mailboxv1.GraphNotification{
		{SubscriptionId: "s", ClientState: "c", ResourceId: "m1", ChangeType: "created"},
		{SubscriptionId: "s", ClientState: "c", LifecycleEvent: "missed"},
	}})
	if err != nil || resp.GetAccepted() != 1 || resp.GetRejected() != 1 {
		t.Fatalf("accept: %v %v", resp, err)
	}
	if n.got[0] != (subscriptions.Notification{SubscriptionID: "s", ClientState: "c", MessageID: "m1"}) || n.got[1].LifecycleEvent != "missed" {
		t.Errorf("handed over %+v", n.got)
	}
	if _, err := h.AcceptNotifications(ctx, &mailboxv1.AcceptNotificationsRequest{Notifications: make([]*mailboxv1.GraphNotification, 1001)}); err == nil {
		t.Error("1001 notifications taken")
	}

	caller := authz.Principal{OrgID: "o", UserID: "u", Role: authz.RoleRecruiter}
	list, err := h.ListInboundMessages(authz.WithPrincipal(ctx, caller), &mailboxv1.ListInboundMessagesRequest{})
	if err != nil || len(list.GetInboundMessages()) != 2 || list.GetNextPageToken() != "next" || r.caller.UserID != "u" {
		t.Fatalf("list: %v %v", list, err)
	}
	if b := list.GetInboundMessages()[0]; b.GetKind() != mailboxv1.InboundKind_INBOUND_KIND_BOUNCE || !b.GetBouncePermanent() || b.GetReceiveTime().AsTime().Unix() != 10 {
		t.Errorf("bounce %v", b)
	}
	if k := list.GetInboundMessages()[1].GetKind(); k != mailboxv1.InboundKind_INBOUND_KIND_UNRELATED {
		t.Errorf("kind %v", k)
	}
	if _, err := h.ListInboundMessages(ctx, &mailboxv1.ListInboundMessagesRequest{}); err == nil {
		t.Error("listed without a caller")
	}
	st, err := h.GetInboundSyncState(authz.WithPrincipal(ctx, caller), &mailboxv1.GetInboundSyncStateRequest{})
	if err != nil || st.GetSubscriptionExpireTime() != nil || st.GetLastCatchUpTime().AsTime().Unix() != 20 || !st.GetHasSyncCursor() || st.GetInboundMessages() != 3 {
		t.Fatalf("state %v %v", st, err)
	}
	und, err := h.CheckRecipients(ctx, &mailboxv1.CheckRecipientsRequest{OrganizationId: "o", Addresses: []string{"jo@example.org"}})
	if err != nil || len(und.GetUndeliverable()) != 1 || und.GetUndeliverable()[0].GetStatus() != "5.1.1" {
		t.Fatalf("check %v %v", und, err)
	}
}
