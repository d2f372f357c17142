package signin_test

import (
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
)

// A user's address is mail (the email claim, or Graph's mail when the ID
// token has none), never the UPN they sign in with.
func TestSignInTakesTheAddressNotTheUPN(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	// The demo user's ID token has no email claim; their mail is not their UPN.
	res := e.signIn(e.browser(), who{email: providersim.DemoContosoAlias})
	if res.Outcome != signin.OutcomeSignedIn {
		t.Fatalf("result: %+v", res)
	}
	u, err := e.store.User(ctx, res.OrgID, res.UserID)
	if err != nil || u.Email != providersim.DemoContosoAliasMail {
		t.Fatalf("user %+v, %v: want the address %s, not the UPN", u, err, providersim.DemoContosoAliasMail)
	}

	// With an email claim, it is the address.
	if _, err := e.ctl.CreateUser(ctx, providersim.DemoContosoDomain, simclient.User{
		DisplayName: "Sam Rivera", UserPrincipalName: "srivera@contoso.example", Mail: "sam.rivera@contoso.example",
	}); err != nil {
		t.Fatal(err)
	}
	res = e.signIn(e.browser(), who{email: "srivera@contoso.example"})
	if u, err := e.store.User(ctx, res.OrgID, res.UserID); err != nil || u.Email != "sam.rivera@contoso.example" {
		t.Fatalf("user %+v, %v", u, err)
	}

	// When Graph cannot say, the sign-in fails rather than take the UPN.
	if _, err := e.ctl.CreateUser(ctx, providersim.DemoContosoDomain, simclient.User{
		DisplayName: "Kim Lee", UserPrincipalName: "klee@contoso.example", Mail: "kim.lee@contoso.example", OmitEmailClaim: true,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctl.AddFault(ctx, simclient.Fault{Endpoint: "graph.getUser", Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if res := e.signIn(e.browser(), who{email: "klee@contoso.example"}); res.Outcome != signin.OutcomeFailed || res.UserID != "" {
		t.Fatalf("sign-in while Graph fails: %+v", res)
	}
	res = e.signIn(e.browser(), who{email: "klee@contoso.example"})
	if u, err := e.store.User(ctx, res.OrgID, res.UserID); err != nil || u.Email != "kim.lee@contoso.example" {
		t.Fatalf("after Graph recovers: %+v, %v", u, err)
	}
}
