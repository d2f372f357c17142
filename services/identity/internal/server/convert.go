package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// The translations between the domain's records and the protos.

var roleToProto = map[authz.Role]identityv1.Role{
	authz.RoleSuperAdmin:    identityv1.Role_ROLE_SUPER_ADMIN,
	authz.RoleAdmin:         identityv1.Role_ROLE_ADMIN,
	authz.RoleRecruiter:     identityv1.Role_ROLE_RECRUITER,
	authz.RoleHiringManager: identityv1.Role_ROLE_HIRING_MANAGER,
	authz.RoleMember:        identityv1.Role_ROLE_MEMBER,
}

func roleFromProto(field string, r identityv1.Role) (authz.Role, error) {
	for k, v := range roleToProto {
		if v == r {
			return k, nil
		}
	}
	return "", apperr.InvalidArgument(field, "must be one of ROLE_SUPER_ADMIN, ROLE_ADMIN, ROLE_RECRUITER, ROLE_HIRING_MANAGER, ROLE_MEMBER")
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	return timestamppb.New(*t)
}

func orgProto(o store.Organization) *identityv1.Organization {
	return &identityv1.Organization{Id: o.ID, DisplayName: o.DisplayName, MicrosoftTenantId: o.MicrosoftTenantID,
		DefaultRole: roleToProto[o.DefaultRole], CreateTime: timestamppb.New(o.CreatedAt), AdminConsentTime: ts(o.AdminConsentAt)}
}

func userProto(u store.User) *identityv1.User {
	return &identityv1.User{Id: u.ID, OrganizationId: u.OrgID, Email: u.Email, DisplayName: u.DisplayName,
		Role: roleToProto[u.Role], CreateTime: timestamppb.New(u.CreatedAt)}
}

var statusToProto = map[string]identityv1.ConnectionStatus{
	store.StatusConnected:             identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED,
	store.StatusAwaitingAdminApproval: identityv1.ConnectionStatus_CONNECTION_STATUS_AWAITING_ADMIN_APPROVAL,
	store.StatusReconnectRequired:     identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED,
	store.StatusDisconnected:          identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED,
}

func connProto(c store.Connection) *identityv1.Connection {
	return &identityv1.Connection{Id: c.ID, OrganizationId: c.OrgID, UserId: c.UserID, Provider: c.Provider,
		Status: statusToProto[c.Status], Reason: c.Reason, Account: c.Account, Scopes: c.Scopes,
		AdminConsentUrl: c.AdminConsentURL, UpdateTime: timestamppb.New(c.UpdatedAt)}
}

func apiTokenProto(t store.APIToken) *identityv1.ApiToken {
	return &identityv1.ApiToken{Id: t.ID, OrganizationId: t.OrgID, DisplayName: t.DisplayName, Role: roleToProto[t.Role],
		CreatedByUserId: t.CreatedBy, CreateTime: timestamppb.New(t.CreatedAt), RevokeTime: ts(t.RevokedAt)}
}

func sessionProto(i sessions.Issued) *identityv1.Session {
	return &identityv1.Session{AccessToken: i.AccessToken, AccessTokenExpireTime: timestamppb.New(i.AccessExpiresAt),
		RefreshToken: i.RefreshToken, RefreshTokenExpireTime: timestamppb.New(i.RefreshExpiresAt)}
}
