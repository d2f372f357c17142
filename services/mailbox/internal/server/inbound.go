package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/subscriptions"
)

// Notifications takes Graph's notifications (package subscriptions).
type Notifications interface {
	Accept(ctx context.Context, list []subscriptions.Notification) (subscriptions.Outcome, error)
}

// InboundReader answers about inbound mail (package inbound).
type InboundReader interface {
	List(ctx context.Context, caller authz.Principal, mailboxID string, pageSize int, pageToken string) ([]inbound.Record, string, error)
	State(ctx context.Context, caller authz.Principal, mailboxID string) (inbound.SyncState, error)
	CheckRecipients(ctx context.Context, orgID string, addresses []string) ([]inbound.Undeliverable, error)
}

// Inbound implements mailboxv1.MailboxInboundServiceServer.
type Inbound struct {
	mailboxv1.UnimplementedMailboxInboundServiceServer
	notifications Notifications
	reader        InboundReader
}

// NewInbound returns the inbound handler.
func NewInbound(n Notifications, r InboundReader) *Inbound {
	return &Inbound{notifications: n, reader: r}
}

// maxNotifications is the most one call takes (the gateway's cap).
const maxNotifications = 1000

// AcceptNotifications implements the RPC.
func (s *Inbound) AcceptNotifications(ctx context.Context, req *mailboxv1.AcceptNotificationsRequest) (*mailboxv1.AcceptNotificationsResponse, error) {
	if len(req.GetNotifications()) > maxNotifications {
		return nil, apperr.InvalidArgument("notifications", "at most 1000 in one call")
	}
	list := make([]subscriptions.Notification, 0, len(req.GetNotifications()))
	for _, n := range req.GetNotifications() {
		list = append(list, subscriptions.Notification{
			SubscriptionID: n.GetSubscriptionId(), ClientState: n.GetClientState(),
			MessageID: n.GetResourceId(), LifecycleEvent: n.GetLifecycleEvent(),
		})
	}
	out, err := s.notifications.Accept(ctx, list)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.AcceptNotificationsResponse{Accepted: int32(out.Accepted), Rejected: int32(out.Rejected)}, nil //nolint:gosec // at most maxNotifications
}

// ListInboundMessages implements the RPC.
func (s *Inbound) ListInboundMessages(ctx context.Context, req *mailboxv1.ListInboundMessagesRequest) (*mailboxv1.ListInboundMessagesResponse, error) {
	caller, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	list, next, err := s.reader.List(ctx, caller, req.GetConnectionId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &mailboxv1.ListInboundMessagesResponse{NextPageToken: next}
	for _, r := range list {
		out.InboundMessages = append(out.InboundMessages, inboundProto(r))
	}
	return out, nil
}

// GetInboundSyncState implements the RPC.
func (s *Inbound) GetInboundSyncState(ctx context.Context, req *mailboxv1.GetInboundSyncStateRequest) (*mailboxv1.GetInboundSyncStateResponse, error) {
	caller, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.reader.State(ctx, caller, req.GetConnectionId())
	if err != nil {
		return nil, err
	}
	return &mailboxv1.GetInboundSyncStateResponse{
		ConnectionId: st.MailboxID, SubscriptionStatus: st.SubscriptionStatus,
		SubscriptionExpireTime: optionalTime(st.SubscriptionExpiry), LastCatchUpTime: optionalTime(st.LastCatchUpAt),
		HasSyncCursor: st.HasCursor, InboundMessages: st.InboundMessages,
	}, nil
}

// CheckRecipients implements the RPC.
func (s *Inbound) CheckRecipients(ctx context.Context, req *mailboxv1.CheckRecipientsRequest) (*mailboxv1.CheckRecipientsResponse, error) {
	list, err := s.reader.CheckRecipients(ctx, req.GetOrganizationId(), req.GetAddresses())
	if err != nil {
		return nil, err
	}
	out := &mailboxv1.CheckRecipientsResponse{}
	for _, u := range list {
		out.Undeliverable = append(out.Undeliverable, &mailboxv1.UndeliverableAddress{
			Address: u.Address, Status: u.Status, InboundMessageId: u.InboundMessageID, CreateTime: timestamppb.New(u.CreatedAt),
		})
	}
	return out, nil
}

var inboundKinds = map[string]mailboxv1.InboundKind{
	"reply":               mailboxv1.InboundKind_INBOUND_KIND_REPLY,
	"auto_reply":          mailboxv1.InboundKind_INBOUND_KIND_AUTO_REPLY,
	"bounce":              mailboxv1.InboundKind_INBOUND_KIND_BOUNCE,
	inbound.KindUnrelated: mailboxv1.InboundKind_INBOUND_KIND_UNRELATED,
}

func inboundProto(r inbound.Record) *mailboxv1.InboundMessage {
	return &mailboxv1.InboundMessage{
		Id: r.ID, OrganizationId: r.OrgID, ConnectionId: r.MailboxID, Kind: inboundKinds[r.Kind],
		InternetMessageId: r.InternetMessageID, ConversationId: r.ConversationID, FromAddress: r.FromAddress,
		Subject: r.Subject, Snippet: r.Snippet, ReceiveTime: timestamppb.New(r.ReceivedAt),
		SentMessageId: r.SentMessageID, SentIdempotencyKey: r.SentIdempotencyKey, MatchMethod: r.MatchMethod,
		BouncedRecipient: r.BouncedRecipient, BouncePermanent: r.BouncePermanent, BounceStatus: r.BounceStatus,
		DetectedBy: r.DetectedBy,
	}
}

func optionalTime(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}
