package server

import (
	"context"
	"errors"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// CreateApiToken implements the RPC.
func (s *Server) CreateApiToken(ctx context.Context, req *identityv1.CreateApiTokenRequest) (*identityv1.CreateApiTokenResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	role, err := roleFromProto("role", req.GetRole())
	if err != nil {
		return nil, err
	}
	t, token, err := s.d.APITokens.Create(ctx, p, req.GetDisplayName(), role)
	if err != nil {
		return nil, err
	}
	return &identityv1.CreateApiTokenResponse{ApiToken: apiTokenProto(t), Token: token}, nil
}

// ListApiTokens implements the RPC.
func (s *Server) ListApiTokens(ctx context.Context, _ *identityv1.ListApiTokensRequest) (*identityv1.ListApiTokensResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := s.d.APITokens.List(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := &identityv1.ListApiTokensResponse{}
	for _, t := range tokens {
		out.ApiTokens = append(out.ApiTokens, apiTokenProto(t))
	}
	return out, nil
}

// RevokeApiToken implements the RPC.
func (s *Server) RevokeApiToken(ctx context.Context, req *identityv1.RevokeApiTokenRequest) (*identityv1.RevokeApiTokenResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.d.APITokens.Revoke(ctx, orgID, req.GetApiTokenId())
	if err != nil {
		return nil, mapErr(err, "API token")
	}
	return &identityv1.RevokeApiTokenResponse{ApiToken: apiTokenProto(t)}, nil
}

// AuthenticateApiToken implements the internal RPC.
func (s *Server) AuthenticateApiToken(ctx context.Context, req *identityv1.AuthenticateApiTokenRequest) (*identityv1.AuthenticateApiTokenResponse, error) {
	t, err := s.d.APITokens.Authenticate(ctx, req.GetToken())
	if errors.Is(err, authz.ErrAPITokenInvalid) {
		return nil, apperr.Unauthenticated("invalid or revoked API token")
	}
	if err != nil {
		return nil, err
	}
	return &identityv1.AuthenticateApiTokenResponse{OrganizationId: t.OrgID, ApiTokenId: t.ID, Role: roleToProto[t.Role], CreatedByUserId: t.CreatedBy}, nil
}
