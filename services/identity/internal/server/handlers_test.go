package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/platform/postgres"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/login"
	"github.com/tandemhq/tandem/services/identity/internal/members"
	"github.com/tandemhq/tandem/services/identity/internal/server"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// The handlers only translate; these tests give them fakes of the domain
// and look at the translation alone. grpc_test.go runs them wired for real.

type fakeOrgs struct{ got store.OrganizationUpdate }

func (f *fakeOrgs) Get(_ context.Context, orgID string) (store.Organization, error) {
	return store.Organization{ID: orgID, DisplayName: "Contoso", DefaultRole: authz.RoleRecruiter}, nil
}

func (f *fakeOrgs) Update(_ context.Context, orgID string, u store.OrganizationUpdate) (store.Organization, error) {
	f.got = u
	return store.Organization{ID: orgID, DisplayName: *u.DisplayName, DefaultRole: *u.DefaultRole}, nil
}

type fakeMembers struct {
	server.Members
	changed authz.Role
}

func (f *fakeMembers) Get(context.Context, string, string) (store.User, error) {
	return store.User{}, postgres.ErrNotFound
}

func (f *fakeMembers) ChangeRole(_ context.Context, _ authz.Principal, userID string, role authz.Role) (store.User, error) {
	f.changed = role
	return store.User{ID: userID, Role: role}, nil
}

func (f *fakeMembers) List(context.Context, string, int, string) (members.Page, error) {
	return members.Page{Users: []store.User{{ID: "u1"}, {ID: "u2"}}, NextPageToken: "next"}, nil
}

type fakeLogins struct{ res login.Result }

func (f fakeLogins) Redeem(context.Context, string, string) (login.Result, error) { return f.res, nil }

func as(p authz.Principal) context.Context {
	return authz.WithPrincipal(context.Background(), p)
}

var admin = authz.Principal{Kind: authz.KindUser, OrgID: "org", UserID: "u0", Role: authz.RoleAdmin, SessionID: "s"}

func TestHandlersTranslate(t *testing.T) {
	orgs, mem := &fakeOrgs{}, &fakeMembers{}
	s := server.New(server.Domain{Organizations: orgs, Members: mem,
		Logins: fakeLogins{login.Result{Outcome: "signed_in", User: &store.User{ID: "u1"}, Session: &sessions.Issued{AccessToken: "at", AccessExpiresAt: time.Unix(60, 0)}}}})

	// Both spellings of a mask path, and the proto role, reach the domain.
	out, err := s.UpdateOrganization(as(admin), &identityv1.UpdateOrganizationRequest{
		Organization: &identityv1.Organization{DisplayName: "Talent", DefaultRole: identityv1.Role_ROLE_MEMBER},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"displayName", "default_role"}}})
	if err != nil || *orgs.got.DisplayName != "Talent" || *orgs.got.DefaultRole != authz.RoleMember || out.GetOrganization().GetDefaultRole() != identityv1.Role_ROLE_MEMBER {
		t.Fatalf("UpdateOrganization: %v, %v; the domain got %+v", out, err, orgs.got)
	}
	u, err := s.UpdateUser(as(admin), &identityv1.UpdateUserRequest{User: &identityv1.User{Id: "u1", Role: identityv1.Role_ROLE_HIRING_MANAGER},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"role"}}})
	if err != nil || mem.changed != authz.RoleHiringManager || u.GetUser().GetRole() != identityv1.Role_ROLE_HIRING_MANAGER {
		t.Fatalf("UpdateUser: %v, %v", u, err)
	}
	list, err := s.ListUsers(as(admin), &identityv1.ListUsersRequest{})
	if err != nil || len(list.GetUsers()) != 2 || list.GetNextPageToken() != "next" {
		t.Fatalf("ListUsers: %v, %v", list, err)
	}
	// A store's not-found names what was not found.
	_, err = s.GetUser(as(admin), &identityv1.GetUserRequest{UserId: "u9"})
	if st, _ := grpcserver.ToStatus(err); st.Code() != codes.NotFound || st.Message() != "user not found" {
		t.Fatalf("GetUser of nobody: %v", st)
	}
	// An API token is no one: GetMe has the organization only.
	me, err := s.GetMe(as(authz.Principal{Kind: authz.KindAPIToken, OrgID: "org", TokenID: "t", Role: authz.RoleMember}), &identityv1.GetMeRequest{})
	if err != nil || me.GetOrganization().GetId() != "org" || me.GetUser() != nil {
		t.Fatalf("GetMe as a token: %v, %v", me, err)
	}
	res, err := s.ExchangeLoginCode(context.Background(), &identityv1.ExchangeLoginCodeRequest{Code: "c"})
	if err != nil || res.GetUser().GetId() != "u1" || res.GetSession().GetAccessToken() != "at" || res.GetOrganization() != nil || res.GetConnection() != nil {
		t.Fatalf("ExchangeLoginCode: %v, %v", res, err)
	}
	// Without a caller the handlers refuse before calling the domain.
	_, err = s.UpdateUser(context.Background(), &identityv1.UpdateUserRequest{})
	if st, _ := grpcserver.ToStatus(err); st.Code() != codes.Unauthenticated || mem.changed != authz.RoleHiringManager {
		t.Fatalf("UpdateUser without a caller: %v", st)
	}
}
