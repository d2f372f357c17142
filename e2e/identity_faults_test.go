package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// A Redis that loses identity's keys lets no ended session back in: a
// signed-out session's access token and a demoted Admin's old token stay
// refused while the revocation set is gone (verifiers ask Postgres) and
// after identity has written it again (issue 16, item 1).
func TestFaults_RevocationsSurviveRedisLoss(t *testing.T) {
	// A slow restore keeps the set missing for a while after the loss, so
	// the calls below meet the durable path, not a set already rewritten.
	s := stack.Start(t, binDir, stack.Options{Env: []string{"TANDEM_REVOCATION_RESTORE_EVERY=20s"}})
	_, ownerAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	admin, _ := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	setRole := func(role identityv1.Role) {
		t.Helper()
		ownerAPI.must("PATCH", "/v1/users/"+admin.GetUser().GetId()+"?updateMask=role", &identityv1.User{Role: role}, &identityv1.UpdateUserResponse{})
	}
	setRole(identityv1.Role_ROLE_ADMIN)
	_, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin}) // an Admin's session
	setRole(identityv1.Role_ROLE_MEMBER)
	_, outAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
	outAPI.must("POST", "/v1/sessions:signOut", &identityv1.SignOutRequest{}, &identityv1.SignOutResponse{})

	rename := &identityv1.Organization{DisplayName: "Taken over"}
	refused := func(when string) {
		t.Helper()
		code, body := outAPI.call("GET", "/v1/me", nil, nil)
		if code != http.StatusUnauthorized {
			t.Fatalf("%s: a signed-out session's token answered %d %s, want 401", when, code, body)
		}
		code, body = adminAPI.call("PATCH", "/v1/organization?updateMask=displayName", rename, nil)
		if code != http.StatusUnauthorized {
			t.Fatalf("%s: a demoted Admin's old token renaming the organization answered %d %s, want 401", when, code, body)
		}
		ownerAPI.must("GET", "/v1/me", nil, &identityv1.GetMeResponse{})
	}
	refused("before the loss")

	marker := authz.RevocationSetKeys(s.RedisPrefix).Key("complete")
	if n := s.LoseRedis(t.Context()); n == 0 {
		t.Fatal("the stack had no Redis keys to lose")
	}
	refused("with the revocation set lost")
	if n, err := s.Redis().Exists(t.Context(), marker).Result(); err == nil && n == 0 {
		t.Log("the calls above were checked against Postgres: the set was still missing")
	}

	// Identity writes the set back from Postgres, and Redis alone refuses
	// the same tokens again.
	poll.Until(t, 60*time.Second, func() error {
		n, err := s.Redis().Exists(t.Context(), marker).Result()
		if err != nil || n == 0 {
			return errors.New("identity has not restored the revocation set yet")
		}
		return nil
	})
	refused("after the set was restored")
	org := &identityv1.GetOrganizationResponse{}
	ownerAPI.must("GET", "/v1/organization", nil, org)
	if org.GetOrganization().GetDisplayName() == rename.GetDisplayName() {
		t.Fatal("a demoted Admin's old token renamed the organization")
	}
}

// With Postgres accepting connections and never answering, a request ends
// within its deadline as 503 or 504, through the gateway (its request
// timeout) and straight to the service with no deadline of the client's
// (the server's maximum); once Postgres answers again, so does identity
// (issue 16, item 5).
func TestFaults_HungPostgresAnswersWithinTheDeadline(t *testing.T) {
	pg, err := url.Parse(pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := stack.NewFaultProxy(t, pg.Host)
	const requestTimeout, maxDeadline = 2 * time.Second, 3 * time.Second
	s := stack.Start(t, binDir, stack.Options{
		Env:         []string{"TANDEM_HTTP_REQUEST_TIMEOUT=" + requestTimeout.String(), "TANDEM_GRPC_MAX_DEADLINE=" + maxDeadline.String()},
		PostgresVia: map[string]string{"identity": proxy.Addr()},
	})
	res, ownerAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
	ownerAPI.must("GET", "/v1/me", nil, &identityv1.GetMeResponse{})

	proxy.Hang(2 * time.Minute)
	// The margin covers process scheduling on a busy machine; without the
	// deadlines the calls below would wait for the client's 30 s and 20 s.
	const margin = 3 * time.Second
	start := time.Now()
	code, body := ownerAPI.call("GET", "/v1/me", nil, nil)
	took := time.Since(start)
	if code != http.StatusServiceUnavailable && code != http.StatusGatewayTimeout {
		t.Fatalf("GET /v1/me with Postgres hung: %d %s, want 503 or 504", code, body)
	}
	if took > requestTimeout+margin {
		t.Fatalf("GET /v1/me with Postgres hung took %v, want about the %v request timeout", took, requestTimeout)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+res.GetSession().GetAccessToken())
	start = time.Now()
	_, err = identityClient(t, s, "identity").GetMe(ctx, &identityv1.GetMeRequest{})
	took = time.Since(start)
	if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.Unavailable {
		t.Fatalf("GetMe over gRPC with Postgres hung: %v, want DeadlineExceeded or Unavailable", err)
	}
	if took > maxDeadline+margin {
		t.Fatalf("GetMe over gRPC with no deadline took %v, want about identity's %v maximum", took, maxDeadline)
	}

	proxy.Resume()
	poll.Until(t, 30*time.Second, func() error {
		if code, body := ownerAPI.call("GET", "/v1/me", nil, nil); code != http.StatusOK {
			return fmt.Errorf("GET /v1/me after Postgres came back: %d %s", code, body)
		}
		return nil
	})
}

// After Microsoft answers a token refresh 429 with Retry-After: 60, the
// calls that follow on both identity replicas do not reach its token
// endpoint again within the pause, and the connection's valid token is
// still served (issue 16, item 7).
func TestFaults_RetryAfterHoldsAcrossCalls(t *testing.T) {
	// 10-second tokens, refreshed from 7 seconds before they expire: a
	// token falls due 3 seconds after it was issued and stays valid for 7
	// more, long enough for the calls below.
	s := stack.Start(t, binDir, stack.Options{IdentityReplicas: 1, Env: []string{"TANDEM_VAULT_REFRESH_BEFORE=7s"}})
	ctl := sim(t, s)
	if err := ctl.SetLifetimes(t.Context(), simclient.Lifetimes{AccessTokenSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	_, conn := connectedMailbox(t, s, contosoUser)
	replicas := []identityv1.IdentityServiceClient{identityClient(t, s, "identity"), identityClient(t, s, "identity-2")}
	ctx := asService(t.Context(), s)
	req := &identityv1.GetAccessTokenRequest{ConnectionId: conn.GetId()}
	first, err := replicas[0].GetAccessToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.AddFault(t.Context(), simclient.Fault{Endpoint: "microsoft.token", Status: http.StatusTooManyRequests, RetryAfter: "60"}); err != nil {
		t.Fatal(err)
	}
	before, err := ctl.Counter(t.Context(), "microsoft.token")
	if err != nil {
		t.Fatal(err)
	}
	// Ask until the token falls due and its refresh meets the 429.
	poll.Until(t, 20*time.Second, func() error {
		resp, err := replicas[0].GetAccessToken(ctx, req)
		if err != nil || resp.GetAccessToken() != first.GetAccessToken() {
			t.Fatalf("while the refresh is refused the valid token is served: %v", err)
		}
		if n, err := ctl.Counter(ctx, "microsoft.token"); err != nil || n == before {
			return errors.New("no refresh has reached Microsoft yet")
		}
		return nil
	})
	refused, err := ctl.Counter(t.Context(), "microsoft.token")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		resp, err := replicas[i%2].GetAccessToken(ctx, req)
		if err != nil || resp.GetAccessToken() != first.GetAccessToken() {
			t.Fatalf("call %d within the pause: %v, want the valid token", i+1, err)
		}
	}
	after, err := ctl.Counter(t.Context(), "microsoft.token")
	if err != nil {
		t.Fatal(err)
	}
	if after != refused || refused-before != 1 {
		t.Fatalf("Microsoft's token endpoint saw %d requests after its 429 (and %d before the calls), want none and one", after-refused, refused-before)
	}
}
