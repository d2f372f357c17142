package e2e

import (
	"net/http"
	"testing"

	"github.com/tandemhq/tandem/e2e/stack"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

const (
	contosoAdmin   = "megan.bowen@contoso.example"
	contosoUser    = "adele.vance@contoso.example"
	fabrikamAdmin  = "alex.wilber@fabrikam.example"
	fabrikamUser   = "diego.siciliani@fabrikam.example"
	northwindAdmin = "isaiah.langer@northwind.example"
	northwindUser  = "lynne.robbins@northwind.example"
)

// ID-1: a new tenant creates an organization whose first user is its Super
// Admin; signing in again finds the same user; a second user joins with the
// default role.
func TestScenario_ID_1(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	first, firstAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
	if first.GetUser().GetRole() != identityv1.Role_ROLE_SUPER_ADMIN {
		t.Fatalf("first user should be Super Admin: %v", first.GetUser())
	}
	again, _ := signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
	if again.GetUser().GetId() != first.GetUser().GetId() || again.GetOrganization().GetId() != first.GetOrganization().GetId() {
		t.Fatalf("signing in again should find the same user: %v vs %v", again.GetUser(), first.GetUser())
	}
	second, secondAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	if second.GetOrganization().GetId() != first.GetOrganization().GetId() {
		t.Fatal("a second user of the tenant should join the same organization")
	}
	if second.GetUser().GetRole() != first.GetOrganization().GetDefaultRole() || second.GetUser().GetRole() != identityv1.Role_ROLE_RECRUITER {
		t.Fatalf("second user should have the default role, got %v", second.GetUser().GetRole())
	}
	me := &identityv1.GetMeResponse{}
	secondAPI.must("GET", "/v1/me", nil, me)
	if me.GetUser().GetEmail() != contosoAdmin {
		t.Fatalf("GET /v1/me: %v", me)
	}
	users := &identityv1.ListUsersResponse{}
	firstAPI.must("GET", "/v1/users", nil, users)
	if len(users.GetUsers()) != 2 {
		t.Fatalf("want 2 users, got %v", users.GetUsers())
	}
}

// ID-2: where only admins may consent, a non-admin's sign-up ends with
// admin_approval_required and a link for the IT admin; once the admin
// approves, the same user's retry succeeds, and nothing is created twice.
func TestScenario_ID_2(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})

	t.Run("need admin approval, admin consents through the link", func(t *testing.T) {
		br := newBrowser(t, s)
		p := br.signIn(as{email: fabrikamUser})
		if p.Name != "admin-approval-needed" {
			t.Fatalf("want the Need admin approval page, got %q", p.Name)
		}
		p, err := br.b.Follow(br.ctx(), p, "return-to-app")
		if err != nil {
			t.Fatal(err)
		}
		res := exchange(t, br, loginCode(t, br.follow(p)))
		if res.GetOutcome() != "admin_approval_required" || res.GetAdminConsentUrl() == "" || res.GetSession() != nil {
			t.Fatalf("want admin_approval_required with a link and no session, got %v", res)
		}
		if res.GetMessage() == "" || res.GetUser() != nil {
			t.Fatalf("want a message and no user: %v", res)
		}

		// The IT admin opens the forwarded link in their own browser.
		admin := newBrowser(t, s)
		done := admin.walk(admin.open(res.GetAdminConsentUrl()), as{email: fabrikamAdmin})
		granted := exchange(t, admin, loginCode(t, done))
		if granted.GetOutcome() != "admin_consent_granted" || granted.GetOrganization().GetAdminConsentTime() == nil {
			t.Fatalf("admin consent: %v", granted)
		}

		retry, userAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamUser})
		if retry.GetOrganization().GetId() != granted.GetOrganization().GetId() {
			t.Fatal("the user should join the admin's organization")
		}
		again, _ := signedIn(t, s, newBrowser(t, s), as{email: fabrikamUser})
		if again.GetUser().GetId() != retry.GetUser().GetId() {
			t.Fatal("a retry must not create the user twice")
		}
		users := &identityv1.ListUsersResponse{}
		userAPI.must("GET", "/v1/users", nil, users)
		if len(users.GetUsers()) != 2 {
			t.Fatalf("want the admin and the user once each, got %v", users.GetUsers())
		}
	})

	t.Run("approval workflow: request, approve, retry", func(t *testing.T) {
		br := newBrowser(t, s)
		p := br.signIn(as{email: northwindUser})
		if p.Name != "approval-required" {
			t.Fatalf("want the Approval required page, got %q", p.Name)
		}
		p, err := br.b.Submit(br.ctx(), p, map[string][]string{"justification": {"I need Tandem for outreach"}}, "request-approval")
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != "request-sent" || p.Redirect != nil {
			t.Fatalf("want the request-sent page and no redirect, got %q %v", p.Name, p.Redirect)
		}
		reqs, err := sim(t, s).ConsentRequests(t.Context(), "pending")
		if err != nil || len(reqs) != 1 {
			t.Fatalf("want one pending request: %v %v", reqs, err)
		}
		if _, err := sim(t, s).ApproveConsentRequest(t.Context(), reqs[0].ID); err != nil {
			t.Fatal(err)
		}
		res, _ := signedIn(t, s, newBrowser(t, s), as{email: northwindUser})
		if res.GetUser().GetRole() != identityv1.Role_ROLE_SUPER_ADMIN {
			t.Fatalf("the first user of the new organization is its Super Admin: %v", res.GetUser())
		}
	})
}

// ID-3: an admin consents on behalf of the organization; afterwards every
// user signs in without a consent prompt.
func TestScenario_ID_3(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	admin := newBrowser(t, s)
	res := exchange(t, admin, loginCode(t, admin.signIn(as{email: fabrikamAdmin, consentForOrg: true})))
	if res.GetOutcome() != "signed_in" || len(admin.Consents) != 1 {
		t.Fatalf("admin should consent once and sign in: %v, consents %v", res, admin.Consents)
	}
	user := newBrowser(t, s)
	if _, _ = signedIn(t, s, user, as{email: fabrikamUser}); len(user.Consents) != 0 {
		t.Fatalf("a user after org consent saw consent pages: %v", user.Consents)
	}
}

// ID-4: the mailbox is a second, incremental consent with the same admin and
// non-admin paths; on success the mailbox reports connected.
func TestScenario_ID_4(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})

	t.Run("user consent", func(t *testing.T) {
		br := newBrowser(t, s)
		_, userAPI := signedIn(t, s, br, as{email: contosoUser})
		connect := &identityv1.ConnectMailboxResponse{}
		userAPI.must("POST", "/v1/mailboxConnection:connect", &identityv1.ConnectMailboxRequest{}, connect)
		before := len(br.Consents)
		res := exchange(t, br, loginCode(t, br.walk(br.open(connect.GetAuthorizeUrl()), as{email: contosoUser})))
		if res.GetOutcome() != "mailbox_connected" {
			t.Fatalf("want mailbox_connected, got %v", res)
		}
		if len(br.Consents) != before+1 {
			t.Fatalf("the mailbox should ask one more consent, got %v", br.Consents)
		}
		asked := br.Consents[len(br.Consents)-1]
		for _, want := range []string{"Mail.Send", "Mail.ReadWrite"} {
			if !containsScope(asked, want) {
				t.Fatalf("mailbox consent should ask %s: %v", want, asked)
			}
		}
		for _, granted := range []string{"profile", "email", "User.Read"} {
			if containsScope(asked, granted) {
				t.Fatalf("incremental consent asked again for %s: %v", granted, asked)
			}
		}
		conn := &identityv1.GetMailboxConnectionResponse{}
		userAPI.must("GET", "/v1/mailboxConnection", nil, conn)
		if conn.GetConnection().GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED || conn.GetConnection().GetAccount() != contosoUser {
			t.Fatalf("mailbox: %v", conn.GetConnection())
		}
	})

	t.Run("non-admin waits for the admin, then connects", func(t *testing.T) {
		// The admin signs up first (consenting for the organization to sign-in only).
		first := newBrowser(t, s)
		exchange(t, first, loginCode(t, first.signIn(as{email: fabrikamAdmin, consentForOrg: true})))
		br := newBrowser(t, s)
		_, userAPI := signedIn(t, s, br, as{email: fabrikamUser})
		connect := &identityv1.ConnectMailboxResponse{}
		userAPI.must("POST", "/v1/mailboxConnection:connect", &identityv1.ConnectMailboxRequest{}, connect)
		p := br.walk(br.open(connect.GetAuthorizeUrl()), as{email: fabrikamUser})
		if p.Name != "admin-approval-needed" {
			t.Fatalf("want Need admin approval, got %q", p.Name)
		}
		p, err := br.b.Follow(br.ctx(), p, "return-to-app")
		if err != nil {
			t.Fatal(err)
		}
		res := exchange(t, br, loginCode(t, br.follow(p)))
		if res.GetOutcome() != "admin_approval_required" || res.GetConnection().GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_AWAITING_ADMIN_APPROVAL {
			t.Fatalf("want admin_approval_required and a waiting connection, got %v", res)
		}
		conn := &identityv1.GetMailboxConnectionResponse{}
		userAPI.must("GET", "/v1/mailboxConnection", nil, conn)
		if conn.GetConnection().GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_AWAITING_ADMIN_APPROVAL || conn.GetConnection().GetAdminConsentUrl() == "" || conn.GetConnection().GetReason() == "" {
			t.Fatalf("connection should await approval with a reason and the admin link: %v", conn.GetConnection())
		}

		admin := newBrowser(t, s)
		granted := exchange(t, admin, loginCode(t, admin.walk(admin.open(conn.GetConnection().GetAdminConsentUrl()), as{email: fabrikamAdmin})))
		if granted.GetOutcome() != "admin_consent_granted" {
			t.Fatalf("admin consent: %v", granted)
		}
		userAPI.must("POST", "/v1/mailboxConnection:connect", &identityv1.ConnectMailboxRequest{}, connect)
		before := len(br.Consents)
		res = exchange(t, br, loginCode(t, br.walk(br.open(connect.GetAuthorizeUrl()), as{email: fabrikamUser})))
		if res.GetOutcome() != "mailbox_connected" || len(br.Consents) != before {
			t.Fatalf("after admin consent the mailbox connects without a prompt: %v, consents %v", res, br.Consents[before:])
		}
		userAPI.must("GET", "/v1/mailboxConnection", nil, conn)
		if conn.GetConnection().GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED {
			t.Fatalf("mailbox: %v", conn.GetConnection())
		}
	})
}

// ID-6: roles hold, and another organization's objects are NotFound.
func TestScenario_ID_6(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	owner, ownerAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser}) // Super Admin
	recruiter, recruiterAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})

	// Only a Super Admin connects Lever (TestScenario_LV_1 connects it).
	code, body := recruiterAPI.call("POST", "/v1/integrations/lever:connect", &identityv1.ConnectLeverRequest{}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")

	// Admins and Super Admins configure the organization; others cannot.
	rename := &identityv1.Organization{DisplayName: "Contoso Talent"}
	code, body = recruiterAPI.call("PATCH", "/v1/organization?updateMask=displayName", rename, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	code, body = recruiterAPI.call("POST", "/v1/apiTokens", &identityv1.CreateApiTokenRequest{DisplayName: "x", Role: identityv1.Role_ROLE_MEMBER}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	ownerAPI.must("PATCH", "/v1/users/"+recruiter.GetUser().GetId()+"?updateMask=role", &identityv1.User{Role: identityv1.Role_ROLE_ADMIN}, &identityv1.UpdateUserResponse{})
	_, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin}) // the new role is in the new session
	updated := &identityv1.UpdateOrganizationResponse{}
	adminAPI.must("PATCH", "/v1/organization?updateMask=displayName", rename, updated)
	if updated.GetOrganization().GetDisplayName() != "Contoso Talent" {
		t.Fatalf("rename: %v", updated)
	}
	// An Admin cannot touch a Super Admin, and the last Super Admin stays.
	code, body = adminAPI.call("DELETE", "/v1/users/"+owner.GetUser().GetId(), nil, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	code, body = ownerAPI.call("PATCH", "/v1/users/"+owner.GetUser().GetId()+"?updateMask=role", &identityv1.User{Role: identityv1.Role_ROLE_ADMIN}, nil)
	wantError(t, code, body, http.StatusBadRequest, "FAILED_PRECONDITION")

	// Another organization's objects are NotFound.
	token := &identityv1.CreateApiTokenResponse{}
	ownerAPI.must("POST", "/v1/apiTokens", &identityv1.CreateApiTokenRequest{DisplayName: "ci", Role: identityv1.Role_ROLE_RECRUITER}, token)
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	for _, path := range []string{"/v1/users/" + owner.GetUser().GetId(), "/v1/users/" + recruiter.GetUser().GetId()} {
		code, body = otherAPI.call("GET", path, nil, nil)
		wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	}
	code, body = otherAPI.call("POST", "/v1/apiTokens/"+token.GetApiToken().GetId()+":revoke", &identityv1.RevokeApiTokenRequest{}, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	code, body = otherAPI.call("PATCH", "/v1/users/"+recruiter.GetUser().GetId()+"?updateMask=role", &identityv1.User{Role: identityv1.Role_ROLE_MEMBER}, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
}
