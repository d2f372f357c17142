package server

import (
	"context"

	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// CreateCandidate implements the RPC.
func (s *Server) CreateCandidate(ctx context.Context, req *outreachv1.CreateCandidateRequest) (*outreachv1.CreateCandidateResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Candidates.Create(ctx, p, candidateFromProto(req.GetCandidate()))
	if err != nil {
		return nil, err
	}
	return &outreachv1.CreateCandidateResponse{Candidate: candidateProto(c)}, nil
}

// GetCandidate implements the RPC.
func (s *Server) GetCandidate(ctx context.Context, req *outreachv1.GetCandidateRequest) (*outreachv1.GetCandidateResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Candidates.Get(ctx, orgID, req.GetCandidateId())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	out := candidateProto(c)
	if s.d.ATSProfiles != nil {
		ps, err := s.d.ATSProfiles.List(ctx, orgID, c.ID)
		if err != nil {
			return nil, err
		}
		out.AtsProfiles = atsProfilesProto(ps)
	}
	return &outreachv1.GetCandidateResponse{Candidate: out}, nil
}

// UpdateCandidate implements the RPC.
func (s *Server) UpdateCandidate(ctx context.Context, req *outreachv1.UpdateCandidateRequest) (*outreachv1.UpdateCandidateResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Candidates.Update(ctx, orgID, req.GetCandidate().GetId(), candidateFromProto(req.GetCandidate()), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	return &outreachv1.UpdateCandidateResponse{Candidate: candidateProto(c)}, nil
}

// ListCandidates implements the RPC.
func (s *Server) ListCandidates(ctx context.Context, req *outreachv1.ListCandidatesRequest) (*outreachv1.ListCandidatesResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Candidates.Search(ctx, orgID, candidates.Query{
		Order: orderFromProto(req.GetOrderBy()), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	out := &outreachv1.ListCandidatesResponse{NextPageToken: page.NextPageToken}
	for _, c := range page.Candidates {
		out.Candidates = append(out.Candidates, candidateProto(c))
	}
	return out, nil
}

// SearchCandidates implements the RPC.
func (s *Server) SearchCandidates(ctx context.Context, req *outreachv1.SearchCandidatesRequest) (*outreachv1.SearchCandidatesResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Candidates.Search(ctx, orgID, candidates.Query{
		Filter: store.Filter{Name: req.GetName(), Email: req.GetEmail(), Company: req.GetCompany(), OwnerUserID: req.GetOwnerUserId(), Tag: req.GetTag(), StageID: req.GetStageId()},
		Order:  orderFromProto(req.GetOrderBy()), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	out := &outreachv1.SearchCandidatesResponse{NextPageToken: page.NextPageToken}
	for _, c := range page.Candidates {
		out.Candidates = append(out.Candidates, candidateProto(c))
	}
	return out, nil
}

// DeleteCandidate implements the RPC.
func (s *Server) DeleteCandidate(ctx context.Context, req *outreachv1.DeleteCandidateRequest) (*outreachv1.DeleteCandidateResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Candidates.Delete(ctx, orgID, req.GetCandidateId())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	return &outreachv1.DeleteCandidateResponse{Candidate: candidateProto(c)}, nil
}

// UndeleteCandidate implements the RPC.
func (s *Server) UndeleteCandidate(ctx context.Context, req *outreachv1.UndeleteCandidateRequest) (*outreachv1.UndeleteCandidateResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Candidates.Undelete(ctx, orgID, req.GetCandidateId())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	return &outreachv1.UndeleteCandidateResponse{Candidate: candidateProto(c)}, nil
}

// MergeCandidates implements the RPC.
func (s *Server) MergeCandidates(ctx context.Context, req *outreachv1.MergeCandidatesRequest) (*outreachv1.MergeCandidatesResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Candidates.Merge(ctx, p, req.GetSurvivorId(), req.GetMergedId())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	return &outreachv1.MergeCandidatesResponse{Candidate: candidateProto(c)}, nil
}

var outcomeToProto = map[candidates.Outcome]outreachv1.BatchOutcome{
	candidates.Created: outreachv1.BatchOutcome_BATCH_OUTCOME_CREATED,
	candidates.Matched: outreachv1.BatchOutcome_BATCH_OUTCOME_MATCHED,
	candidates.Refused: outreachv1.BatchOutcome_BATCH_OUTCOME_REFUSED,
}

// BatchCreateCandidates implements the RPC.
func (s *Server) BatchCreateCandidates(ctx context.Context, req *outreachv1.BatchCreateCandidatesRequest) (*outreachv1.BatchCreateCandidatesResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]store.Candidate, len(req.GetCandidates()))
	for i, c := range req.GetCandidates() {
		rows[i] = candidateFromProto(c)
	}
	results, err := s.d.Candidates.BatchCreate(ctx, p, rows)
	if err != nil {
		return nil, err
	}
	out := &outreachv1.BatchCreateCandidatesResponse{}
	for i, r := range results {
		out.Results = append(out.Results, &outreachv1.BatchCreateResult{Index: int32(i), Outcome: outcomeToProto[r.Outcome],
			CandidateId: r.CandidateID, Field: r.Field, Reason: r.Reason})
	}
	return out, nil
}
