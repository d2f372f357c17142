package server

import (
	"context"
	"errors"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/inbound"
)

// WebhookReceiver takes the ATS's webhook deliveries.
type WebhookReceiver interface {
	Receive(ctx context.Context, connectionID string, raw []byte) (string, error)
}

// Resyncer queues a reconcile of an organization's connection.
type Resyncer interface {
	Resync(ctx context.Context, orgID string, full bool) (string, error)
}

// WithInbound adds the inbound sync's handlers.
func (s *Server) WithInbound(r WebhookReceiver, resync Resyncer) *Server {
	s.webhooks, s.resync = r, resync
	return s
}

// ResyncAtsConnection implements the RPC.
func (s *Server) ResyncAtsConnection(ctx context.Context, req *atsbridgev1.ResyncAtsConnectionRequest) (*atsbridgev1.ResyncAtsConnectionResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	if s.resync == nil {
		return nil, apperr.FailedPrecondition("resync_disabled", "this atsbridge does not reconcile")
	}
	id, err := s.resync.Resync(ctx, orgID, req.GetFull())
	if errors.Is(err, inbound.ErrNotConnected) {
		return nil, apperr.FailedPrecondition("not_connected", "the ATS is not connected")
	}
	if err != nil {
		return nil, err
	}
	return &atsbridgev1.ResyncAtsConnectionResponse{ConnectionId: id}, nil
}

// ReceiveLeverWebhook implements the RPC.
func (s *Server) ReceiveLeverWebhook(ctx context.Context, req *atsbridgev1.ReceiveLeverWebhookRequest) (*atsbridgev1.ReceiveLeverWebhookResponse, error) {
	if s.webhooks == nil {
		return nil, apperr.FailedPrecondition("webhooks_disabled", "this atsbridge does not take webhooks")
	}
	outcome, err := s.webhooks.Receive(ctx, req.GetConnectionId(), req.GetBody())
	switch {
	case errors.Is(err, inbound.ErrUnknownConnection):
		return nil, apperr.NotFound("ATS connection")
	case errors.Is(err, inbound.ErrUnsigned), errors.Is(err, inbound.ErrBadSignature):
		return nil, apperr.Unauthenticated("the delivery's signature does not hold")
	case errors.Is(err, inbound.ErrMalformed):
		return nil, apperr.InvalidArgument("body", "is not a Lever webhook delivery")
	case err != nil:
		return nil, err
	}
	return &atsbridgev1.ReceiveLeverWebhookResponse{Outcome: outcome}, nil
}
