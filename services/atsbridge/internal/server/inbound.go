package server

import (
	"context"
	"errors"

	"github.com/tandemhq/tandem/platform/apperr"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/inbound"
)

// WebhookReceiver takes the ATS's webhook deliveries.
type WebhookReceiver interface {
	Receive(ctx context.Context, connectionID string, raw []byte) (string, error)
}

// WithInbound adds the inbound sync's handlers.
func (s *Server) WithInbound(r WebhookReceiver) *Server {
	s.webhooks = r
	return s
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
