package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/authz"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// GetMailboxConnection implements the RPC.
func (s *Server) GetMailboxConnection(ctx context.Context, _ *identityv1.GetMailboxConnectionRequest) (*identityv1.GetMailboxConnectionResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Connections.Mailbox(ctx, p)
	if err != nil {
		return nil, err
	}
	return &identityv1.GetMailboxConnectionResponse{Connection: connProto(c)}, nil
}

// ConnectMailbox implements the RPC.
func (s *Server) ConnectMailbox(ctx context.Context, _ *identityv1.ConnectMailboxRequest) (*identityv1.ConnectMailboxResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	url, err := s.d.Connections.ConnectMailbox(ctx, p)
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.ConnectMailboxResponse{AuthorizeUrl: url}, nil
}

// DisconnectMailbox implements the RPC.
func (s *Server) DisconnectMailbox(ctx context.Context, _ *identityv1.DisconnectMailboxRequest) (*identityv1.DisconnectMailboxResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Connections.DisconnectMailbox(ctx, p)
	if err != nil {
		return nil, err
	}
	return &identityv1.DisconnectMailboxResponse{Connection: connProto(c)}, nil
}

// GetConnection implements the RPC.
func (s *Server) GetConnection(ctx context.Context, req *identityv1.GetConnectionRequest) (*identityv1.GetConnectionResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Connections.Get(ctx, orgID, req.GetConnectionId())
	if err != nil {
		return nil, mapErr(err, "connection")
	}
	return &identityv1.GetConnectionResponse{Connection: connProto(c)}, nil
}

// ConnectLever implements the RPC.
func (s *Server) ConnectLever(ctx context.Context, _ *identityv1.ConnectLeverRequest) (*identityv1.ConnectLeverResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	url, err := s.d.Connections.ConnectLever(ctx, p)
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.ConnectLeverResponse{AuthorizeUrl: url}, nil
}

// DisconnectLever implements the RPC.
func (s *Server) DisconnectLever(ctx context.Context, _ *identityv1.DisconnectLeverRequest) (*identityv1.DisconnectLeverResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.d.Connections.DisconnectLever(ctx, p)
	if err != nil {
		return nil, err
	}
	return &identityv1.DisconnectLeverResponse{Connection: connProto(c)}, nil
}

// GetAccessToken implements the internal RPC.
func (s *Server) GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	get := s.d.Connections.AccessToken
	if req.GetRefresh() {
		get = s.d.Connections.RefreshedAccessToken
	}
	tok, exp, err := get(ctx, req.GetConnectionId())
	if err != nil {
		return nil, mapErr(err, "connection")
	}
	return &identityv1.GetAccessTokenResponse{AccessToken: tok, ExpireTime: timestamppb.New(exp)}, nil
}
