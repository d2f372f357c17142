package server_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/store/storetest"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/platform/pgtest"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/apitokens"
	"github.com/tandemhq/tandem/services/identity/internal/connections"
	"github.com/tandemhq/tandem/services/identity/internal/login"
	"github.com/tandemhq/tandem/services/identity/internal/members"
	"github.com/tandemhq/tandem/services/identity/internal/organizations"
	"github.com/tandemhq/tandem/services/identity/internal/server"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

const serviceToken = "test-service-token-of-at-least-32-characters"

// noTokens is a TokenVault with nothing in it.
type noTokens struct{}

func (noTokens) AccessToken(context.Context, string, string) (string, time.Time, error) {
	return "", time.Time{}, errors.New("no tokens in this test")
}
func (noTokens) RefreshedToken(context.Context, string, string) (string, time.Time, error) {
	return "", time.Time{}, errors.New("no tokens in this test")
}
func (noTokens) Delete(context.Context, string) error { return nil }

// Check takes every connection's credentials to be there: this world tests
// the handlers, not the vault.
func (noTokens) Check(context.Context, string, string) error { return nil }

// world is identity's gRPC server as cmd/identity wires it, on a real
// listener, over a fresh database and Redis prefix.
type world struct {
	t        *testing.T
	store    *store.Store
	sessions *sessions.Sessions
	client   identityv1.IdentityServiceClient
	// loseRedis deletes every key of the world, as a Redis restarted empty.
	loseRedis func()
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	pool := storetest.New(t)
	rdb := pgtest.NewRedis(t)
	prefix := pgtest.RedisPrefixCleaned(t, rdb)
	kek := make([]byte, envelope.KeySize)
	_, _ = rand.Read(kek)
	ring, err := envelope.NewKeyRing("k1", map[string][]byte{"k1": kek})
	if err != nil {
		t.Fatal(err)
	}

	st := store.New(pool)
	fast := authz.RedisRevocations{Client: rdb, Prefix: prefix}
	record := sessions.NewRevocations(st, fast, 0, nil)
	revocations := authz.DurableRevocations{Redis: fast, Record: record}
	ss, err := sessions.New(ctx, sessions.Options{Store: st, Sealer: envelope.NewVault(ring, st.DataKeys(), envelope.VaultOptions{}), Revoker: fast})
	if err != nil {
		t.Fatal(err)
	}
	flows := signin.New(signin.Options{Config: signin.Config{Authority: "http://127.0.0.1:1", Tenant: "organizations", ClientID: "c", PublicURL: "http://localhost:8080"},
		Redis: rdb, Prefix: prefix, Store: st})
	tokens := apitokens.New(st)
	handler := server.New(server.Domain{
		Logins:        login.New(flows, st, ss),
		Sessions:      ss,
		Organizations: organizations.New(st),
		Members:       members.New(st, ss),
		APITokens:     tokens,
		Connections:   connections.New(st, flows, noTokens{}, vault.ReconnectReason),
		Revocations:   record,
		Flows:         flows,
	})
	srv := grpcserver.New(grpcserver.Options{
		Auth: &authz.Authenticator{
			Policy:      server.Policy,
			Sessions:    authz.NewVerifier(ss, authz.VerifierOptions{}),
			Revocations: revocations,
			APITokens:   tokens,
			Services:    authz.ServiceTokens{Current: serviceToken},
		},
		Validators: server.Validators,
	})
	identityv1.RegisterIdentityServiceServer(srv.GRPC(), handler)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, lis) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	loseRedis := func() {
		t.Helper()
		if _, err := pgtest.DeleteRedisPrefix(t.Context(), rdb, prefix); err != nil {
			t.Fatal(err)
		}
	}
	return &world{t: t, store: st, sessions: ss, client: identityv1.NewIdentityServiceClient(conn), loseRedis: loseRedis}
}

// person signs a new person of tenant in and returns them with a context
// that calls as them.
func (w *world) person(tenant, email string) (store.User, context.Context) {
	w.t.Helper()
	_, u, _, err := w.store.SignInUser(w.t.Context(), store.SignIn{TenantID: tenant, ObjectID: email, Email: email, DisplayName: email, OrgName: tenant})
	if err != nil {
		w.t.Fatal(err)
	}
	return u, w.as(u)
}

// as calls with a new session of u (with u's current role).
func (w *world) as(u store.User) context.Context {
	w.t.Helper()
	u, err := w.store.User(w.t.Context(), u.OrgID, u.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	issued, err := w.sessions.Issue(w.t.Context(), u)
	if err != nil {
		w.t.Fatal(err)
	}
	return bearer(w.t.Context(), issued.AccessToken)
}

func bearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func asService(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, authz.ServiceTokenMetadata, serviceToken, authz.ServiceNameMetadata, "gateway")
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: got %v (%v), want %v", what, got, err, want)
	}
}

// wantField checks an InvalidArgument names the request field.
func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	wantCode(t, what, err, codes.InvalidArgument)
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Fatalf("%s: the error should name the field %s: %v", what, field, status.Convert(err).Details())
}

func TestCallersAreChecked(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	owner, ownerCtx := w.person("tenant-a", "owner@a.example")
	_, recruiterCtx := w.person("tenant-a", "recruiter@a.example")

	_, err := w.client.GetMe(ctx, &identityv1.GetMeRequest{})
	wantCode(t, "GetMe without credentials", err, codes.Unauthenticated)
	_, err = w.client.GetMe(bearer(ctx, "not-a-token"), &identityv1.GetMeRequest{})
	wantCode(t, "GetMe with garbage", err, codes.Unauthenticated)
	me, err := w.client.GetMe(ownerCtx, &identityv1.GetMeRequest{})
	if err != nil || me.GetUser().GetId() != owner.ID || me.GetUser().GetRole() != identityv1.Role_ROLE_SUPER_ADMIN || me.GetOrganization().GetId() != owner.OrgID {
		t.Fatalf("GetMe: %v, %v", me, err)
	}

	// Internal RPCs take the service token and nothing else.
	_, err = w.client.ListSigningKeys(ownerCtx, &identityv1.ListSigningKeysRequest{})
	wantCode(t, "a Super Admin's token on ListSigningKeys", err, codes.PermissionDenied)
	keys, err := w.client.ListSigningKeys(asService(ctx), &identityv1.ListSigningKeysRequest{})
	if err != nil || len(keys.GetKeys()) != 1 {
		t.Fatalf("ListSigningKeys as a service: %v, %v", keys, err)
	}
	_, err = w.client.GetMe(asService(ctx), &identityv1.GetMeRequest{})
	wantCode(t, "a service on GetMe", err, codes.PermissionDenied)
	// A service reads a user of the organization it names.
	_, err = w.client.GetUserForService(ownerCtx, &identityv1.GetUserForServiceRequest{OrganizationId: owner.OrgID, UserId: owner.ID})
	wantCode(t, "a Super Admin's token on GetUserForService", err, codes.PermissionDenied)
	u, err := w.client.GetUserForService(asService(ctx), &identityv1.GetUserForServiceRequest{OrganizationId: owner.OrgID, UserId: owner.ID})
	if err != nil || u.GetUser().GetEmail() != "owner@a.example" {
		t.Fatalf("GetUserForService: %v, %v", u, err)
	}
	_, err = w.client.GetUserForService(asService(ctx), &identityv1.GetUserForServiceRequest{OrganizationId: "00000000-0000-0000-0000-000000000000", UserId: owner.ID})
	wantCode(t, "a user asked for under another organization", err, codes.NotFound)
	_, err = w.client.GetUserForService(asService(ctx), &identityv1.GetUserForServiceRequest{UserId: owner.ID})
	wantCode(t, "GetUserForService without an organization", err, codes.InvalidArgument)

	// Recruiters cannot change the organization.
	rename := &identityv1.UpdateOrganizationRequest{Organization: &identityv1.Organization{DisplayName: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}
	_, err = w.client.UpdateOrganization(recruiterCtx, rename)
	wantCode(t, "a Recruiter on UpdateOrganization", err, codes.PermissionDenied)
	_, err = w.client.ConnectLever(recruiterCtx, &identityv1.ConnectLeverRequest{})
	wantCode(t, "a Recruiter on ConnectLever", err, codes.PermissionDenied)
	_, err = w.client.DisconnectLever(recruiterCtx, &identityv1.DisconnectLeverRequest{})
	wantCode(t, "a Recruiter on DisconnectLever", err, codes.PermissionDenied)
	// Only a Super Admin connects Lever (ID-6): not even an Admin.
	leverAdmin, _ := w.person("tenant-a", "lever-admin@a.example")
	if _, err := w.client.UpdateUser(ownerCtx, &identityv1.UpdateUserRequest{User: &identityv1.User{Id: leverAdmin.ID, Role: identityv1.Role_ROLE_ADMIN},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"role"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.ConnectLever(w.as(leverAdmin), &identityv1.ConnectLeverRequest{})
	wantCode(t, "an Admin on ConnectLever", err, codes.PermissionDenied)
	_, err = w.client.DisconnectLever(w.as(leverAdmin), &identityv1.DisconnectLeverRequest{})
	wantCode(t, "an Admin on DisconnectLever", err, codes.PermissionDenied)
	// The Super Admin gets the start URL of the Lever flow.
	lv, err := w.client.ConnectLever(ownerCtx, &identityv1.ConnectLeverRequest{})
	if err != nil || !strings.HasPrefix(lv.GetAuthorizeUrl(), "http://localhost:8080/oauth/lever/start?ticket=") {
		t.Fatalf("the Super Admin on ConnectLever: %v, %v", lv, err)
	}
	if org, err := w.client.UpdateOrganization(ownerCtx, rename); err != nil || org.GetOrganization().GetDisplayName() != "Renamed" {
		t.Fatalf("the owner renames: %v, %v", org, err)
	}

	// Public RPCs ignore a stale token and check their request.
	_, err = w.client.ExchangeLoginCode(bearer(ctx, "stale"), &identityv1.ExchangeLoginCodeRequest{Code: "made-up"})
	wantField(t, "an unknown login code with a stale token", err, "code")
	_, err = w.client.RefreshSession(ctx, &identityv1.RefreshSessionRequest{})
	wantField(t, "RefreshSession without a token", err, "refresh_token")

	// Signing out ends the access token at once.
	if _, err := w.client.SignOut(ownerCtx, &identityv1.SignOutRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.GetMe(ownerCtx, &identityv1.GetMeRequest{})
	wantCode(t, "GetMe after sign-out", err, codes.Unauthenticated)
}

// A Redis that lost the revocation set lets no ended session back in: a
// signed-out session and a demoted Admin's old token stay refused, here and
// through CheckSession for the other services (issue 16, item 1).
func TestEndedSessionsStayEndedWhenRedisLosesThem(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	_, ownerCtx := w.person("tenant-a", "owner@a.example")
	admin, _ := w.person("tenant-a", "admin@a.example")
	signedOut := w.as(admin)
	if _, err := w.client.SignOut(signedOut, &identityv1.SignOutRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.UpdateUser(ownerCtx, &identityv1.UpdateUserRequest{User: &identityv1.User{Id: admin.ID, Role: identityv1.Role_ROLE_ADMIN},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"role"}}}); err != nil {
		t.Fatal(err)
	}
	adminCtx := w.as(admin) // an Admin's session
	if _, err := w.client.UpdateUser(ownerCtx, &identityv1.UpdateUserRequest{User: &identityv1.User{Id: admin.ID, Role: identityv1.Role_ROLE_MEMBER},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"role"}}}); err != nil {
		t.Fatal(err)
	}
	w.loseRedis()

	_, err := w.client.GetMe(signedOut, &identityv1.GetMeRequest{})
	wantCode(t, "a signed-out session after Redis lost its keys", err, codes.Unauthenticated)
	rename := &identityv1.UpdateOrganizationRequest{Organization: &identityv1.Organization{DisplayName: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}
	_, err = w.client.UpdateOrganization(adminCtx, rename)
	wantCode(t, "a demoted Admin's old token after Redis lost its keys", err, codes.Unauthenticated)
	if me, err := w.client.GetMe(ownerCtx, &identityv1.GetMeRequest{}); err != nil || me.GetUser().GetRole() != identityv1.Role_ROLE_SUPER_ADMIN {
		t.Fatalf("a live session after Redis lost its keys: %v, %v", me, err)
	}

	// The other services ask the same record.
	_, err = w.client.CheckSession(ownerCtx, &identityv1.CheckSessionRequest{SessionId: "x"})
	wantCode(t, "a person on CheckSession", err, codes.PermissionDenied)
	_, err = w.client.CheckSession(asService(ctx), &identityv1.CheckSessionRequest{})
	wantField(t, "CheckSession without a session", err, "session_id")
	sessionOf := func(callCtx context.Context) string {
		md, _ := metadata.FromOutgoingContext(callCtx)
		claims, err := authz.NewVerifier(w.sessions, authz.VerifierOptions{}).Verify(ctx, strings.TrimPrefix(md.Get("authorization")[0], "Bearer "))
		if err != nil {
			t.Fatal(err)
		}
		return claims.SessionID
	}
	for name, c := range map[string]struct {
		ctx  context.Context
		want bool
	}{"signed out": {signedOut, true}, "demoted": {adminCtx, true}, "live": {ownerCtx, false}} {
		resp, err := w.client.CheckSession(asService(ctx), &identityv1.CheckSessionRequest{SessionId: sessionOf(c.ctx)})
		if err != nil || resp.GetRevoked() != c.want {
			t.Errorf("CheckSession of the %s session: %v, %v, want revoked=%v", name, resp, err, c.want)
		}
	}
}

func TestUpdateOrganizationMaskErrorsNameTheField(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, ownerCtx := w.person("tenant-a", "owner@a.example")
	update := func(org *identityv1.Organization, paths ...string) error {
		_, err := w.client.UpdateOrganization(ownerCtx, &identityv1.UpdateOrganizationRequest{Organization: org, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		return err
	}
	wantField(t, "no mask", update(&identityv1.Organization{DisplayName: "x"}), "update_mask")
	wantField(t, "an unknown path", update(&identityv1.Organization{DisplayName: "x"}, "microsoft_tenant_id"), "update_mask")
	wantField(t, "a blank name", update(&identityv1.Organization{DisplayName: "  "}, "display_name"), "organization.display_name")
	wantField(t, "a long name", update(&identityv1.Organization{DisplayName: string(make([]byte, 201))}, "display_name"), "organization.display_name")
	wantField(t, "no default role", update(&identityv1.Organization{}, "default_role"), "organization.default_role")
	wantField(t, "admins by default", update(&identityv1.Organization{DefaultRole: identityv1.Role_ROLE_ADMIN}, "defaultRole"), "organization.default_role")
	wantField(t, "an unknown role", update(&identityv1.Organization{DefaultRole: identityv1.Role(42)}, "default_role"), "organization.default_role")

	// A bad path fails the whole update.
	wantField(t, "a good and a bad path", update(&identityv1.Organization{DisplayName: "Half", DefaultRole: identityv1.Role_ROLE_ADMIN}, "display_name", "default_role"), "organization.default_role")
	org, err := w.client.GetOrganization(ownerCtx, &identityv1.GetOrganizationRequest{})
	if err != nil || org.GetOrganization().GetDisplayName() == "Half" {
		t.Fatalf("a refused update changed the organization: %v, %v", org, err)
	}
	if err := update(&identityv1.Organization{DisplayName: " Talent ", DefaultRole: identityv1.Role_ROLE_MEMBER}, "displayName", "default_role"); err != nil {
		t.Fatal(err)
	}
	org, err = w.client.GetOrganization(ownerCtx, &identityv1.GetOrganizationRequest{})
	if err != nil || org.GetOrganization().GetDisplayName() != "Talent" || org.GetOrganization().GetDefaultRole() != identityv1.Role_ROLE_MEMBER {
		t.Fatalf("after the update: %v, %v", org, err)
	}
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, ownerCtx := w.person("tenant-a", "u0@a.example")
	want := []string{"u0@a.example"}
	for _, e := range []string{"u1@a.example", "u2@a.example", "u3@a.example", "u4@a.example"} {
		w.person("tenant-a", e)
		want = append(want, e)
	}
	w.person("tenant-b", "other@b.example")

	var got []string
	token, pages := "", 0
	for {
		resp, err := w.client.ListUsers(ownerCtx, &identityv1.ListUsersRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, u := range resp.GetUsers() {
			got = append(got, u.GetEmail())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("%d pages of %v, want 3 pages of %v", pages, got, want)
	}
	// A page size that divides the list exactly ends without an empty page.
	resp, err := w.client.ListUsers(ownerCtx, &identityv1.ListUsersRequest{PageSize: 5})
	if err != nil || len(resp.GetUsers()) != 5 || resp.GetNextPageToken() != "" {
		t.Fatalf("page of 5: %d users, token %q, %v", len(resp.GetUsers()), resp.GetNextPageToken(), err)
	}
	resp, err = w.client.ListUsers(ownerCtx, &identityv1.ListUsersRequest{})
	if err != nil || len(resp.GetUsers()) != 5 {
		t.Fatalf("default page size: %d users, %v", len(resp.GetUsers()), err)
	}
	_, err = w.client.ListUsers(ownerCtx, &identityv1.ListUsersRequest{PageSize: 201})
	wantField(t, "page size 201", err, "page_size")
	_, err = w.client.ListUsers(ownerCtx, &identityv1.ListUsersRequest{PageSize: -1})
	wantField(t, "page size -1", err, "page_size")
	_, err = w.client.ListUsers(ownerCtx, &identityv1.ListUsersRequest{PageToken: "!!"})
	wantField(t, "a page token that is not one", err, "page_token")
}

func TestUserManagement(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	owner, ownerCtx := w.person("tenant-a", "owner@a.example")
	admin, _ := w.person("tenant-a", "admin@a.example")
	recruiter, recruiterCtx := w.person("tenant-a", "recruiter@a.example")
	_, otherCtx := w.person("tenant-b", "owner@b.example")
	setRole := func(ctx context.Context, id string, role identityv1.Role) error {
		_, err := w.client.UpdateUser(ctx, &identityv1.UpdateUserRequest{User: &identityv1.User{Id: id, Role: role}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"role"}}})
		return err
	}

	if err := setRole(ownerCtx, admin.ID, identityv1.Role_ROLE_ADMIN); err != nil {
		t.Fatal(err)
	}
	adminCtx := w.as(admin)
	wantCode(t, "an Admin promoting to Admin", setRole(adminCtx, recruiter.ID, identityv1.Role_ROLE_ADMIN), codes.PermissionDenied)
	wantCode(t, "an Admin demoting a Super Admin", setRole(adminCtx, owner.ID, identityv1.Role_ROLE_MEMBER), codes.PermissionDenied)
	wantCode(t, "an Admin demoting themselves", setRole(adminCtx, admin.ID, identityv1.Role_ROLE_MEMBER), codes.PermissionDenied)
	if err := setRole(adminCtx, recruiter.ID, identityv1.Role_ROLE_HIRING_MANAGER); err != nil {
		t.Fatalf("an Admin changing a Recruiter: %v", err)
	}
	// The role change ended the user's sessions: their tokens carried the old role.
	wantCode(t, "a token from before the role change", setRole(recruiterCtx, recruiter.ID, identityv1.Role_ROLE_MEMBER), codes.Unauthenticated)
	wantCode(t, "a Hiring Manager on UpdateUser", setRole(w.as(recruiter), recruiter.ID, identityv1.Role_ROLE_MEMBER), codes.PermissionDenied)
	wantCode(t, "the last Super Admin stepping down", setRole(ownerCtx, owner.ID, identityv1.Role_ROLE_ADMIN), codes.FailedPrecondition)
	_, err := w.client.UpdateUser(ownerCtx, &identityv1.UpdateUserRequest{User: &identityv1.User{Id: admin.ID, Role: identityv1.Role_ROLE_MEMBER}})
	wantField(t, "UpdateUser without a mask", err, "update_mask")
	wantField(t, "UpdateUser without a role", setRole(ownerCtx, admin.ID, identityv1.Role_ROLE_UNSPECIFIED), "user.role")
	wantField(t, "UpdateUser without an id", setRole(ownerCtx, "", identityv1.Role_ROLE_MEMBER), "user.id")

	// Another organization's users are not found, whatever the call.
	wantCode(t, "another organization's user", setRole(otherCtx, recruiter.ID, identityv1.Role_ROLE_MEMBER), codes.NotFound)
	_, err = w.client.GetUser(otherCtx, &identityv1.GetUserRequest{UserId: recruiter.ID})
	wantCode(t, "GetUser of another organization", err, codes.NotFound)
	_, err = w.client.RemoveUser(otherCtx, &identityv1.RemoveUserRequest{UserId: recruiter.ID})
	wantCode(t, "RemoveUser of another organization", err, codes.NotFound)
	_, err = w.client.GetUser(ownerCtx, &identityv1.GetUserRequest{UserId: "not-an-id"})
	wantCode(t, "GetUser of a malformed id", err, codes.NotFound)

	// Removing a user ends their sessions at once.
	_, err = w.client.RemoveUser(adminCtx, &identityv1.RemoveUserRequest{UserId: owner.ID})
	wantCode(t, "an Admin removing a Super Admin", err, codes.PermissionDenied)
	if _, err := w.client.RemoveUser(adminCtx, &identityv1.RemoveUserRequest{UserId: recruiter.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.GetMe(recruiterCtx, &identityv1.GetMeRequest{})
	wantCode(t, "a removed user's token", err, codes.Unauthenticated)
	_, err = w.client.GetUser(ownerCtx, &identityv1.GetUserRequest{UserId: recruiter.ID})
	wantCode(t, "a removed user", err, codes.NotFound)
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	owner, ownerCtx := w.person("tenant-a", "owner@a.example")
	admin, _ := w.person("tenant-a", "admin@a.example")
	if _, err := w.store.ChangeUserRole(ctx, owner.OrgID, admin.ID, authz.RoleAdmin, time.Now(), func(store.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
	adminCtx := w.as(admin)
	_, otherCtx := w.person("tenant-b", "owner@b.example")

	_, err := w.client.CreateApiToken(adminCtx, &identityv1.CreateApiTokenRequest{DisplayName: "ci", Role: identityv1.Role_ROLE_SUPER_ADMIN})
	wantCode(t, "an Admin creating a Super Admin token", err, codes.PermissionDenied)
	_, err = w.client.CreateApiToken(adminCtx, &identityv1.CreateApiTokenRequest{DisplayName: " ", Role: identityv1.Role_ROLE_MEMBER})
	wantField(t, "a blank token name", err, "display_name")
	created, err := w.client.CreateApiToken(ownerCtx, &identityv1.CreateApiTokenRequest{DisplayName: "ci", Role: identityv1.Role_ROLE_RECRUITER})
	if err != nil || !authz.IsAPIToken(created.GetToken()) || created.GetApiToken().GetCreatedByUserId() != owner.ID {
		t.Fatalf("CreateApiToken: %v, %v", created, err)
	}
	tokenCtx := bearer(ctx, created.GetToken())
	me, err := w.client.GetMe(tokenCtx, &identityv1.GetMeRequest{})
	if err != nil || me.GetOrganization().GetId() != owner.OrgID || me.GetUser() != nil {
		t.Fatalf("GetMe with the API token: %v, %v", me, err)
	}
	_, err = w.client.UpdateOrganization(tokenCtx, &identityv1.UpdateOrganizationRequest{Organization: &identityv1.Organization{DisplayName: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	wantCode(t, "a Recruiter API token on UpdateOrganization", err, codes.PermissionDenied)

	auth, err := w.client.AuthenticateApiToken(asService(ctx), &identityv1.AuthenticateApiTokenRequest{Token: created.GetToken()})
	if err != nil || auth.GetOrganizationId() != owner.OrgID || auth.GetApiTokenId() != created.GetApiToken().GetId() || auth.GetRole() != identityv1.Role_ROLE_RECRUITER ||
		auth.GetCreatedByUserId() != owner.ID {
		t.Fatalf("AuthenticateApiToken: %v, %v", auth, err)
	}
	_, err = w.client.AuthenticateApiToken(tokenCtx, &identityv1.AuthenticateApiTokenRequest{Token: created.GetToken()})
	wantCode(t, "AuthenticateApiToken with an API token", err, codes.PermissionDenied)

	_, err = w.client.RevokeApiToken(otherCtx, &identityv1.RevokeApiTokenRequest{ApiTokenId: created.GetApiToken().GetId()})
	wantCode(t, "revoking another organization's token", err, codes.NotFound)
	if _, err := w.client.RevokeApiToken(adminCtx, &identityv1.RevokeApiTokenRequest{ApiTokenId: created.GetApiToken().GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.GetMe(tokenCtx, &identityv1.GetMeRequest{})
	wantCode(t, "a revoked API token", err, codes.Unauthenticated)
	_, err = w.client.AuthenticateApiToken(asService(ctx), &identityv1.AuthenticateApiTokenRequest{Token: created.GetToken()})
	wantCode(t, "AuthenticateApiToken of a revoked token", err, codes.Unauthenticated)
	list, err := w.client.ListApiTokens(ownerCtx, &identityv1.ListApiTokensRequest{})
	if err != nil || len(list.GetApiTokens()) != 1 || list.GetApiTokens()[0].GetRevokeTime() == nil {
		t.Fatalf("ListApiTokens: %v, %v", list, err)
	}
}

// Only a person creates API tokens: a token minted by a token would have no
// creator to bound it, and would outlive its parent's revocation.
func TestAPITokensDoNotMintAPITokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	_, ownerCtx := w.person("tenant-a", "owner@a.example")
	adminToken, err := w.client.CreateApiToken(ownerCtx, &identityv1.CreateApiTokenRequest{DisplayName: "admin-ci", Role: identityv1.Role_ROLE_ADMIN})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.client.CreateApiToken(bearer(ctx, adminToken.GetToken()), &identityv1.CreateApiTokenRequest{DisplayName: "child", Role: identityv1.Role_ROLE_MEMBER})
	wantCode(t, "an Admin API token on CreateApiToken", err, codes.PermissionDenied)
	list, err := w.client.ListApiTokens(ownerCtx, &identityv1.ListApiTokensRequest{})
	if err != nil || len(list.GetApiTokens()) != 1 {
		t.Fatalf("tokens after the refusal: %v, %v", list, err)
	}
}

// A token never carries more than its creator may hold now: demoting the
// creator revokes their tokens above the new role, and removing them
// revokes all of theirs.
func TestAPITokensFollowTheirCreatorsRole(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := t.Context()
	_, ownerCtx := w.person("tenant-a", "owner@a.example")
	admin, _ := w.person("tenant-a", "admin@a.example")
	setRole := func(id string, role identityv1.Role) {
		t.Helper()
		if _, err := w.client.UpdateUser(ownerCtx, &identityv1.UpdateUserRequest{User: &identityv1.User{Id: id, Role: role}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"role"}}}); err != nil {
			t.Fatal(err)
		}
	}
	create := func(ctx context.Context, role identityv1.Role) context.Context {
		t.Helper()
		tok, err := w.client.CreateApiToken(ctx, &identityv1.CreateApiTokenRequest{DisplayName: role.String(), Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return bearer(t.Context(), tok.GetToken())
	}
	adminTokenCtx := func() (context.Context, string) {
		t.Helper()
		tok, err := w.client.CreateApiToken(w.as(admin), &identityv1.CreateApiTokenRequest{DisplayName: "admin", Role: identityv1.Role_ROLE_ADMIN})
		if err != nil {
			t.Fatal(err)
		}
		return bearer(t.Context(), tok.GetToken()), tok.GetToken()
	}
	setRole(admin.ID, identityv1.Role_ROLE_ADMIN)
	adminCtx := w.as(admin)
	adminToken, adminSecret := adminTokenCtx()
	recruiterToken := create(adminCtx, identityv1.Role_ROLE_RECRUITER)
	memberToken := create(adminCtx, identityv1.Role_ROLE_MEMBER)

	// Demoted to Recruiter: the Admin token goes, the others stay.
	setRole(admin.ID, identityv1.Role_ROLE_RECRUITER)
	_, err := w.client.GetMe(adminToken, &identityv1.GetMeRequest{})
	wantCode(t, "an Admin token of a creator now Recruiter", err, codes.Unauthenticated)
	_, err = w.client.AuthenticateApiToken(asService(ctx), &identityv1.AuthenticateApiTokenRequest{Token: adminSecret})
	wantCode(t, "AuthenticateApiToken of that token", err, codes.Unauthenticated)
	for name, tok := range map[string]context.Context{"Recruiter": recruiterToken, "Member": memberToken} {
		if _, err := w.client.GetMe(tok, &identityv1.GetMeRequest{}); err != nil {
			t.Fatalf("a %s token of a creator now Recruiter: %v", name, err)
		}
	}
	// Removed: every token of theirs goes.
	if _, err := w.client.RemoveUser(ownerCtx, &identityv1.RemoveUserRequest{UserId: admin.ID}); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]context.Context{"Recruiter": recruiterToken, "Member": memberToken} {
		_, err := w.client.GetMe(tok, &identityv1.GetMeRequest{})
		wantCode(t, "a "+name+" token of a removed creator", err, codes.Unauthenticated)
	}
	list, err := w.client.ListApiTokens(ownerCtx, &identityv1.ListApiTokensRequest{})
	if err != nil || len(list.GetApiTokens()) != 3 {
		t.Fatalf("ListApiTokens: %v, %v", list, err)
	}
	for _, tok := range list.GetApiTokens() {
		if tok.GetRevokeTime() == nil {
			t.Errorf("token %s of a removed creator is not revoked", tok.GetDisplayName())
		}
	}
}

// Display names are text a person reads: valid UTF-8, no control
// characters (a NUL used to reach Postgres and fail as Internal), at most so
// many characters (not bytes).
func TestDisplayNamesAreCheckedText(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, ownerCtx := w.person("tenant-a", "owner@a.example")
	rename := func(name string) error {
		_, err := w.client.UpdateOrganization(ownerCtx, &identityv1.UpdateOrganizationRequest{Organization: &identityv1.Organization{DisplayName: name},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		return err
	}
	token := func(name string) error {
		_, err := w.client.CreateApiToken(ownerCtx, &identityv1.CreateApiTokenRequest{DisplayName: name, Role: identityv1.Role_ROLE_MEMBER})
		return err
	}
	for what, name := range map[string]string{
		"a NUL":           "ci\u0000bot",
		"a line break":    "ci\nbot",
		"an escape":       "ci\u001b[31mbot",
		"a C1 control":    "ci\u0085bot",
		"a bidi override": "ci\u202ebot",
	} {
		wantField(t, "an organization name with "+what, rename(name), "organization.display_name")
		wantField(t, "a token name with "+what, token(name), "display_name")
	}
	// Length counts characters: 200 of them in a multi-byte script fit.
	if err := rename(strings.Repeat("名", 200)); err != nil {
		t.Fatalf("200 characters of three bytes each: %v", err)
	}
	wantField(t, "201 characters", rename(strings.Repeat("名", 201)), "organization.display_name")
	if err := token(strings.Repeat("é", 100)); err != nil {
		t.Fatalf("100 two-byte characters in a token name: %v", err)
	}
}

func TestOAuthRPCs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := asService(t.Context())
	secret := rand.Text()
	bindingHash := sha256.Sum256([]byte(secret))
	binding := bindingHash[:]

	_, err := w.client.BeginAuthorization(ctx, &identityv1.BeginAuthorizationRequest{Flow: "sign_in", BrowserBindingHash: binding[:16]})
	wantField(t, "a short binding hash", err, "browser_binding_hash")
	begun, err := w.client.BeginAuthorization(ctx, &identityv1.BeginAuthorizationRequest{Flow: "sign_in", BrowserBindingHash: binding})
	if err != nil {
		t.Fatal(err)
	}
	state := mustQuery(t, begun.GetRedirectUrl()).Get("state")

	_, err = w.client.CompleteAuthorization(ctx, &identityv1.CompleteAuthorizationRequest{Callback: "authorize", BrowserBindingHash: binding})
	wantField(t, "no state", err, "state")
	_, err = w.client.CompleteAuthorization(ctx, &identityv1.CompleteAuthorizationRequest{Callback: "other", State: state, BrowserBindingHash: binding})
	wantField(t, "an unknown callback", err, "callback")
	done, err := w.client.CompleteAuthorization(ctx, &identityv1.CompleteAuthorizationRequest{Callback: "authorize", State: state, BrowserBindingHash: binding,
		Error: "access_denied", ErrorDescription: "AADSTS90094: The grant requires admin permission."})
	if err != nil {
		t.Fatal(err)
	}
	code := mustQuery(t, done.GetRedirectUrl()).Get("code")
	_, err = w.client.ExchangeLoginCode(t.Context(), &identityv1.ExchangeLoginCodeRequest{Code: code})
	wantField(t, "a login code without its browser's proof", err, "code_verifier")
	res, err := w.client.ExchangeLoginCode(t.Context(), &identityv1.ExchangeLoginCodeRequest{Code: code, CodeVerifier: secret})
	if err != nil || res.GetOutcome() != "admin_approval_required" || res.GetAdminConsentUrl() == "" || res.GetSession() != nil || res.GetUser() != nil {
		t.Fatalf("ExchangeLoginCode: %v, %v", res, err)
	}
	_, err = w.client.ExchangeLoginCode(t.Context(), &identityv1.ExchangeLoginCodeRequest{Code: code, CodeVerifier: secret})
	wantField(t, "a used login code", err, "code")

	// A connection that is not connected hands out no access token.
	u, _ := w.person("tenant-a", "owner@a.example")
	conn, err := w.store.UpsertPersonalConnection(t.Context(), store.Connection{OrgID: u.OrgID, UserID: u.ID, Provider: store.ProviderMicrosoftMailbox,
		Status: store.StatusAwaitingAdminApproval, Reason: "waiting for the admin"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.client.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: conn.ID})
	wantCode(t, "GetAccessToken of a waiting connection", err, codes.FailedPrecondition)
	_, err = w.client.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: "not-an-id"})
	wantCode(t, "GetAccessToken of an unknown connection", err, codes.NotFound)
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
