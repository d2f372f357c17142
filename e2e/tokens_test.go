package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// identityClient is a gRPC client of one identity process, calling as a
// Tandem service.
func identityClient(t *testing.T, s *stack.Stack, proc string) identityv1.IdentityServiceClient {
	return identityClientTB(t, s, proc)
}

func identityClientTB(t testing.TB, s *stack.Stack, proc string) identityv1.IdentityServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(s.Procs[proc].Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return identityv1.NewIdentityServiceClient(conn)
}

func asService(ctx context.Context, s *stack.Stack) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-tandem-service-token", s.ServiceToken, "x-tandem-service", "mailbox")
}

// connectedMailbox signs a Contoso user up and connects their mailbox.
func connectedMailbox(t *testing.T, s *stack.Stack, email string) (api, *identityv1.Connection) {
	t.Helper()
	br := newBrowser(t, s)
	_, userAPI := signedIn(t, s, br, as{email: email})
	connect := &identityv1.ConnectMailboxResponse{}
	userAPI.must("POST", "/v1/mailboxConnection:connect", &identityv1.ConnectMailboxRequest{}, connect)
	res := exchange(t, br, loginCode(t, br.walk(br.open(connect.GetAuthorizeUrl()), as{email: email})))
	if res.GetOutcome() != "mailbox_connected" {
		t.Fatalf("connect mailbox: %v", res)
	}
	return userAPI, res.GetConnection()
}

// ID-5: tokens stay valid without the user; 100 concurrent callers on two
// replicas at expiry cause one refresh; the rotated refresh token is kept; a
// revoked grant turns the connection to reconnect_required with the reason.
func TestScenario_ID_5(t *testing.T) {
	// The simulator issues 6-second tokens; the vault refreshes them 3
	// seconds before they expire, which leaves 3 seconds in which a token is
	// due and still valid.
	s := stack.Start(t, binDir, stack.Options{IdentityReplicas: 1, Env: []string{"TANDEM_VAULT_REFRESH_BEFORE=3s"}})
	ctl := sim(t, s)
	if err := ctl.SetLifetimes(t.Context(), simclient.Lifetimes{AccessTokenSeconds: 6}); err != nil {
		t.Fatal(err)
	}
	userAPI, conn := connectedMailbox(t, s, contosoUser)
	replicas := []identityv1.IdentityServiceClient{identityClient(t, s, "identity"), identityClient(t, s, "identity-2")}
	ctx := asService(t.Context(), s)

	first, err := replicas[0].GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: conn.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	refreshCounter := "microsoft.token.refresh_token/user=" + contosoUser
	before, err := ctl.Counter(t.Context(), refreshCounter)
	if err != nil {
		t.Fatal(err)
	}
	// A valid token comes back as it is, without a refresh.
	again, err := replicas[1].GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: conn.GetId()})
	if err != nil || again.GetAccessToken() != first.GetAccessToken() {
		t.Fatalf("a fresh token should be served as is: %v", err)
	}

	// The storm comes while the refresh is under way. Microsoft holds the
	// first token request it gets; one caller asks replica 0 again and again
	// until the token falls due (its expiry comes from the issuing process's
	// clock) and that replica's refresh reaches Microsoft and is held there.
	req := &identityv1.GetAccessTokenRequest{ConnectionId: conn.GetId()}
	hold, err := ctl.AddFault(t.Context(), simclient.Fault{Endpoint: "microsoft.token", Stall: true, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	var dueCaller string
	dueCallerErr := make(chan error, 1)
	go func() {
		dueCallerErr <- poll.Wait(ctx, 20*time.Second, func() error {
			resp, err := replicas[0].GetAccessToken(ctx, req)
			if err != nil {
				return err
			}
			if resp.GetAccessToken() == first.GetAccessToken() {
				return errors.New("replica 0 still serves the first token")
			}
			dueCaller = resp.GetAccessToken()
			return nil
		})
	}()
	poll.Until(t, 20*time.Second, func() error {
		faults, err := ctl.Faults(t.Context())
		if err != nil {
			return err
		}
		for _, f := range faults {
			if f.ID == hold.ID && f.Remaining == 0 {
				return nil
			}
		}
		return errors.New("no token refresh has reached Microsoft yet")
	})
	// 100 callers on both replicas. Replica 0's join the refresh in flight;
	// replica 1's find another replica refreshing and a token still valid,
	// and are answered while Microsoft holds the refresh. Then it is let go.
	var wg sync.WaitGroup
	var answeredByReplica1 atomic.Int32
	tokens := make([]string, 100)
	errs := make([]error, 100)
	for i := range 100 {
		wg.Go(func() {
			resp, err := replicas[i%2].GetAccessToken(ctx, req)
			tokens[i], errs[i] = resp.GetAccessToken(), err
			if i%2 == 1 {
				answeredByReplica1.Add(1)
			}
		})
	}
	held := poll.Wait(ctx, 20*time.Second, func() error {
		if n := answeredByReplica1.Load(); n < 50 {
			return fmt.Errorf("%d of replica 1's 50 callers answered while replica 0's refresh is held", n)
		}
		return nil
	})
	if err := ctl.RemoveFault(t.Context(), hold.ID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if held != nil {
		t.Fatal(held)
	}
	if err := <-dueCallerErr; err != nil {
		t.Fatalf("the caller that found the token due: %v", err)
	}
	// Callers get the new token, or the old one while it is still valid and
	// the refresh is under way; never anything else.
	fresh, served := dueCaller, map[bool]int{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
		if tokens[i] != first.GetAccessToken() && tokens[i] != fresh {
			t.Fatalf("caller %d got a third token", i)
		}
		served[tokens[i] == fresh]++
	}
	t.Logf("the storm: %d callers got the old token, %d the refreshed one", served[false], served[true])
	after, err := ctl.Counter(t.Context(), refreshCounter)
	if err != nil {
		t.Fatal(err)
	}
	if after-before != 1 {
		t.Fatalf("100 callers at expiry made %d refreshes, want 1", after-before)
	}

	// The next refresh works with the rotated refresh token the vault kept:
	// once the new token falls due, asking brings another.
	poll.Until(t, 20*time.Second, func() error {
		resp, err := replicas[0].GetAccessToken(ctx, req)
		if err != nil {
			t.Fatalf("second refresh: %v", err)
		}
		if resp.GetAccessToken() == fresh {
			return errors.New("the refreshed token is still served: not due yet")
		}
		return nil
	})

	// The user's sessions are revoked at Microsoft: the next refresh gets
	// invalid_grant.
	if _, err := ctl.RevokeSessions(t.Context(), contosoUser); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, func() error {
		_, err := replicas[1].GetAccessToken(ctx, req)
		switch status.Code(err) {
		case codes.FailedPrecondition:
			return nil
		case codes.OK:
			return errors.New("the token is still served: not due for a refresh yet")
		}
		t.Fatalf("after revocation want FailedPrecondition, got %v", err)
		return nil
	})
	mb := &identityv1.GetMailboxConnectionResponse{}
	userAPI.must("GET", "/v1/mailboxConnection", nil, mb)
	if mb.GetConnection().GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED || mb.GetConnection().GetReason() == "" {
		t.Fatalf("want reconnect_required with a reason, got %v", mb.GetConnection())
	}
	for _, l := range []string{first.GetAccessToken(), fresh} {
		if strings.Contains(s.TandemLogs(), l) {
			t.Fatal("an access token reached a log")
		}
	}
}

// Internal RPCs refuse people's tokens; a revoked API token and a tampered or
// expired session token are refused.
func TestIdentity_CredentialsAreChecked(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	res, userAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
	client := identityClient(t, s, "identity")

	userCtx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+res.GetSession().GetAccessToken())
	if _, err := client.ListSigningKeys(userCtx, &identityv1.ListSigningKeysRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a user token on an internal RPC: want PermissionDenied, got %v", err)
	}
	if _, err := client.GetMe(userCtx, &identityv1.GetMeRequest{}); err != nil {
		t.Fatalf("the same token on a member RPC: %v", err)
	}
	// Internal RPCs are not routed by the gateway at all.
	code, body := userAPI.call("POST", "/v1/accessTokens", &identityv1.GetAccessTokenRequest{ConnectionId: "x"}, nil)
	wantError(t, code, body, 404, "NOT_FOUND")

	tok := res.GetSession().GetAccessToken()
	tampered := tok[:len(tok)-4] + map[bool]string{true: "AAAA", false: "BBBB"}[!strings.HasSuffix(tok, "AAAA")]
	for name, bad := range map[string]string{"tampered": tampered, "garbage": "not-a-token", "empty": ""} {
		code, body := api{t: t, s: s, token: bad}.call("GET", "/v1/me", nil, nil)
		if code != 401 || strings.Contains(string(body), bad+"x") {
			t.Fatalf("%s session token: want 401, got %d %s", name, code, body)
		}
	}

	// API tokens work until revoked.
	created := &identityv1.CreateApiTokenResponse{}
	userAPI.must("POST", "/v1/apiTokens", &identityv1.CreateApiTokenRequest{DisplayName: "reporting", Role: identityv1.Role_ROLE_MEMBER}, created)
	tokenAPI := api{t: t, s: s, token: created.GetToken()}
	me := &identityv1.GetMeResponse{}
	tokenAPI.must("GET", "/v1/me", nil, me)
	list := &identityv1.ListApiTokensResponse{}
	userAPI.must("GET", "/v1/apiTokens", nil, list)
	if strings.Contains(fmt.Sprint(list), created.GetToken()) {
		t.Fatal("listing API tokens must not show secrets")
	}
	userAPI.must("POST", "/v1/apiTokens/"+created.GetApiToken().GetId()+":revoke", &identityv1.RevokeApiTokenRequest{}, &identityv1.RevokeApiTokenResponse{})
	code, body = tokenAPI.call("GET", "/v1/me", nil, nil)
	wantError(t, code, body, 401, "UNAUTHENTICATED")

	// Refresh rotates; asking again at once (a lost response, a second tab)
	// gets the same new token rather than ending the session; sign-out ends
	// a session's access token at once.
	refreshed := &identityv1.RefreshSessionResponse{}
	api{t: t, s: s}.must("POST", "/v1/sessions:refresh", &identityv1.RefreshSessionRequest{RefreshToken: res.GetSession().GetRefreshToken()}, refreshed)
	if refreshed.GetSession().GetRefreshToken() == res.GetSession().GetRefreshToken() {
		t.Fatal("refresh token did not rotate")
	}
	retried := &identityv1.RefreshSessionResponse{}
	api{t: t, s: s}.must("POST", "/v1/sessions:refresh", &identityv1.RefreshSessionRequest{RefreshToken: res.GetSession().GetRefreshToken()}, retried)
	if retried.GetSession().GetRefreshToken() != refreshed.GetSession().GetRefreshToken() {
		t.Fatal("a refresh retried at once got another refresh token")
	}
	newAPI := api{t: t, s: s, token: refreshed.GetSession().GetAccessToken()}
	newAPI.must("GET", "/v1/me", nil, &identityv1.GetMeResponse{})
	newAPI.must("POST", "/v1/sessions:signOut", &identityv1.SignOutRequest{}, &identityv1.SignOutResponse{})
	code, body = newAPI.call("GET", "/v1/me", nil, nil)
	wantError(t, code, body, 401, "UNAUTHENTICATED")
	code, body = api{t: t, s: s}.call("POST", "/v1/sessions:refresh", &identityv1.RefreshSessionRequest{RefreshToken: refreshed.GetSession().GetRefreshToken()}, nil)
	wantError(t, code, body, 401, "UNAUTHENTICATED")

	// Nothing secret reached any process's log.
	logs := s.TandemLogs()
	for name, secret := range map[string]string{
		"access token": res.GetSession().GetAccessToken(), "refresh token": res.GetSession().GetRefreshToken(),
		"API token": created.GetToken(), "service token": s.ServiceToken, "client secret": "tandem-local-secret",
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s reached a log", name)
		}
	}
}

// OAuth callbacks with a missing, wrong or replayed state are refused; a
// state from another browser is refused.
func TestIdentity_CallbackStateIsChecked(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	// Run a flow up to the callback, and stop there.
	br2 := newBrowser(t, s)
	p2, err := br2.b.Get(br2.ctx(), s.GatewayURL+"/oauth/microsoft/start?flow=sign_in")
	if err != nil {
		t.Fatal(err)
	}
	for p2.Redirect == nil || !strings.HasPrefix(p2.Redirect.String(), s.GatewayURL) {
		switch p2.Name {
		case "signin":
			p2, err = br2.b.Submit(br2.ctx(), p2, map[string][]string{"login": {contosoUser}}, "signin-submit")
		case "pick-account":
			p2, err = br2.b.Submit(br2.ctx(), p2, map[string][]string{"login": {contosoUser}}, "")
		case "consent":
			p2, err = br2.b.Submit(br2.ctx(), p2, nil, "accept")
		default:
			t.Fatalf("unexpected page %q", p2.Name)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	callback := p2.Redirect
	q := callback.Query()

	get := func(b *browser, u string) int {
		t.Helper()
		page, err := b.b.Get(b.ctx(), u)
		if err != nil {
			t.Fatal(err)
		}
		return page.Status
	}
	// Another browser (no binding cookie) cannot use it.
	if code := get(newBrowser(t, s), callback.String()); code != 403 {
		t.Fatalf("callback from another browser: want 403, got %d", code)
	}
	// The state was consumed by that attempt: one use only, even for the owner.
	if code := get(br2, callback.String()); code != 400 {
		t.Fatalf("replayed state: want 400, got %d", code)
	}
	// Missing and made-up states.
	q.Del("state")
	if code := get(br2, s.GatewayURL+"/oauth/microsoft/callback?"+q.Encode()); code != 400 {
		t.Fatalf("missing state: want 400, got %d", code)
	}
	q.Set("state", "made-up")
	if code := get(br2, s.GatewayURL+"/oauth/microsoft/callback?"+q.Encode()); code != 400 {
		t.Fatalf("wrong state: want 400, got %d", code)
	}
}

// API tokens are made by people only, never carry more than their creator
// holds now, and their names are checked text (issue 8, items 2, 3, 6).
func TestIdentity_APITokensFollowTheirCreator(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	_, ownerAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	admin, _ := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	setRole := func(role identityv1.Role) {
		t.Helper()
		ownerAPI.must("PATCH", "/v1/users/"+admin.GetUser().GetId()+"?updateMask=role", &identityv1.User{Role: role}, &identityv1.UpdateUserResponse{})
	}
	setRole(identityv1.Role_ROLE_ADMIN)
	_, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin}) // the new role is in the new session

	created := &identityv1.CreateApiTokenResponse{}
	adminAPI.must("POST", "/v1/apiTokens", &identityv1.CreateApiTokenRequest{DisplayName: "ci", Role: identityv1.Role_ROLE_ADMIN}, created)
	tokenAPI := api{t: t, s: s, token: created.GetToken()}
	tokenAPI.must("GET", "/v1/me", nil, &identityv1.GetMeResponse{})

	// A token mints no tokens.
	code, body := tokenAPI.call("POST", "/v1/apiTokens", &identityv1.CreateApiTokenRequest{DisplayName: "child", Role: identityv1.Role_ROLE_MEMBER}, nil)
	wantError(t, code, body, 403, "PERMISSION_DENIED")
	// A name with a NUL is the client's error, not the server's.
	code, body = adminAPI.call("POST", "/v1/apiTokens", &identityv1.CreateApiTokenRequest{DisplayName: "ci\u0000bot", Role: identityv1.Role_ROLE_MEMBER}, nil)
	wantError(t, code, body, 400, "INVALID_ARGUMENT")
	code, body = ownerAPI.call("PATCH", "/v1/organization?updateMask=displayName", &identityv1.Organization{DisplayName: "ci\u0000bot"}, nil)
	wantError(t, code, body, 400, "INVALID_ARGUMENT")

	// Demoting the creator ends their Admin token.
	setRole(identityv1.Role_ROLE_MEMBER)
	code, body = tokenAPI.call("GET", "/v1/me", nil, nil)
	wantError(t, code, body, 401, "UNAUTHENTICATED")
}
