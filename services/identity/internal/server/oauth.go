package server

import (
	"context"

	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
)

// BeginAuthorization implements the internal RPC.
func (s *Server) BeginAuthorization(ctx context.Context, req *identityv1.BeginAuthorizationRequest) (*identityv1.BeginAuthorizationResponse, error) {
	url, err := s.d.Flows.Begin(ctx, signin.BeginRequest{Flow: req.GetFlow(), Ticket: req.GetTicket(), BindingHash: req.GetBrowserBindingHash(), LoginHint: req.GetLoginHint(), CodeChallenge: req.GetLoginCodeChallenge()})
	if err != nil {
		return nil, err
	}
	return &identityv1.BeginAuthorizationResponse{RedirectUrl: url}, nil
}

// CompleteAuthorization implements the internal RPC.
func (s *Server) CompleteAuthorization(ctx context.Context, req *identityv1.CompleteAuthorizationRequest) (*identityv1.CompleteAuthorizationResponse, error) {
	url, err := s.d.Flows.Complete(ctx, signin.CompleteRequest{Callback: req.GetCallback(), State: req.GetState(), Code: req.GetCode(),
		Error: req.GetError(), ErrorDescription: req.GetErrorDescription(), BindingHash: req.GetBrowserBindingHash(), Tenant: req.GetTenant()})
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.CompleteAuthorizationResponse{RedirectUrl: url}, nil
}
