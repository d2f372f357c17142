package server

import (
	"context"
	"encoding/json"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/audit"
)

// SyncAudit is the sync audit log the handlers read.
type SyncAudit interface {
	List(ctx context.Context, f audit.Filter, pageSize int, token string) (audit.Page, error)
	Timeline(ctx context.Context, orgID string, candidateIDs []string, after audit.Position, limit int) ([]audit.Logged, error)
}

// ListSyncAudit implements the RPC.
func (s *Server) ListSyncAudit(ctx context.Context, req *atsbridgev1.ListSyncAuditRequest) (*atsbridgev1.ListSyncAuditResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.audit.List(ctx, audit.Filter{OrgID: orgID, CandidateID: req.GetCandidateId(), Direction: req.GetDirection(),
		Outcome: req.GetOutcome(), Action: req.GetAction()}, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &atsbridgev1.ListSyncAuditResponse{NextPageToken: p.NextPageToken, Entries: auditProtos(p.Entries)}, nil
}

// ListCandidateSyncAudit implements the internal RPC; the organization
// comes in the request, from outreach, which checked the candidate is
// the caller's.
func (s *Server) ListCandidateSyncAudit(ctx context.Context, req *atsbridgev1.ListCandidateSyncAuditRequest) (*atsbridgev1.ListCandidateSyncAuditResponse, error) {
	var after audit.Position
	if t := req.GetAfterTime(); t != nil {
		if err := t.CheckValid(); err != nil {
			return nil, apperr.InvalidArgument("after_time", "is not a time")
		}
		after = audit.Position{At: t.AsTime(), ID: req.GetAfterId()}
	}
	entries, err := s.audit.Timeline(ctx, req.GetOrganizationId(), req.GetCandidateIds(), after, int(req.GetPageSize()))
	if err != nil {
		return nil, err
	}
	return &atsbridgev1.ListCandidateSyncAuditResponse{Entries: auditProtos(entries)}, nil
}

func auditProtos(entries []audit.Logged) []*atsbridgev1.SyncAuditEntry {
	out := make([]*atsbridgev1.SyncAuditEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, &atsbridgev1.SyncAuditEntry{
			Id: e.ID, OrganizationId: e.OrgID, ConnectionId: e.ConnectionID, CandidateId: e.CandidateID, OperationId: e.OperationID,
			TriggerId: e.TriggerID, TriggerType: e.TriggerType, Direction: e.Direction, Action: e.Action,
			MappingVersion: int32(e.MappingVersion), Rule: e.Rule, //nolint:gosec // a count of saves
			Request: exchangeProto(e.Request), Response: exchangeProto(e.Response), Attempt: int32(e.Attempt), //nolint:gosec // a count of attempts
			Outcome: e.Outcome, Error: e.Error, ActorUserId: e.ActorUserID, ActorRemoteId: e.ActorRemoteID,
			OccurTime: timestamppb.New(e.OccurredAt),
		})
	}
	return out
}

// exchangeProto reads the JSON audit.Record wrote; nil stays unset. A
// body the log holds but JSON cannot carry over (none Record writes) is
// left out rather than failing the page.
func exchangeProto(raw json.RawMessage) *atsbridgev1.SyncAuditExchange {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var x struct {
		Method string `json:"method"`
		Path   string `json:"path"`
		Status int32  `json:"status"`
		Body   any    `json:"body"`
	}
	if err := json.Unmarshal(raw, &x); err != nil {
		return nil
	}
	out := &atsbridgev1.SyncAuditExchange{Method: x.Method, Path: x.Path, Status: x.Status}
	if x.Body != nil {
		if v, err := structpb.NewValue(x.Body); err == nil {
			out.Body = v
		}
	}
	return out
}
