// Package server is the gRPC handler of the mailbox service: it translates protos
// and errors and nothing else. Rules live in the sending and mailboxes
// packages, records in the store.
package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/sending"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// The domain, as the handlers use it.
type (
	// Sending accepts, lists and cancels messages, and reports on a
	// mailbox's queue.
	Sending interface {
		Submit(ctx context.Context, s sending.Submission) (store.Message, bool, error)
		Get(ctx context.Context, orgID, id string) (store.Message, error)
		List(ctx context.Context, orgID, mailboxID string, pageSize int, pageToken string) ([]store.Message, string, error)
		Cancel(ctx context.Context, orgID, id string) (store.Message, error)
		Health(ctx context.Context, mb store.Mailbox) (sending.Health, error)
	}
	// Mailboxes is the registry of connected mailboxes.
	Mailboxes interface {
		Get(ctx context.Context, caller authz.Principal, id string) (store.Mailbox, error)
		List(ctx context.Context, orgID string, pageSize int, pageToken string) ([]store.Mailbox, string, error)
	}
)

// Domain is every domain package the handlers call.
type Domain struct {
	Sending   Sending
	Mailboxes Mailboxes
	// Inbound adds the subscription and catch-up state to health; nil
	// leaves them out.
	Inbound InboundHealth
	// Requests adds the Graph request budget in use to health; nil
	// leaves it out.
	Requests RequestBudget
	Logger   *slog.Logger
}

func (d Domain) log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Server implements mailboxv1.MailboxServiceServer.
type Server struct {
	mailboxv1.UnimplementedMailboxServiceServer
	d Domain
}

// New returns the handler over the domain.
func New(d Domain) *Server { return &Server{d: d} }

// serviceCaller is the calling service of an internal RPC.
func serviceCaller(ctx context.Context) (string, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return "", err
	}
	if p.Kind != authz.KindService || p.Service == "" {
		return "", apperr.PermissionDenied("internal method")
	}
	return p.Service, nil
}

// SubmitMessage implements mailboxv1.MailboxServiceServer.
func (s *Server) SubmitMessage(ctx context.Context, req *mailboxv1.SubmitMessageRequest) (*mailboxv1.SubmitMessageResponse, error) {
	caller, err := serviceCaller(ctx)
	if err != nil {
		return nil, err
	}
	sub := sending.Submission{
		OrgID: req.GetOrganizationId(), MailboxID: req.GetMailboxId(), Caller: caller,
		To: recipientsFrom(req.GetTo()), Cc: recipientsFrom(req.GetCc()),
		Subject: req.GetSubject(), HTMLBody: req.GetHtmlBody(), ReplyToProviderID: req.GetReplyToProviderMessageId(),
		IdempotencyKey: req.GetIdempotencyKey(),
	}
	if req.GetSendAfter() != nil {
		if err := req.GetSendAfter().CheckValid(); err != nil {
			return nil, apperr.InvalidArgument("send_after", "is not a valid time")
		}
		sub.SendAfter = req.GetSendAfter().AsTime()
	}
	m, created, err := s.d.Sending.Submit(ctx, sub)
	if err != nil {
		return nil, err
	}
	return &mailboxv1.SubmitMessageResponse{Message: messageProto(m), Created: created}, nil
}

// GetMessage implements mailboxv1.MailboxServiceServer.
func (s *Server) GetMessage(ctx context.Context, req *mailboxv1.GetMessageRequest) (*mailboxv1.GetMessageResponse, error) {
	if _, err := serviceCaller(ctx); err != nil {
		return nil, err
	}
	m, err := s.d.Sending.Get(ctx, req.GetOrganizationId(), req.GetMessageId())
	if err != nil {
		return nil, err
	}
	return &mailboxv1.GetMessageResponse{Message: messageProto(m)}, nil
}

// ListMessages implements mailboxv1.MailboxServiceServer.
func (s *Server) ListMessages(ctx context.Context, req *mailboxv1.ListMessagesRequest) (*mailboxv1.ListMessagesResponse, error) {
	if _, err := serviceCaller(ctx); err != nil {
		return nil, err
	}
	list, next, err := s.d.Sending.List(ctx, req.GetOrganizationId(), req.GetMailboxId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &mailboxv1.ListMessagesResponse{NextPageToken: next}
	for _, m := range list {
		out.Messages = append(out.Messages, messageProto(m))
	}
	return out, nil
}

// CancelMessage implements mailboxv1.MailboxServiceServer.
func (s *Server) CancelMessage(ctx context.Context, req *mailboxv1.CancelMessageRequest) (*mailboxv1.CancelMessageResponse, error) {
	if _, err := serviceCaller(ctx); err != nil {
		return nil, err
	}
	m, err := s.d.Sending.Cancel(ctx, req.GetOrganizationId(), req.GetMessageId())
	if err != nil {
		return nil, err
	}
	return &mailboxv1.CancelMessageResponse{Message: messageProto(m)}, nil
}

// GetMailboxHealth implements mailboxv1.MailboxServiceServer.
func (s *Server) GetMailboxHealth(ctx context.Context, req *mailboxv1.GetMailboxHealthRequest) (*mailboxv1.GetMailboxHealthResponse, error) {
	caller, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	mb, err := s.d.Mailboxes.Get(ctx, caller, req.GetMailboxId())
	if err != nil {
		return nil, err
	}
	h, err := s.d.Sending.Health(ctx, mb)
	if err != nil {
		return nil, err
	}
	hp := healthProto(h)
	if err := s.addInbound(ctx, hp); err != nil {
		return nil, err
	}
	s.addBudget(ctx, hp)
	addLastSuccess(hp, mb.AddressesFetchedAt)
	return &mailboxv1.GetMailboxHealthResponse{Health: hp}, nil
}

// ListMailboxes implements mailboxv1.MailboxServiceServer.
func (s *Server) ListMailboxes(ctx context.Context, req *mailboxv1.ListMailboxesRequest) (*mailboxv1.ListMailboxesResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	list, next, err := s.d.Mailboxes.List(ctx, orgID, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &mailboxv1.ListMailboxesResponse{NextPageToken: next}
	for _, mb := range list {
		h, err := s.d.Sending.Health(ctx, mb)
		if err != nil {
			return nil, err
		}
		hp := healthProto(h)
		if err := s.addInbound(ctx, hp); err != nil {
			return nil, err
		}
		s.addBudget(ctx, hp)
		addLastSuccess(hp, mb.AddressesFetchedAt)
		out.Mailboxes = append(out.Mailboxes, hp)
	}
	return out, nil
}

func recipientsFrom(in []*mailboxv1.Recipient) []sending.Recipient {
	out := make([]sending.Recipient, 0, len(in))
	for _, r := range in {
		out = append(out, sending.Recipient{Address: r.GetAddress(), Name: r.GetName()})
	}
	return out
}

func recipientsProto(in []store.Recipient) []*mailboxv1.Recipient {
	out := make([]*mailboxv1.Recipient, 0, len(in))
	for _, r := range in {
		out = append(out, &mailboxv1.Recipient{Address: r.Address, Name: r.Name})
	}
	return out
}

var messageStates = map[string]mailboxv1.MessageState{
	store.StateQueued:    mailboxv1.MessageState_MESSAGE_STATE_QUEUED,
	store.StateDrafted:   mailboxv1.MessageState_MESSAGE_STATE_QUEUED,
	store.StateSending:   mailboxv1.MessageState_MESSAGE_STATE_SENDING,
	store.StateSent:      mailboxv1.MessageState_MESSAGE_STATE_SENT,
	store.StateFailed:    mailboxv1.MessageState_MESSAGE_STATE_FAILED,
	store.StateCancelled: mailboxv1.MessageState_MESSAGE_STATE_CANCELLED,
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	return timestamppb.New(*t)
}

func messageProto(m store.Message) *mailboxv1.Message {
	out := &mailboxv1.Message{
		Id: m.ID, OrganizationId: m.OrgID, MailboxId: m.MailboxID, IdempotencyKey: m.IdempotencyKey, State: messageStates[m.State],
		To: recipientsProto(m.To), Cc: recipientsProto(m.Cc), Subject: m.Subject, HtmlBody: m.HTMLBody,
		ReplyToProviderMessageId: m.ReplyToProviderID, SendAfter: timestamppb.New(m.SendAfter),
		InternetMessageId: m.InternetMessageID, ConversationId: m.ConversationID, StatusReason: m.StatusReason,
		CreateTime: timestamppb.New(m.CreatedAt), SentTime: ts(m.SentAt), UpdateTime: timestamppb.New(m.UpdatedAt),
	}
	// The draft's id is the sent message's (immutable ids) only once sent.
	if m.State == store.StateSent {
		out.ProviderMessageId = m.DraftID
	}
	return out
}

var mailboxStatuses = map[string]mailboxv1.MailboxStatus{
	store.StatusConnected:         mailboxv1.MailboxStatus_MAILBOX_STATUS_CONNECTED,
	store.StatusReconnectRequired: mailboxv1.MailboxStatus_MAILBOX_STATUS_RECONNECT_REQUIRED,
	store.StatusDisconnected:      mailboxv1.MailboxStatus_MAILBOX_STATUS_DISCONNECTED,
}

func healthProto(h sending.Health) *mailboxv1.MailboxHealth {
	mb := h.Mailbox
	out := &mailboxv1.MailboxHealth{
		MailboxId: mb.ID, OrganizationId: mb.OrgID, UserId: mb.UserID, Address: mb.Address, OwnAddresses: mb.OwnAddresses,
		Status: mailboxStatuses[mb.Status], StatusReason: mb.StatusReason, QueueDepth: h.QueueDepth,
		SentToday: h.SentToday, RecipientsToday: h.RecipientsToday, DailyMessageLimit: int64(mb.DailyMessageLimit),
		DailyRecipientLimit: sending.RecipientsPerDay, MessagesPerMinute: int64(h.PerMinute),
		MinGap: durationpb.New(mb.MinGap), LastError: mb.LastError, LastErrorTime: ts(mb.LastErrorAt), LastSentTime: ts(mb.LastSentAt),
		SentLastMinute: h.SentLastMinute, RecoveredTime: ts(mb.RecoveredAt),
	}
	if !h.NextSendTime.IsZero() {
		out.NextSendTime = timestamppb.New(h.NextSendTime)
	}
	if mb.Address == "" {
		// Until Graph told its addresses, the one identity knows.
		out.Address = mb.Account
	}
	return out
}
