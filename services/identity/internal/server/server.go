// Package server is the gRPC handler of the identity service: it checks and
// translates requests, calls the domain packages, and maps their errors.
package server

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// TokenVault hands out connections' access tokens.
type TokenVault interface {
	AccessToken(ctx context.Context, orgID, connectionID string) (string, time.Time, error)
	Delete(ctx context.Context, connectionID string) error
}

// Server implements identityv1.IdentityServiceServer.
type Server struct {
	identityv1.UnimplementedIdentityServiceServer
	store    *store.Store
	sessions *sessions.Sessions
	flows    *signin.Flows
	vault    TokenVault
	log      *slog.Logger
	now      func() time.Time
}

// New returns the handler.
func New(st *store.Store, ss *sessions.Sessions, flows *signin.Flows, vault TokenVault, log *slog.Logger) *Server {
	return &Server{store: st, sessions: ss, flows: flows, vault: vault, log: log, now: time.Now}
}

const svc = "/tandem.identity.v1.IdentityService/"

// Policy names who may call each RPC; anything else is denied.
var Policy = authz.Policy{
	svc + "ExchangeLoginCode":     authz.Public(),
	svc + "RefreshSession":        authz.Public(),
	svc + "SignOut":               authz.AnyMember(),
	svc + "GetMe":                 authz.AnyMember(),
	svc + "GetOrganization":       authz.AnyMember(),
	svc + "UpdateOrganization":    authz.AtLeast(authz.RoleAdmin),
	svc + "ListUsers":             authz.AnyMember(),
	svc + "GetUser":               authz.AnyMember(),
	svc + "UpdateUser":            authz.AtLeast(authz.RoleAdmin),
	svc + "RemoveUser":            authz.AtLeast(authz.RoleAdmin),
	svc + "CreateApiToken":        authz.AtLeast(authz.RoleAdmin),
	svc + "ListApiTokens":         authz.AtLeast(authz.RoleAdmin),
	svc + "RevokeApiToken":        authz.AtLeast(authz.RoleAdmin),
	svc + "GetMailboxConnection":  authz.AnyMember(),
	svc + "ConnectMailbox":        authz.AnyMember(),
	svc + "DisconnectMailbox":     authz.AnyMember(),
	svc + "GetConnection":         authz.AtLeast(authz.RoleAdmin),
	svc + "ConnectLever":          authz.Roles(authz.RoleSuperAdmin),
	svc + "BeginAuthorization":    authz.Internal(),
	svc + "CompleteAuthorization": authz.Internal(),
	svc + "AuthenticateApiToken":  authz.Internal(),
	svc + "ListSigningKeys":       authz.Internal(),
	svc + "GetAccessToken":        authz.Internal(),
}

// mapErr turns store sentinels into client errors; apperr errors pass.
func mapErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, postgres.ErrNotFound):
		return apperr.NotFound(what)
	case errors.Is(err, store.ErrLastSuperAdmin):
		return apperr.FailedPrecondition("last_super_admin", "the organization must keep at least one Super Admin")
	}
	return err
}

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

// ExchangeLoginCode implements the RPC.
func (s *Server) ExchangeLoginCode(ctx context.Context, req *identityv1.ExchangeLoginCodeRequest) (*identityv1.ExchangeLoginCodeResponse, error) {
	res, err := s.flows.TakeLoginCode(ctx, req.GetCode(), req.GetCodeVerifier())
	if err != nil {
		return nil, err
	}
	out := &identityv1.ExchangeLoginCodeResponse{Outcome: res.Outcome, Message: res.Message, AdminConsentUrl: res.AdminConsentURL}
	if res.UserID != "" {
		user, err := s.store.User(ctx, res.OrgID, res.UserID)
		if err != nil {
			return nil, mapErr(err, "user")
		}
		org, err := s.store.Organization(ctx, res.OrgID)
		if err != nil {
			return nil, mapErr(err, "organization")
		}
		out.User, out.Organization = userProto(user), orgProto(org)
		if res.Outcome == signin.OutcomeSignedIn || res.Outcome == signin.OutcomeAdminConsentGranted {
			issued, err := s.sessions.Issue(ctx, user)
			if err != nil {
				return nil, err
			}
			out.Session = sessionProto(issued)
		}
	}
	if res.ConnectionID != "" {
		c, err := s.store.Connection(ctx, res.OrgID, res.ConnectionID)
		if err != nil {
			return nil, mapErr(err, "connection")
		}
		out.Connection = connProto(c)
	}
	return out, nil
}

// RefreshSession implements the RPC.
func (s *Server) RefreshSession(ctx context.Context, req *identityv1.RefreshSessionRequest) (*identityv1.RefreshSessionResponse, error) {
	issued, err := s.sessions.Refresh(ctx, req.GetRefreshToken())
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
	if err := s.sessions.SignOut(ctx, p); err != nil {
		return nil, mapErr(err, "session")
	}
	return &identityv1.SignOutResponse{}, nil
}

// GetMe implements the RPC.
func (s *Server) GetMe(ctx context.Context, _ *identityv1.GetMeRequest) (*identityv1.GetMeResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	org, err := s.store.Organization(ctx, p.OrgID)
	if err != nil {
		return nil, mapErr(err, "organization")
	}
	out := &identityv1.GetMeResponse{Organization: orgProto(org)}
	if p.UserID != "" {
		u, err := s.store.User(ctx, p.OrgID, p.UserID)
		if err != nil {
			return nil, mapErr(err, "user")
		}
		out.User = userProto(u)
	}
	return out, nil
}

// GetOrganization implements the RPC.
func (s *Server) GetOrganization(ctx context.Context, _ *identityv1.GetOrganizationRequest) (*identityv1.GetOrganizationResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	org, err := s.store.Organization(ctx, orgID)
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
	var u store.OrganizationUpdate
	for _, path := range req.GetUpdateMask().GetPaths() {
		switch path {
		case "display_name", "displayName":
			name := strings.TrimSpace(req.GetOrganization().GetDisplayName())
			if name == "" || len(name) > 200 {
				return nil, apperr.InvalidArgument("organization.display_name", "must be 1 to 200 characters")
			}
			u.DisplayName = &name
		case "default_role", "defaultRole":
			role, err := roleFromProto("organization.default_role", req.GetOrganization().GetDefaultRole())
			if err != nil {
				return nil, err
			}
			if role == authz.RoleSuperAdmin || role == authz.RoleAdmin {
				return nil, apperr.InvalidArgument("organization.default_role", "new users cannot join as administrators")
			}
			u.DefaultRole = &role
		default:
			return nil, apperr.InvalidArgument("update_mask", "unknown field "+path+"; updatable: display_name, default_role")
		}
	}
	if u.DisplayName == nil && u.DefaultRole == nil {
		return nil, apperr.InvalidArgument("update_mask", "names no field to update")
	}
	org, err := s.store.UpdateOrganization(ctx, orgID, u)
	if err != nil {
		return nil, mapErr(err, "organization")
	}
	return &identityv1.UpdateOrganizationResponse{Organization: orgProto(org)}, nil
}

// ListUsers implements the RPC.
func (s *Server) ListUsers(ctx context.Context, req *identityv1.ListUsersRequest) (*identityv1.ListUsersResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0 || size > 200:
		return nil, apperr.InvalidArgument("page_size", "must be between 0 and 200")
	case size == 0:
		size = 50
	}
	after := ""
	if t := req.GetPageToken(); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			return nil, apperr.InvalidArgument("page_token", "is not a page token from this API")
		}
		after = string(b)
		// The token names the last user of the previous page, which must be
		// one of the caller's organization.
		if _, err := s.store.User(ctx, orgID, after); err != nil {
			return nil, apperr.InvalidArgument("page_token", "is not a page token from this API")
		}
	}
	users, err := s.store.Users(ctx, orgID, after, size+1)
	if err != nil {
		return nil, err
	}
	out := &identityv1.ListUsersResponse{}
	if len(users) > size {
		users = users[:size]
		out.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(users[size-1].ID))
	}
	for _, u := range users {
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
	u, err := s.store.User(ctx, orgID, req.GetUserId())
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.GetUserResponse{User: userProto(u)}, nil
}

// mayManage says whether the caller may change or remove target, giving it
// role next: Super Admins manage everyone; Admins only users and roles below
// their own.
func mayManage(caller authz.Principal, target, next authz.Role) error {
	if caller.Role == authz.RoleSuperAdmin {
		return nil
	}
	if !caller.Role.Outranks(target) || (next != "" && !caller.Role.Outranks(next)) {
		return apperr.PermissionDenied("you can only manage users and roles below your own")
	}
	return nil
}

// UpdateUser implements the RPC.
func (s *Server) UpdateUser(ctx context.Context, req *identityv1.UpdateUserRequest) (*identityv1.UpdateUserResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) != 1 || paths[0] != "role" {
		return nil, apperr.InvalidArgument("update_mask", `must be exactly "role"`)
	}
	role, err := roleFromProto("user.role", req.GetUser().GetRole())
	if err != nil {
		return nil, err
	}
	target, err := s.store.User(ctx, p.OrgID, req.GetUser().GetId())
	if err != nil {
		return nil, mapErr(err, "user")
	}
	if err := mayManage(p, target.Role, role); err != nil {
		return nil, err
	}
	u, err := s.store.SetUserRole(ctx, p.OrgID, target.ID, role)
	if err != nil {
		return nil, mapErr(err, "user")
	}
	if role != target.Role {
		// Their tokens carry the old role: they sign in again for the new one.
		ended, err := s.store.RevokeUserSessions(ctx, p.OrgID, target.ID, s.now())
		if err != nil {
			return nil, err
		}
		if err := s.sessions.RevokeSessions(ctx, ended); err != nil {
			return nil, err
		}
	}
	return &identityv1.UpdateUserResponse{User: userProto(u)}, nil
}

// RemoveUser implements the RPC.
func (s *Server) RemoveUser(ctx context.Context, req *identityv1.RemoveUserRequest) (*identityv1.RemoveUserResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	target, err := s.store.User(ctx, p.OrgID, req.GetUserId())
	if err != nil {
		return nil, mapErr(err, "user")
	}
	if err := mayManage(p, target.Role, ""); err != nil {
		return nil, err
	}
	ended, err := s.store.RemoveUser(ctx, p.OrgID, target.ID, s.now())
	if err != nil {
		return nil, mapErr(err, "user")
	}
	if err := s.sessions.RevokeSessions(ctx, ended); err != nil {
		return nil, err
	}
	return &identityv1.RemoveUserResponse{}, nil
}

// CreateApiToken implements the RPC.
func (s *Server) CreateApiToken(ctx context.Context, req *identityv1.CreateApiTokenRequest) (*identityv1.CreateApiTokenResponse, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.GetDisplayName())
	if name == "" || len(name) > 100 {
		return nil, apperr.InvalidArgument("display_name", "must be 1 to 100 characters")
	}
	role, err := roleFromProto("role", req.GetRole())
	if err != nil {
		return nil, err
	}
	if !p.Role.AtLeast(role) {
		return nil, apperr.PermissionDenied("an API token cannot have a role above your own")
	}
	token, hash := authz.NewAPIToken()
	t, err := s.store.CreateAPIToken(ctx, store.APIToken{OrgID: p.OrgID, DisplayName: name, Role: role, CreatedBy: p.UserID}, hash)
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
	ts, err := s.store.APITokens(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := &identityv1.ListApiTokensResponse{}
	for _, t := range ts {
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
	t, err := s.store.RevokeAPIToken(ctx, orgID, req.GetApiTokenId(), s.now())
	if err != nil {
		return nil, mapErr(err, "API token")
	}
	return &identityv1.RevokeApiTokenResponse{ApiToken: apiTokenProto(t)}, nil
}

func (s *Server) ownMailbox(ctx context.Context) (authz.Principal, store.Connection, error) {
	p, err := authz.Caller(ctx)
	if err != nil {
		return p, store.Connection{}, err
	}
	if p.UserID == "" {
		return p, store.Connection{}, apperr.FailedPrecondition("not_a_person", "only a person has a mailbox")
	}
	c, err := s.store.PersonalConnection(ctx, p.OrgID, p.UserID, store.ProviderMicrosoftMailbox)
	if errors.Is(err, postgres.ErrNotFound) {
		return p, store.Connection{OrgID: p.OrgID, UserID: p.UserID, Provider: store.ProviderMicrosoftMailbox,
			Status: store.StatusDisconnected, Reason: "not connected yet", UpdatedAt: s.now()}, nil
	}
	return p, c, err
}

// GetMailboxConnection implements the RPC.
func (s *Server) GetMailboxConnection(ctx context.Context, _ *identityv1.GetMailboxConnectionRequest) (*identityv1.GetMailboxConnectionResponse, error) {
	_, c, err := s.ownMailbox(ctx)
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
	if p.UserID == "" {
		return nil, apperr.FailedPrecondition("not_a_person", "only a person has a mailbox")
	}
	u, err := s.store.User(ctx, p.OrgID, p.UserID)
	if err != nil {
		return nil, mapErr(err, "user")
	}
	url, err := s.flows.NewTicket(ctx, signin.FlowMailbox, p.OrgID, p.UserID, u.Email)
	if err != nil {
		return nil, err
	}
	return &identityv1.ConnectMailboxResponse{AuthorizeUrl: url}, nil
}

// DisconnectMailbox implements the RPC.
func (s *Server) DisconnectMailbox(ctx context.Context, _ *identityv1.DisconnectMailboxRequest) (*identityv1.DisconnectMailboxResponse, error) {
	p, c, err := s.ownMailbox(ctx)
	if err != nil {
		return nil, err
	}
	if c.ID != "" {
		if err := s.vault.Delete(ctx, c.ID); err != nil {
			return nil, err
		}
		if c, err = s.store.UpsertPersonalConnection(ctx, store.Connection{OrgID: p.OrgID, UserID: p.UserID, Provider: store.ProviderMicrosoftMailbox,
			Status: store.StatusDisconnected, Reason: "disconnected by the user"}); err != nil {
			return nil, err
		}
	}
	return &identityv1.DisconnectMailboxResponse{Connection: connProto(c)}, nil
}

// GetConnection implements the RPC.
func (s *Server) GetConnection(ctx context.Context, req *identityv1.GetConnectionRequest) (*identityv1.GetConnectionResponse, error) {
	orgID, err := authz.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.store.Connection(ctx, orgID, req.GetConnectionId())
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
	url, err := s.flows.NewTicket(ctx, signin.FlowLever, p.OrgID, p.UserID, "")
	if err != nil {
		return nil, err
	}
	return &identityv1.ConnectLeverResponse{AuthorizeUrl: url}, nil
}

// BeginAuthorization implements the internal RPC.
func (s *Server) BeginAuthorization(ctx context.Context, req *identityv1.BeginAuthorizationRequest) (*identityv1.BeginAuthorizationResponse, error) {
	url, err := s.flows.Begin(ctx, signin.BeginRequest{Flow: req.GetFlow(), Ticket: req.GetTicket(), BindingHash: req.GetBrowserBindingHash(), LoginHint: req.GetLoginHint(), CodeChallenge: req.GetLoginCodeChallenge()})
	if err != nil {
		return nil, err
	}
	return &identityv1.BeginAuthorizationResponse{RedirectUrl: url}, nil
}

// CompleteAuthorization implements the internal RPC.
func (s *Server) CompleteAuthorization(ctx context.Context, req *identityv1.CompleteAuthorizationRequest) (*identityv1.CompleteAuthorizationResponse, error) {
	if c := req.GetCallback(); c != "authorize" && c != "admin_consent" {
		return nil, apperr.InvalidArgument("callback", `must be "authorize" or "admin_consent"`)
	}
	url, err := s.flows.Complete(ctx, signin.CompleteRequest{Callback: req.GetCallback(), State: req.GetState(), Code: req.GetCode(),
		Error: req.GetError(), ErrorDescription: req.GetErrorDescription(), BindingHash: req.GetBrowserBindingHash(), Tenant: req.GetTenant()})
	if err != nil {
		return nil, mapErr(err, "user")
	}
	return &identityv1.CompleteAuthorizationResponse{RedirectUrl: url}, nil
}

// AuthenticateApiToken implements the internal RPC.
func (s *Server) AuthenticateApiToken(ctx context.Context, req *identityv1.AuthenticateApiTokenRequest) (*identityv1.AuthenticateApiTokenResponse, error) {
	t, err := s.apiToken(ctx, req.GetToken())
	if errors.Is(err, authz.ErrAPITokenInvalid) {
		return nil, apperr.Unauthenticated("invalid or revoked API token")
	}
	if err != nil {
		return nil, err
	}
	return &identityv1.AuthenticateApiTokenResponse{OrganizationId: t.OrgID, ApiTokenId: t.ID, Role: roleToProto[t.Role], CreatedByUserId: t.CreatedBy}, nil
}

// ResolveAPIToken implements authz.APITokenResolver for identity's own
// authenticator.
func (s *Server) ResolveAPIToken(ctx context.Context, token string) (authz.Principal, error) {
	t, err := s.apiToken(ctx, token)
	if err != nil {
		return authz.Principal{}, err
	}
	return authz.Principal{Kind: authz.KindAPIToken, OrgID: t.OrgID, TokenID: t.ID, Role: t.Role}, nil
}

func (s *Server) apiToken(ctx context.Context, token string) (store.APIToken, error) {
	if !authz.IsAPIToken(token) {
		return store.APIToken{}, authz.ErrAPITokenInvalid
	}
	t, err := s.store.APITokenByHash(ctx, authz.HashAPIToken(token))
	if errors.Is(err, postgres.ErrNotFound) {
		return store.APIToken{}, authz.ErrAPITokenInvalid
	}
	return t, err
}

// ListSigningKeys implements the internal RPC.
func (s *Server) ListSigningKeys(ctx context.Context, _ *identityv1.ListSigningKeysRequest) (*identityv1.ListSigningKeysResponse, error) {
	out := &identityv1.ListSigningKeysResponse{}
	for id, k := range s.sessions.PublicKeys() {
		out.Keys = append(out.Keys, &identityv1.SigningKey{KeyId: id, PublicKey: k})
	}
	return out, nil
}

// GetAccessToken implements the internal RPC.
func (s *Server) GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	if req.GetConnectionId() == "" {
		return nil, apperr.InvalidArgument("connection_id", "is required")
	}
	c, err := s.store.ConnectionByID(ctx, req.GetConnectionId())
	if err != nil {
		return nil, mapErr(err, "connection")
	}
	if c.Status != store.StatusConnected {
		return nil, apperr.FailedPrecondition(c.Status, "the connection is "+strings.ReplaceAll(c.Status, "_", " ")+": "+c.Reason)
	}
	tok, exp, err := s.vault.AccessToken(ctx, c.OrgID, c.ID)
	if err != nil {
		return nil, err
	}
	return &identityv1.GetAccessTokenResponse{AccessToken: tok, ExpireTime: timestamppb.New(exp)}, nil
}
