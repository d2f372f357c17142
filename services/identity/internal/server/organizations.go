package server

import (
	"context"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// GetOrganization implements the RPC.
func (s *Server) GetOrganization(ctx context.Context, _ *identityv1.GetOrganizationRequest) (*identityv1.GetOrganizationResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	org, err := s.d.Organizations.Get(ctx, orgID)
	if err != nil {
		return nil, mapErr(err, "organization")
	}
	return &identityv1.GetOrganizationResponse{Organization: orgProto(org)}, nil
}

// UpdateOrganization implements the RPC.
func (s *Server) UpdateOrganization(ctx context.Context, req *identityv1.UpdateOrganizationRequest) (*identityv1.UpdateOrganizationResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	u, err := organizationUpdate(req)
	if err != nil {
		return nil, err
	}
	org, err := s.d.Organizations.Update(ctx, orgID, u)
	if err != nil {
		return nil, mapErr(err, "organization")
	}
	return &identityv1.UpdateOrganizationResponse{Organization: orgProto(org)}, nil
}

// organizationUpdate reads the fields the update mask names.
func organizationUpdate(req *identityv1.UpdateOrganizationRequest) (store.OrganizationUpdate, error) {
	var u store.OrganizationUpdate
	for _, path := range req.GetUpdateMask().GetPaths() {
		switch path {
		case "display_name", "displayName":
			name := req.GetOrganization().GetDisplayName()
			u.DisplayName = &name
		case "default_role", "defaultRole":
			role, err := roleFromProto("organization.default_role", req.GetOrganization().GetDefaultRole())
			if err != nil {
				return u, err
			}
			u.DefaultRole = &role
		default:
			return u, apperr.InvalidArgument("update_mask", "unknown field "+path+"; updatable: display_name, default_role")
		}
	}
	return u, nil
}
