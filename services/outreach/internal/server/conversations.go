package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

var directionToProto = map[string]outreachv1.MessageDirection{
	store.Outbound: outreachv1.MessageDirection_MESSAGE_DIRECTION_OUTBOUND,
	store.Inbound:  outreachv1.MessageDirection_MESSAGE_DIRECTION_INBOUND,
}

// enumName is "" for an unspecified value, else the name in m of v, or the
// enum's own name for a value this service does not know: the domain names
// the field either way.
func enumName[E comparable](m map[string]E, v E, unspecified E, name func(E) string) string {
	if v == unspecified {
		return ""
	}
	for k, x := range m {
		if x == v {
			return k
		}
	}
	return name(v)
}

func conversationProto(c store.Conversation) *outreachv1.Conversation {
	return &outreachv1.Conversation{Id: c.ID, CandidateId: c.CandidateID, Subject: c.Subject, MailboxConnectionId: c.MailboxConnectionID,
		SenderUserId: c.SenderUserID, ProviderConversationId: c.ProviderConversationID, CreateTime: timestamppb.New(c.CreatedAt),
		LastMessageTime: timestamppb.New(c.LastMessageAt), MessageCount: int32(min(c.MessageCount, 1<<31-1))} //nolint:gosec // bounded just before
}

func messageProto(m store.Message) *outreachv1.ConversationMessage {
	return &outreachv1.ConversationMessage{Id: m.ID, ConversationId: m.ConversationID, Direction: directionToProto[m.Direction],
		Kind: conversations.KindToProto[m.Kind], From: m.From, To: m.To, Cc: m.Cc, Subject: m.Subject, BodyText: m.BodyText,
		BodyHtml: m.BodyHTML, Snippet: m.Snippet, InternetMessageId: m.InternetMessageID, InReplyTo: m.InReplyTo,
		MessageTime: timestamppb.New(m.MessageAt), MailboxMessageId: m.MailboxMessageID, CreateTime: timestamppb.New(m.CreatedAt)}
}

// ListConversations implements the RPC.
func (s *Server) ListConversations(ctx context.Context, req *outreachv1.ListConversationsRequest) (*outreachv1.ListConversationsResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Conversations.List(ctx, orgID, conversations.Query{ID: req.GetCandidateId(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	out := &outreachv1.ListConversationsResponse{NextPageToken: page.NextPageToken}
	for _, c := range page.Conversations {
		out.Conversations = append(out.Conversations, conversationProto(c))
	}
	return out, nil
}

// GetConversation implements the RPC.
func (s *Server) GetConversation(ctx context.Context, req *outreachv1.GetConversationRequest) (*outreachv1.GetConversationResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.d.Conversations.Get(ctx, orgID, conversations.Query{ID: req.GetConversationId(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, mapErr(err, "conversation")
	}
	out := &outreachv1.GetConversationResponse{Conversation: conversationProto(t.Conversation), NextPageToken: t.NextPageToken}
	for _, m := range t.Messages {
		out.Messages = append(out.Messages, messageProto(m))
	}
	return out, nil
}

// RecordConversationMessage implements the internal RPC; the caller is a
// service, and the organization comes from the request.
func (s *Server) RecordConversationMessage(ctx context.Context, req *outreachv1.RecordConversationMessageRequest) (*outreachv1.RecordConversationMessageResponse, error) {
	if _, err := authz.Caller(ctx); err != nil {
		return nil, err
	}
	m := req.GetMessage()
	r := store.MessageRecord{OrgID: req.GetOrganizationId(), CandidateID: req.GetCandidateId(), ConversationID: req.GetConversationId(),
		ProviderConversationID: req.GetProviderConversationId(), MailboxConnectionID: req.GetMailboxConnectionId(), SenderUserID: req.GetSenderUserId(),
		Message: store.Message{
			Direction: enumName(directionToProto, m.GetDirection(), outreachv1.MessageDirection_MESSAGE_DIRECTION_UNSPECIFIED, outreachv1.MessageDirection.String),
			Kind:      enumName(conversations.KindToProto, m.GetKind(), outreachv1.MessageKind_MESSAGE_KIND_UNSPECIFIED, outreachv1.MessageKind.String),
			From:      m.GetFrom(), To: m.GetTo(), Cc: m.GetCc(), Subject: m.GetSubject(), BodyText: m.GetBodyText(), BodyHTML: m.GetBodyHtml(),
			Snippet: m.GetSnippet(), InternetMessageID: m.GetInternetMessageId(), InReplyTo: m.GetInReplyTo(), MailboxMessageID: m.GetMailboxMessageId(),
		}}
	if m.GetMessageTime() != nil {
		r.Message.MessageAt = m.GetMessageTime().AsTime()
	}
	rec, err := s.d.Conversations.Record(ctx, r, req.GetIdempotencyKey())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	return &outreachv1.RecordConversationMessageResponse{Conversation: conversationProto(rec.Conversation), Message: messageProto(rec.Message), Created: rec.Created}, nil
}
