package server

import (
	"context"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// ListUsers implements the RPC.
func (s *Server) ListUsers(ctx context.Context, req *identityv1.ListUsersRequest) (*identityv1.ListUsersResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	page, err := s.d.Members.List(ctx, orgID, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &identityv1.ListUsersResponse{NextPageToken: page.NextPageToken}
	for _, u := range page.Users {
		out.Users = append(out.Users, userProto(u))
	}
	return out, nil
}

// GetUser implements the RPC.
func (s *Server) GetUser(ctx context.Context, req *identityv1.GetUserRequest) (*identityv1.GetUserResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.d.Members.Get(ctx, orgID, req.GetUserId())
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.GetUserResponse{User: userProto(u)}, nil
}

// GetUserForService implements the internal RPC: the organization comes
// in the request, since the caller is a service.
func (s *Server) GetUserForService(ctx context.Context, req *identityv1.GetUserForServiceRequest) (*identityv1.GetUserForServiceResponse, error) {
	u, err := s.d.Members.Get(ctx, req.GetOrganizationId(), req.GetUserId())
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.GetUserForServiceResponse{User: userProto(u)}, nil
}

// UpdateUser implements the RPC: only the role can change.
func (s *Server) UpdateUser(ctx context.Context, req *identityv1.UpdateUserRequest) (*identityv1.UpdateUserResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if paths := req.GetUpdateMask().GetPaths(); len(paths) != 1 || paths[0] != "role" {
		return nil, apperr.InvalidArgument("update_mask", `must be exactly "role"`)
	}
	role, err := roleFromProto("user.role", req.GetUser().GetRole())
	if err != nil {
		return nil, err
	}
	u, err := s.d.Members.ChangeRole(ctx, p, req.GetUser().GetId(), role)
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.UpdateUserResponse{User: userProto(u)}, nil
}

// RemoveUser implements the RPC.
func (s *Server) RemoveUser(ctx context.Context, req *identityv1.RemoveUserRequest) (*identityv1.RemoveUserResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.d.Members.Remove(ctx, p, req.GetUserId()); err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.RemoveUserResponse{}, nil
}
