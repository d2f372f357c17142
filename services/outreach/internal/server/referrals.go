package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/referrals"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func referralProto(r store.Referral) *outreachv1.Referral {
	return &outreachv1.Referral{Id: r.ID, JobId: r.JobID, CandidateId: r.CandidateID, ReferrerUserId: r.ReferrerUserID,
		Name: r.Name, Email: r.Email, LinkedinUrl: r.LinkedInURL, Relationship: r.Relationship, Note: r.Note,
		CandidateCreated: r.CandidateCreated, CreateTime: timestamppb.New(r.CreatedAt)}
}

// CreateReferral implements the RPC.
func (s *Server) CreateReferral(ctx context.Context, req *outreachv1.CreateReferralRequest) (*outreachv1.CreateReferralResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetReferral()
	r, err := s.d.Referrals.Create(ctx, p, store.Referral{JobID: in.GetJobId(), Name: in.GetName(), Email: in.GetEmail(),
		LinkedInURL: in.GetLinkedinUrl(), Relationship: in.GetRelationship(), Note: in.GetNote()})
	if err != nil {
		return nil, mapErr(err, "job")
	}
	return &outreachv1.CreateReferralResponse{Referral: referralProto(r)}, nil
}

// GetReferral implements the RPC.
func (s *Server) GetReferral(ctx context.Context, req *outreachv1.GetReferralRequest) (*outreachv1.GetReferralResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.d.Referrals.Get(ctx, p, req.GetReferralId())
	if err != nil {
		return nil, mapErr(err, "referral")
	}
	return &outreachv1.GetReferralResponse{Referral: referralProto(r)}, nil
}

// ListReferrals implements the RPC.
func (s *Server) ListReferrals(ctx context.Context, req *outreachv1.ListReferralsRequest) (*outreachv1.ListReferralsResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Referrals.List(ctx, p, referrals.Query{ReferrerUserID: req.GetReferrerUserId(), JobID: req.GetJobId(),
		CandidateID: req.GetCandidateId(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	out := &outreachv1.ListReferralsResponse{NextPageToken: page.NextPageToken}
	for _, r := range page.Referrals {
		out.Referrals = append(out.Referrals, referralProto(r))
	}
	return out, nil
}
