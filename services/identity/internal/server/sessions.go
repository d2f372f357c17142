package server

import (
	"context"

	"github.com/tandemhq/tandem/platform/authz"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// ExchangeLoginCode implements the RPC.
func (s *Server) ExchangeLoginCode(ctx context.Context, req *identityv1.ExchangeLoginCodeRequest) (*identityv1.ExchangeLoginCodeResponse, error) {
	res, err := s.d.Logins.Redeem(ctx, req.GetCode(), req.GetCodeVerifier())
	if err != nil {
		return nil, err
	}
	out := &identityv1.ExchangeLoginCodeResponse{Outcome: res.Outcome, Message: res.Message, AdminConsentUrl: res.AdminConsentURL}
	if res.User != nil {
		out.User = userProto(*res.User)
	}
	if res.Organization != nil {
		out.Organization = orgProto(*res.Organization)
	}
	if res.Session != nil {
		out.Session = sessionProto(*res.Session)
	}
	if res.Connection != nil {
		out.Connection = connProto(*res.Connection)
	}
	return out, nil
}

// RefreshSession implements the RPC.
func (s *Server) RefreshSession(ctx context.Context, req *identityv1.RefreshSessionRequest) (*identityv1.RefreshSessionResponse, error) {
	issued, err := s.d.Sessions.Refresh(ctx, req.GetRefreshToken())
	if err != nil {
		return nil, err
	}
	return &identityv1.RefreshSessionResponse{Session: sessionProto(issued)}, nil
}

// SignOut implements the RPC.
func (s *Server) SignOut(ctx context.Context, _ *identityv1.SignOutRequest) (*identityv1.SignOutResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.d.Sessions.SignOut(ctx, p); err != nil {
		return nil, mapErr(err, "session")
	}
	return &identityv1.SignOutResponse{}, nil
}

// GetMe implements the RPC: the caller's organization, and the caller when
// they are a person (an API token is no one).
func (s *Server) GetMe(ctx context.Context, _ *identityv1.GetMeRequest) (*identityv1.GetMeResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	org, err := s.d.Organizations.Get(ctx, p.OrgID)
	if err != nil {
		return nil, mapErr(err, "organization")
	}
	out := &identityv1.GetMeResponse{Organization: orgProto(org)}
	if p.UserID != "" {
		u, err := s.d.Members.Get(ctx, p.OrgID, p.UserID)
		if err != nil {
			return nil, mapErr(err, "user")
		}
		out.User = userProto(u)
	}
	return out, nil
}

// CheckSession implements the internal RPC.
func (s *Server) CheckSession(ctx context.Context, req *identityv1.CheckSessionRequest) (*identityv1.CheckSessionResponse, error) {
	revoked, err := s.d.Revocations.SessionRevoked(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	return &identityv1.CheckSessionResponse{Revoked: revoked}, nil
}

// ListSigningKeys implements the internal RPC.
func (s *Server) ListSigningKeys(_ context.Context, _ *identityv1.ListSigningKeysRequest) (*identityv1.ListSigningKeysResponse, error) {
	out := &identityv1.ListSigningKeysResponse{}
	for id, k := range s.d.Sessions.PublicKeys() {
		out.Keys = append(out.Keys, &identityv1.SigningKey{KeyId: id, PublicKey: k})
	}
	return out, nil
}
