package e2e

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/poll"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
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
