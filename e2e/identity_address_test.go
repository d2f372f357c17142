package e2e

import (
	"testing"

	"github.com/tandemhq/tandem/e2e/stack"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim"
)

// ID-1 for the demo user whose address is not their UPN and whose ID token
// has no email claim: the organization is made and found the same way, and
// Tandem knows them by their address (Graph's mail), not the name they sign
// in with.
func TestScenario_ID_1_AddressIsNotTheUPN(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	first, firstAPI := signedIn(t, s, newBrowser(t, s), as{email: providersim.DemoContosoAlias})
	if first.GetUser().GetRole() != identityv1.Role_ROLE_SUPER_ADMIN {
		t.Fatalf("first user should be Super Admin: %v", first.GetUser())
	}
	if got := first.GetUser().GetEmail(); got != providersim.DemoContosoAliasMail {
		t.Fatalf("the user's address is %q, want %s (their UPN is %s)", got, providersim.DemoContosoAliasMail, providersim.DemoContosoAlias)
	}
	again, _ := signedIn(t, s, newBrowser(t, s), as{email: providersim.DemoContosoAlias})
	if again.GetUser().GetId() != first.GetUser().GetId() || again.GetOrganization().GetId() != first.GetOrganization().GetId() {
		t.Fatalf("signing in again should find the same user: %v vs %v", again.GetUser(), first.GetUser())
	}
	second, _ := signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
	if second.GetOrganization().GetId() != first.GetOrganization().GetId() || second.GetUser().GetRole() != identityv1.Role_ROLE_RECRUITER {
		t.Fatalf("a second user of the tenant should join with the default role: %v", second.GetUser())
	}
	me := &identityv1.GetMeResponse{}
	firstAPI.must("GET", "/v1/me", nil, me)
	if me.GetUser().GetEmail() != providersim.DemoContosoAliasMail {
		t.Fatalf("GET /v1/me: %v", me)
	}
	users := &identityv1.ListUsersResponse{}
	firstAPI.must("GET", "/v1/users", nil, users)
	emails := map[string]bool{}
	for _, u := range users.GetUsers() {
		emails[u.GetEmail()] = true
	}
	if len(users.GetUsers()) != 2 || !emails[providersim.DemoContosoAliasMail] || !emails[contosoUser] || emails[providersim.DemoContosoAlias] {
		t.Fatalf("users %v", users.GetUsers())
	}
}
