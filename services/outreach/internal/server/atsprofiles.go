package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func atsProfilesProto(ps []store.ATSProfile) []*outreachv1.AtsProfile {
	out := make([]*outreachv1.AtsProfile, 0, len(ps))
	for _, p := range ps {
		out = append(out, &outreachv1.AtsProfile{Provider: p.Provider, RemoteCandidateId: p.RemoteCandidateID,
			RemoteOpportunityId: p.RemoteOpportunityID, Url: p.URL, JobId: p.JobID, LinkTime: timestamppb.New(p.LinkedAt)})
	}
	return out
}

// GetCandidateForSync implements the internal RPC: what atsbridge writes
// of a candidate. The organization comes in the request, since the caller
// is a service (the policy admits only services).
func (s *Server) GetCandidateForSync(ctx context.Context, req *outreachv1.GetCandidateForSyncRequest) (*outreachv1.GetCandidateForSyncResponse, error) {
	switch {
	case req.GetOrganizationId() == "":
		return nil, apperr.InvalidArgument("organization_id", "is required")
	case req.GetCandidateId() == "":
		return nil, apperr.InvalidArgument("candidate_id", "is required")
	}
	f, err := s.d.ATSProfiles.ForSync(ctx, req.GetOrganizationId(), req.GetCandidateId(), req.GetJobId())
	if err != nil {
		return nil, mapErr(err, "candidate")
	}
	out := &outreachv1.GetCandidateForSyncResponse{Candidate: candidateProto(f.Candidate)}
	for _, n := range f.PublicNotes {
		out.PublicNotes = append(out.PublicNotes, noteProto(n))
	}
	if f.Job.ID != "" {
		out.Job = jobProto(f.Job)
	}
	return out, nil
}
