package server

import (
	"context"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func stageProto(s store.Stage) *outreachv1.Stage {
	return &outreachv1.Stage{Id: s.ID, Name: s.Name, Position: int32(s.Position), Retired: s.RetiredAt != nil}
}

func stagesProto(ss []store.Stage) []*outreachv1.Stage {
	out := make([]*outreachv1.Stage, 0, len(ss))
	for _, s := range ss {
		out = append(out, stageProto(s))
	}
	return out
}

// ListStages implements the RPC.
func (s *Server) ListStages(ctx context.Context, req *outreachv1.ListStagesRequest) (*outreachv1.ListStagesResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := s.d.Stages.List(ctx, orgID, req.GetShowRetired())
	if err != nil {
		return nil, err
	}
	return &outreachv1.ListStagesResponse{Stages: stagesProto(ss)}, nil
}

// CreateStage implements the RPC.
func (s *Server) CreateStage(ctx context.Context, req *outreachv1.CreateStageRequest) (*outreachv1.CreateStageResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.d.Stages.Create(ctx, orgID, req.GetStage().GetName())
	if err != nil {
		return nil, err
	}
	return &outreachv1.CreateStageResponse{Stage: stageProto(st)}, nil
}

// UpdateStage implements the RPC.
func (s *Server) UpdateStage(ctx context.Context, req *outreachv1.UpdateStageRequest) (*outreachv1.UpdateStageResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.d.Stages.Rename(ctx, orgID, req.GetStage().GetId(), req.GetStage().GetName(), req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	return &outreachv1.UpdateStageResponse{Stage: stageProto(st)}, nil
}

// ReorderStages implements the RPC.
func (s *Server) ReorderStages(ctx context.Context, req *outreachv1.ReorderStagesRequest) (*outreachv1.ReorderStagesResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := s.d.Stages.Reorder(ctx, orgID, req.GetStageIds())
	if err != nil {
		return nil, err
	}
	return &outreachv1.ReorderStagesResponse{Stages: stagesProto(ss)}, nil
}

// RetireStage implements the RPC.
func (s *Server) RetireStage(ctx context.Context, req *outreachv1.RetireStageRequest) (*outreachv1.RetireStageResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	st, moved, err := s.d.Stages.Retire(ctx, p, req.GetStageId(), req.GetMoveToStageId())
	if err != nil {
		return nil, err
	}
	return &outreachv1.RetireStageResponse{Stage: stageProto(st), MovedCandidates: int32(moved)}, nil
}

// MoveCandidateStage implements the RPC.
func (s *Server) MoveCandidateStage(ctx context.Context, req *outreachv1.MoveCandidateStageRequest) (*outreachv1.MoveCandidateStageResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Stages.Move(ctx, p, req.GetCandidateId(), req.GetStageId(), req.GetReason())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	return &outreachv1.MoveCandidateStageResponse{Candidate: candidateProto(c)}, nil
}

// ListStagesForService implements the internal RPC: atsbridge's stage
// mapping covers these. The organization comes in the request, since the
// caller is a service (the policy admits only services).
func (s *Server) ListStagesForService(ctx context.Context, req *outreachv1.ListStagesForServiceRequest) (*outreachv1.ListStagesForServiceResponse, error) {
	if req.GetOrganizationId() == "" {
		return nil, apperr.InvalidArgument("organization_id", "is required")
	}
	ss, err := s.d.Stages.List(ctx, req.GetOrganizationId(), false)
	if err != nil {
		return nil, err
	}
	return &outreachv1.ListStagesForServiceResponse{Stages: stagesProto(ss)}, nil
}
