package server

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// Mappings is the stage mapping domain the handlers call.
type Mappings interface {
	Get(ctx context.Context, orgID string, version int) (store.Mapping, error)
	Propose(ctx context.Context, orgID string) (store.Table, []mappings.Problem, error)
	Save(ctx context.Context, orgID, by string, base int, t store.Table) (store.Mapping, error)
	DryRun(ctx context.Context, orgID string, t store.Table) (mappings.DryRun, error)
	CheckFlowLink(ctx context.Context, orgID, postingID string) (mappings.Refusal, error)
}

func placeProto(p store.Place) *atsbridgev1.AtsPlace {
	return &atsbridgev1.AtsPlace{StageId: p.StageID, ArchiveReasonId: p.ArchiveReasonID}
}

func placeFrom(p *atsbridgev1.AtsPlace) store.Place {
	return store.Place{StageID: p.GetStageId(), ArchiveReasonID: p.GetArchiveReasonId()}
}

func tableProto(t store.Table) *atsbridgev1.StageMapping {
	out := &atsbridgev1.StageMapping{ToAts: make([]*atsbridgev1.TandemToAtsRow, 0, len(t.ToATS)), FromAts: make([]*atsbridgev1.AtsToTandemRow, 0, len(t.FromATS))}
	for _, r := range t.ToATS {
		out.ToAts = append(out.ToAts, &atsbridgev1.TandemToAtsRow{TandemStageId: r.TandemStageID, Ats: placeProto(r.ATS)})
	}
	for _, r := range t.FromATS {
		out.FromAts = append(out.FromAts, &atsbridgev1.AtsToTandemRow{Ats: placeProto(r.ATS), TandemStageId: r.TandemStageID})
	}
	return out
}

func mappingProto(m store.Mapping) *atsbridgev1.StageMapping {
	out := tableProto(m.Table)
	out.Version = int32(m.Version) //nolint:gosec // a count of saves
	out.CreatedBy = m.CreatedBy
	out.CreateTime = timestamppb.New(m.CreatedAt)
	return out
}

func tableFrom(m *atsbridgev1.StageMapping) store.Table {
	var t store.Table
	for _, r := range m.GetToAts() {
		t.ToATS = append(t.ToATS, store.ToATS{TandemStageID: r.GetTandemStageId(), ATS: placeFrom(r.GetAts())})
	}
	for _, r := range m.GetFromAts() {
		t.FromATS = append(t.FromATS, store.FromATS{ATS: placeFrom(r.GetAts()), TandemStageID: r.GetTandemStageId()})
	}
	return t
}

func problemsProto(ps []mappings.Problem) []*atsbridgev1.StageMappingProblem {
	out := make([]*atsbridgev1.StageMappingProblem, 0, len(ps))
	for _, p := range ps {
		out = append(out, &atsbridgev1.StageMappingProblem{Reason: p.Reason, Field: p.Field, Description: p.Description})
	}
	return out
}

// refusal turns a table's problems into the client's InvalidArgument.
func refusal(err error) error {
	var inv *mappings.Invalid
	if errors.As(err, &inv) {
		return inv.PublicError()
	}
	return err
}

// GetStageMapping implements the RPC.
func (s *Server) GetStageMapping(ctx context.Context, req *atsbridgev1.GetStageMappingRequest) (*atsbridgev1.GetStageMappingResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.maps.Get(ctx, orgID, int(req.GetVersion()))
	if err != nil {
		return nil, err
	}
	return &atsbridgev1.GetStageMappingResponse{Mapping: mappingProto(m)}, nil
}

// ProposeStageMapping implements the RPC.
func (s *Server) ProposeStageMapping(ctx context.Context, _ *atsbridgev1.ProposeStageMappingRequest) (*atsbridgev1.ProposeStageMappingResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	t, ps, err := s.maps.Propose(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return &atsbridgev1.ProposeStageMappingResponse{Mapping: tableProto(t), Problems: problemsProto(ps)}, nil
}

// SaveStageMapping implements the RPC.
func (s *Server) SaveStageMapping(ctx context.Context, req *atsbridgev1.SaveStageMappingRequest) (*atsbridgev1.SaveStageMappingResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetMapping() == nil {
		return nil, apperr.InvalidArgument("mapping", "is required")
	}
	m, err := s.maps.Save(ctx, orgID, p.UserID, int(req.GetBaseVersion()), tableFrom(req.GetMapping()))
	if err != nil {
		return nil, refusal(err)
	}
	return &atsbridgev1.SaveStageMappingResponse{Mapping: mappingProto(m)}, nil
}

// DryRunStageMapping implements the RPC.
func (s *Server) DryRunStageMapping(ctx context.Context, req *atsbridgev1.DryRunStageMappingRequest) (*atsbridgev1.DryRunStageMappingResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetMapping() == nil {
		return nil, apperr.InvalidArgument("mapping", "is required")
	}
	d, err := s.maps.DryRun(ctx, orgID, tableFrom(req.GetMapping()))
	if err != nil {
		return nil, err
	}
	out := &atsbridgev1.DryRunStageMappingResponse{LinkedCandidates: d.Linked, Unchanged: d.Unchanged, Problems: problemsProto(d.Problems)}
	for _, m := range d.Moves {
		out.Moves = append(out.Moves, &atsbridgev1.StageMove{FromTandemStageId: m.From, ToTandemStageId: m.To, Candidates: m.Candidates})
	}
	for _, u := range d.Unmapped {
		out.Unmapped = append(out.Unmapped, &atsbridgev1.UnmappedPlace{Ats: placeProto(u.ATS), Candidates: u.Candidates})
	}
	return out, nil
}

// CheckFlowLink implements the internal RPC; the organization comes in
// the request, since the caller is outreach.
func (s *Server) CheckFlowLink(ctx context.Context, req *atsbridgev1.CheckFlowLinkRequest) (*atsbridgev1.CheckFlowLinkResponse, error) {
	if req.GetOrganizationId() == "" {
		return nil, apperr.InvalidArgument("organization_id", "is required")
	}
	r, err := s.maps.CheckFlowLink(ctx, req.GetOrganizationId(), req.GetExternalJobId())
	if err != nil {
		return nil, err
	}
	return &atsbridgev1.CheckFlowLinkResponse{Ok: r.Reason == "", Reason: r.Reason, Description: r.Description}, nil
}
