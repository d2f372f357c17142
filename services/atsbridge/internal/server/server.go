// Package server is the gRPC handler of the atsbridge service: it translates protos
// and errors and nothing else.
package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// Policy names who may call each RPC; an RPC without a rule is denied (the
// test checks every RPC has one).
var Policy = authz.Policy{
	// Everyone sees whether the ATS is connected, and the stages and
	// postings a flow is linked to; the ATS's people are for the admins who
	// map recruiters to them (DESIGN §4).
	svc + "GetAtsConnection": authz.AnyMember(),
	svc + "ListAtsStages":    authz.AnyMember(),
	svc + "ListAtsPostings":  authz.AnyMember(),
	svc + "ListAtsUsers":     authz.AtLeast(authz.RoleAdmin),
	// Everyone sees the mapping flows are synced with; only admins change
	// it, or try a change out on the linked candidates (LV-2, SYNC-2).
	svc + "GetStageMapping":     authz.AnyMember(),
	svc + "ProposeStageMapping": authz.AtLeast(authz.RoleAdmin),
	svc + "SaveStageMapping":    authz.AtLeast(authz.RoleAdmin),
	svc + "DryRunStageMapping":  authz.AtLeast(authz.RoleAdmin),
	svc + "CheckFlowLink":       authz.Internal(),
	// Everyone sees what the sync did and why (SYNC-1); the log keeps no
	// secrets.
	svc + "ListSyncAudit": authz.AnyMember(),
	// outreach merges a candidate's decisions into its timeline (ADR 0027).
	svc + "ListCandidateSyncAudit": authz.Internal(),
	// The gateway hands Lever's webhook deliveries over (issue 15 item 5).
	svc + "ReceiveLeverWebhook": authz.Internal(),
	// Admins reconcile the connection on demand.
	svc + "ResyncAtsConnection": authz.AtLeast(authz.RoleAdmin),
}

const svc = "/tandem.atsbridge.v1.AtsBridgeService/"

// Connections is the domain the handlers call.
type Connections interface {
	Get(ctx context.Context, orgID string) (connections.Health, error)
	Stages(ctx context.Context, orgID string, size int, token string) (connections.StagePage, error)
	Postings(ctx context.Context, orgID string, publishedOnly bool, size int, token string) (connections.PostingPage, error)
	Users(ctx context.Context, orgID string, size int, token string) (connections.UserPage, error)
}

// Server implements atsbridgev1.AtsBridgeServiceServer.
type Server struct {
	atsbridgev1.UnimplementedAtsBridgeServiceServer
	conns    Connections
	maps     Mappings
	audit    SyncAudit
	webhooks WebhookReceiver
	resync   Resyncer
}

// New returns the handler.
func New(conns Connections, maps Mappings, audit SyncAudit) *Server {
	return &Server{conns: conns, maps: maps, audit: audit}
}

var statuses = map[string]atsbridgev1.AtsConnectionStatus{
	store.StatusConnected:         atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_CONNECTED,
	store.StatusSyncing:           atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_SYNCING,
	store.StatusReconnectRequired: atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_RECONNECT_REQUIRED,
	store.StatusDisconnected:      atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_DISCONNECTED,
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	return timestamppb.New(*t)
}

// GetAtsConnection implements the RPC.
func (s *Server) GetAtsConnection(ctx context.Context, _ *atsbridgev1.GetAtsConnectionRequest) (*atsbridgev1.GetAtsConnectionResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	h, err := s.conns.Get(ctx, orgID)
	if err != nil {
		return nil, err
	}
	c := h.Connection
	health := &atsbridgev1.AtsConnectionHealth{
		LastSuccessTime: ts(c.LastSuccessAt), LastSyncTime: ts(c.LastSyncAt), SyncStartTime: ts(c.SyncStartedAt),
		PendingPushes: h.Sync.PendingPushes, RateLimitPerSecond: h.Limit.PerSecond, RateLimitBurst: int32(h.Limit.Burst), //nolint:gosec // a configured burst, validated small
		RateLimitedLastDay: h.Errors.RateLimited, ErrorsLastDay: h.Errors.Total, LastError: h.Errors.Last, LastErrorTime: ts(h.Errors.LastAt),
		Stages: int64(c.Counts.Stages), Postings: int64(c.Counts.Postings), PublishedPostings: int64(c.Counts.PublishedPostings),
		Users: int64(c.Counts.Users), ArchiveReasons: int64(c.Counts.ArchiveReasons),
		HeldPushes: h.Sync.HeldPushes, FailedPushesLastDay: h.Sync.FailedPushes, NextRetryTime: ts(h.Sync.NextRetryAt),
		WebhookDeliveriesLastDay: h.Sync.Webhooks, WebhooksAppliedLastDay: h.Sync.WebhooksApplied, WebhooksIgnoredLastDay: h.Sync.WebhooksIgnored,
		LastWebhookTime: ts(h.Sync.LastWebhookAt), RecoveredTime: ts(c.RecoveredAt),
	}
	if b := h.Budget; b != nil {
		health.RateLimitAvailable = proto.Int32(int32(b.Available)) //nolint:gosec // at most the configured burst
		health.RateLimitUsed = proto.Int32(int32(b.Used))           //nolint:gosec // at most the configured burst
	}
	return &atsbridgev1.GetAtsConnectionResponse{Connection: &atsbridgev1.AtsConnection{
		Id: c.ID, OrganizationId: c.OrgID, Provider: c.Provider, Status: statuses[c.Status], Reason: c.Reason, Account: c.Account,
		UpdateTime: timestamppb.New(c.UpdatedAt), Health: health,
	}}, nil
}

// ListAtsStages implements the RPC.
func (s *Server) ListAtsStages(ctx context.Context, req *atsbridgev1.ListAtsStagesRequest) (*atsbridgev1.ListAtsStagesResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.conns.Stages(ctx, orgID, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &atsbridgev1.ListAtsStagesResponse{NextPageToken: p.Next, Stages: make([]*atsbridgev1.AtsStage, 0, len(p.Stages))}
	for _, st := range p.Stages {
		out.Stages = append(out.Stages, &atsbridgev1.AtsStage{RemoteId: st.RemoteID, Name: st.Name, Position: int32(st.Position)}) //nolint:gosec // a position in a pipeline
	}
	return out, nil
}

// ListAtsPostings implements the RPC.
func (s *Server) ListAtsPostings(ctx context.Context, req *atsbridgev1.ListAtsPostingsRequest) (*atsbridgev1.ListAtsPostingsResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.conns.Postings(ctx, orgID, req.GetPublishedOnly(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &atsbridgev1.ListAtsPostingsResponse{NextPageToken: p.Next, Postings: make([]*atsbridgev1.AtsPosting, 0, len(p.Postings))}
	for _, x := range p.Postings {
		out.Postings = append(out.Postings, &atsbridgev1.AtsPosting{RemoteId: x.RemoteID, Title: x.Title, State: x.State, Published: x.Published(),
			Team: x.Team, Department: x.Department, Location: x.Location, Commitment: x.Commitment, RemoteUpdateTime: ts(x.RemoteUpdatedAt)})
	}
	return out, nil
}

// ListAtsUsers implements the RPC.
func (s *Server) ListAtsUsers(ctx context.Context, req *atsbridgev1.ListAtsUsersRequest) (*atsbridgev1.ListAtsUsersResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.conns.Users(ctx, orgID, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &atsbridgev1.ListAtsUsersResponse{NextPageToken: p.Next, Users: make([]*atsbridgev1.AtsUser, 0, len(p.Users))}
	for _, u := range p.Users {
		out.Users = append(out.Users, &atsbridgev1.AtsUser{RemoteId: u.RemoteID, Name: u.Name, Email: u.Email, AccessRole: u.AccessRole, Deactivated: u.Deactivated})
	}
	return out, nil
}
