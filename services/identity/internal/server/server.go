// Package server is the gRPC handler of the identity service. Each handler
// translates: it reads the request and the caller, calls one domain package
// (members, organizations, apitokens, connections, login, sessions,
// signin), and turns the answer and its errors into protos. Rules live in
// those packages, records in the store; this package has neither.
package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/login"
	"github.com/tandemhq/tandem/services/identity/internal/members"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// The domain, as the handlers use it.
type (
	// Logins redeems one-time login codes.
	Logins interface {
		Redeem(ctx context.Context, code, verifier string) (login.Result, error)
	}
	// Sessions refreshes and ends sessions and knows their signing keys.
	Sessions interface {
		Refresh(ctx context.Context, refreshToken string) (sessions.Issued, error)
		SignOut(ctx context.Context, p authz.Principal) error
		PublicKeys() map[string]ed25519.PublicKey
	}
	// Organizations reads and changes an organization's settings.
	Organizations interface {
		Get(ctx context.Context, orgID string) (store.Organization, error)
		Update(ctx context.Context, orgID string, u store.OrganizationUpdate) (store.Organization, error)
	}
	// Members reads and manages an organization's people.
	Members interface {
		Get(ctx context.Context, orgID, userID string) (store.User, error)
		List(ctx context.Context, orgID string, size int, token string) (members.Page, error)
		ChangeRole(ctx context.Context, caller authz.Principal, userID string, role authz.Role) (store.User, error)
		Remove(ctx context.Context, caller authz.Principal, userID string) error
	}
	// APITokens creates, lists, revokes and authenticates API tokens.
	APITokens interface {
		Create(ctx context.Context, caller authz.Principal, name string, role authz.Role) (store.APIToken, string, error)
		List(ctx context.Context, orgID string) ([]store.APIToken, error)
		Revoke(ctx context.Context, orgID, id string) (store.APIToken, error)
		Authenticate(ctx context.Context, token string) (store.APIToken, error)
	}
	// Connections runs people's and organizations' provider connections.
	Connections interface {
		Mailbox(ctx context.Context, caller authz.Principal) (store.Connection, error)
		ConnectMailbox(ctx context.Context, caller authz.Principal) (string, error)
		DisconnectMailbox(ctx context.Context, caller authz.Principal) (store.Connection, error)
		Get(ctx context.Context, orgID, id string) (store.Connection, error)
		ConnectLever(ctx context.Context, caller authz.Principal) (string, error)
		DisconnectLever(ctx context.Context, caller authz.Principal) (store.Connection, error)
		AccessToken(ctx context.Context, connectionID string) (string, time.Time, error)
		RefreshedAccessToken(ctx context.Context, connectionID string) (string, time.Time, error)
	}
	// Revocations is the durable record of ended sessions.
	Revocations interface {
		SessionRevoked(ctx context.Context, sessionID string) (bool, error)
	}
	// Flows begins and completes OAuth flows for the gateway.
	Flows interface {
		Begin(ctx context.Context, r signin.BeginRequest) (string, error)
		Complete(ctx context.Context, r signin.CompleteRequest) (string, error)
	}
)

// Domain is every domain package the handlers call.
type Domain struct {
	Logins        Logins
	Sessions      Sessions
	Organizations Organizations
	Members       Members
	APITokens     APITokens
	Connections   Connections
	Revocations   Revocations
	Flows         Flows
}

// Server implements identityv1.IdentityServiceServer.
type Server struct {
	identityv1.UnimplementedIdentityServiceServer
	d Domain
}

// New returns the handler over the domain.
func New(d Domain) *Server { return &Server{d: d} }

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
	svc + "DisconnectLever":       authz.Roles(authz.RoleSuperAdmin),
	svc + "BeginAuthorization":    authz.Internal(),
	svc + "CompleteAuthorization": authz.Internal(),
	svc + "AuthenticateApiToken":  authz.Internal(),
	svc + "ListSigningKeys":       authz.Internal(),
	svc + "GetAccessToken":        authz.Internal(),
	svc + "CheckSession":          authz.Internal(),
	svc + "GetUserForService":     authz.Internal(),
}

// mapErr names what was not found; apperr errors and anything else pass
// (the server's error mapping masks what is not an apperr).
func mapErr(err error, what string) error {
	if errors.Is(err, postgres.ErrNotFound) {
		return apperr.NotFound(what)
	}
	return err
}
