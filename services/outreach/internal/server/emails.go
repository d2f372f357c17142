package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/emails"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Emails is the domain of one-off e-mails (emails.Emails).
type Emails interface {
	Send(ctx context.Context, caller authz.Principal, in emails.Input) (store.CandidateEmail, error)
	List(ctx context.Context, orgID, candidateID string, pageSize int, token string) (emails.Page, error)
	Cancel(ctx context.Context, orgID, candidateID, emailID string) (store.CandidateEmail, error)
}

var emailStateToProto = map[string]outreachv1.CandidateEmailState{
	store.EmailPending:   outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_PENDING,
	store.EmailQueued:    outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_QUEUED,
	store.EmailSent:      outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_SENT,
	store.EmailCancelled: outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_CANCELLED,
	store.EmailFailed:    outreachv1.CandidateEmailState_CANDIDATE_EMAIL_STATE_FAILED,
}

func optionalTime(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func candidateEmailProto(e store.CandidateEmail) *outreachv1.CandidateEmail {
	return &outreachv1.CandidateEmail{Id: e.ID, CandidateId: e.CandidateID, MailboxConnectionId: e.MailboxConnectionID,
		SenderUserId: e.SenderUserID, CreatedBy: e.CreatedBy, ToAddress: e.ToAddress, Subject: e.Subject, HtmlBody: e.HTMLBody,
		SendTime: optionalTime(e.SendAt), ReplyConversationId: e.ReplyConversationID, State: emailStateToProto[e.State],
		ConversationId: e.ConversationID, CreateTime: timestamppb.New(e.CreatedAt), UpdateTime: timestamppb.New(e.UpdatedAt),
		SentTime: optionalTime(e.SentAt)}
}

// SendCandidateEmail implements the RPC.
func (s *Server) SendCandidateEmail(ctx context.Context, req *outreachv1.SendCandidateEmailRequest) (*outreachv1.SendCandidateEmailResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := emails.Input{CandidateID: req.GetCandidateId(), MailboxConnectionID: req.GetMailboxConnectionId(), SenderUserID: req.GetSenderUserId(),
		SenderEmail: req.GetSenderEmail(), Subject: req.GetSubject(), HTMLBody: req.GetHtmlBody(),
		ReplyConversationID: req.GetReplyConversationId(), RequestID: req.GetRequestId()}
	if req.GetSendTime() != nil {
		t := req.GetSendTime().AsTime()
		in.SendAt = &t
	}
	e, err := s.d.Emails.Send(ctx, p, in)
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	return &outreachv1.SendCandidateEmailResponse{Email: candidateEmailProto(e)}, nil
}

// ListCandidateEmails implements the RPC.
func (s *Server) ListCandidateEmails(ctx context.Context, req *outreachv1.ListCandidateEmailsRequest) (*outreachv1.ListCandidateEmailsResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Emails.List(ctx, orgID, req.GetCandidateId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	out := &outreachv1.ListCandidateEmailsResponse{NextPageToken: page.NextPageToken}
	for _, e := range page.Emails {
		out.Emails = append(out.Emails, candidateEmailProto(e))
	}
	return out, nil
}

// CancelCandidateEmail implements the RPC.
func (s *Server) CancelCandidateEmail(ctx context.Context, req *outreachv1.CancelCandidateEmailRequest) (*outreachv1.CancelCandidateEmailResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.d.Emails.Cancel(ctx, orgID, req.GetCandidateId(), req.GetEmailId())
	if err != nil {
		return nil, mapErr(err, "email")
	}
	return &outreachv1.CancelCandidateEmailResponse{Email: candidateEmailProto(e)}, nil
}
