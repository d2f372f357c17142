package signin_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

const (
	adele = providersim.DemoContosoUser  // Contoso lets users consent
	megan = providersim.DemoContosoAdmin // Contoso's admin
	diego = providersim.DemoFabrikamUser // Fabrikam: admins only
	alex  = providersim.DemoFabrikamAdmin
	lynne = providersim.DemoNorthwindUser // Northwind: admins only, with the approval workflow
)

func TestBeginValidates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	br := e.browser()

	for name, h := range map[string][]byte{"none": nil, "short": br.binding[:31], "long": append(slices.Clone(br.binding), 0)} {
		_, err := e.flows.Begin(ctx, signin.BeginRequest{Flow: signin.FlowSignIn, BindingHash: h})
		wantKind(t, name+" binding hash", err, apperr.ErrInvalidArgument, "browser_binding_hash")
	}
	for _, flow := range []string{"", signin.FlowMailbox, "lever", "admin_confirm", "other"} {
		_, err := e.flows.Begin(ctx, signin.BeginRequest{Flow: flow, BindingHash: br.binding})
		wantKind(t, "flow "+flow+" without a ticket", err, apperr.ErrInvalidArgument, "flow")
	}
	_, err := e.flows.Begin(ctx, signin.BeginRequest{Ticket: "made-up", BindingHash: br.binding})
	wantKind(t, "an unknown ticket", err, apperr.ErrInvalidArgument, "ticket")

	// A ticket starts the flow it was made for, for its user, once.
	start, err := e.flows.NewTicket(ctx, signin.FlowMailbox, "org-1", "user-1", adele)
	if err != nil {
		t.Fatal(err)
	}
	su, err := url.Parse(start)
	if err != nil || !strings.HasPrefix(start, publicURL+"/oauth/microsoft/start?") {
		t.Fatalf("start URL %q: %v", start, err)
	}
	ticket := su.Query().Get("ticket")
	authorize := br.begin(signin.BeginRequest{Ticket: ticket})
	q := mustQuery(t, authorize)
	if q.Get("login_hint") != adele || !strings.Contains(q.Get("scope"), "Mail.Send") {
		t.Fatalf("a mailbox ticket's authorize URL: %s", authorize)
	}
	_, err = e.flows.Begin(ctx, signin.BeginRequest{Ticket: ticket, BindingHash: br.binding})
	wantKind(t, "a used ticket", err, apperr.ErrInvalidArgument, "ticket")

	// A ticket for a flow identity does not run starts nothing.
	start, err = e.flows.NewTicket(ctx, "greenhouse", "org-1", "user-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if su, err = url.Parse(start); err != nil {
		t.Fatal(err)
	}
	_, err = e.flows.Begin(ctx, signin.BeginRequest{Ticket: su.Query().Get("ticket"), BindingHash: br.binding})
	wantKind(t, "a ticket of an unknown flow", err, apperr.ErrInvalidArgument, "ticket")
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func TestBeginSendsTheBrowserToMicrosoft(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	br := e.browser()

	signIn := br.begin(signin.BeginRequest{Flow: signin.FlowSignIn, LoginHint: adele})
	if !strings.HasPrefix(signIn, e.sim.MicrosoftURL()+"/organizations/oauth2/v2.0/authorize?") {
		t.Fatalf("sign-in URL: %s", signIn)
	}
	q := mustQuery(t, signIn)
	for k, want := range map[string]string{
		"client_id": providersim.DefaultClientID, "response_type": "code", "response_mode": "query",
		"redirect_uri": publicURL + "/oauth/microsoft/callback", "code_challenge_method": "S256", "login_hint": adele,
		"scope": strings.Join(signin.SignInScopes, " "),
	} {
		if q.Get(k) != want {
			t.Errorf("sign-in URL %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if len(q.Get("state")) < 40 || len(q.Get("nonce")) < 30 || len(q.Get("code_challenge")) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		t.Errorf("state, nonce or challenge too short: %s", signIn)
	}
	again := mustQuery(t, br.begin(signin.BeginRequest{Flow: signin.FlowSignIn}))
	if again.Get("state") == q.Get("state") || again.Get("nonce") == q.Get("nonce") || again.Get("code_challenge") == q.Get("code_challenge") {
		t.Error("two flows share a state, nonce or PKCE challenge")
	}

	consent := br.begin(signin.BeginRequest{Flow: signin.FlowAdminConsent})
	if !strings.HasPrefix(consent, e.sim.MicrosoftURL()+"/organizations/v2.0/adminconsent?") {
		t.Fatalf("admin consent URL: %s", consent)
	}
	if q := mustQuery(t, consent); q.Get("redirect_uri") != publicURL+"/oauth/microsoft/adminconsent/callback" || q.Get("state") == "" {
		t.Fatalf("admin consent URL: %s", consent)
	}
}

func TestCompleteRefusesBadStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	br := e.browser()
	state := func(flow string) string {
		return mustQuery(t, br.begin(signin.BeginRequest{Flow: flow})).Get("state")
	}

	_, err := e.flows.Complete(ctx, signin.CompleteRequest{Callback: "authorize", Code: "c", BindingHash: br.binding})
	wantKind(t, "no state", err, apperr.ErrInvalidArgument, "state")
	_, err = e.flows.Complete(ctx, signin.CompleteRequest{Callback: "authorize", State: "made-up", Code: "c", BindingHash: br.binding})
	wantKind(t, "an unknown state", err, apperr.ErrInvalidArgument, "state")

	// Another browser cannot use it, and the attempt uses it up.
	s := state(signin.FlowSignIn)
	_, err = e.flows.Complete(ctx, signin.CompleteRequest{Callback: "authorize", State: s, Code: "c", BindingHash: newBinding(t)})
	wantKind(t, "another browser's binding", err, apperr.ErrPermissionDenied, "")
	_, err = e.flows.Complete(ctx, signin.CompleteRequest{Callback: "authorize", State: s, Code: "c", BindingHash: br.binding})
	wantKind(t, "the owner after another browser tried", err, apperr.ErrInvalidArgument, "state")

	s = state(signin.FlowSignIn)
	_, err = e.flows.Complete(ctx, signin.CompleteRequest{Callback: "authorize", State: s, Code: "c"})
	wantKind(t, "no binding", err, apperr.ErrPermissionDenied, "")

	// Each state belongs to one callback.
	s = state(signin.FlowSignIn)
	_, err = e.flows.Complete(ctx, signin.CompleteRequest{Callback: "admin_consent", State: s, Tenant: "t", BindingHash: br.binding})
	wantKind(t, "a sign-in state on the admin-consent callback", err, apperr.ErrInvalidArgument, "state")
	s = state(signin.FlowAdminConsent)
	_, err = e.flows.Complete(ctx, signin.CompleteRequest{Callback: "authorize", State: s, Code: "c", BindingHash: br.binding})
	wantKind(t, "an admin-consent state on the sign-in callback", err, apperr.ErrInvalidArgument, "state")

	s = state(signin.FlowSignIn)
	_, err = e.flows.Complete(ctx, signin.CompleteRequest{Callback: "authorize", State: s, BindingHash: br.binding})
	wantKind(t, "neither code nor error", err, apperr.ErrInvalidArgument, "code")

	if n := e.counter("microsoft.token"); n != 0 {
		t.Fatalf("refused callbacks reached the token endpoint %d times", n)
	}
}

func TestSignInThroughTheSimulator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	br := e.browser()

	p := br.walk(br.begin(signin.BeginRequest{Flow: signin.FlowSignIn}), who{email: adele})
	cb := br.callback(p)
	frontend := br.complete(cb)
	res := e.result(frontend)
	if res.Outcome != signin.OutcomeSignedIn || res.OrgID == "" || res.UserID == "" || res.Message == "" {
		t.Fatalf("result: %+v", res)
	}
	u, err := e.store.User(ctx, res.OrgID, res.UserID)
	if err != nil || u.Email != adele || u.Role != authz.RoleSuperAdmin {
		t.Fatalf("signed-in user: %+v, %v", u, err)
	}
	tenant, err := e.ctl.Tenant(ctx, providersim.DemoContosoDomain)
	if err != nil {
		t.Fatal(err)
	}
	org, err := e.store.Organization(ctx, res.OrgID)
	if err != nil || org.MicrosoftTenantID != tenant.ID || org.DisplayName != providersim.DemoContosoDomain {
		t.Fatalf("organization: %+v, %v (tenant %s)", org, err, tenant.ID)
	}

	// The login code and the callback are single use.
	code := mustQuery(t, frontend).Get("code")
	_, err = e.flows.TakeLoginCode(ctx, code, e.verifier(code))
	wantKind(t, "a used login code", err, apperr.ErrInvalidArgument, "code")
	_, err = e.flows.TakeLoginCode(ctx, "", "")
	wantKind(t, "no login code", err, apperr.ErrInvalidArgument, "code")
	_, err = e.flows.Complete(ctx, cb)
	wantKind(t, "a replayed callback", err, apperr.ErrInvalidArgument, "state")

	// Megan joins Adele's organization with the default role.
	again := e.signIn(e.browser(), who{email: megan})
	if again.Outcome != signin.OutcomeSignedIn || again.OrgID != res.OrgID || again.UserID == res.UserID {
		t.Fatalf("second person: %+v", again)
	}
}

func TestCodeOfAnotherFlowFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	a, b := e.browser(), e.browser()
	cbA := a.callback(a.walk(a.begin(signin.BeginRequest{Flow: signin.FlowSignIn}), who{email: adele}))
	cbB := b.callback(b.walk(b.begin(signin.BeginRequest{Flow: signin.FlowSignIn}), who{email: adele}))

	// B's code arrives with A's state: the token endpoint wants A's PKCE
	// verifier for it, and refuses.
	cbA.Code = cbB.Code
	before := e.counter("microsoft.token.error/invalid_grant")
	res := e.result(a.complete(cbA))
	if res.Outcome != signin.OutcomeFailed || res.UserID != "" || res.Message == "" {
		t.Fatalf("swapped code: %+v", res)
	}
	if after := e.counter("microsoft.token.error/invalid_grant"); after != before+1 {
		t.Fatalf("the token endpoint should have refused the code once: %d refusals", after-before)
	}
	if _, err := e.store.OrganizationByTenant(ctx, mustTenant(t, e, providersim.DemoContosoDomain)); err == nil {
		t.Fatal("a failed sign-in created the organization")
	}
}

func TestIDTokenWithAnotherNonceFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	br := e.browser()
	authorize, err := url.Parse(br.begin(signin.BeginRequest{Flow: signin.FlowSignIn}))
	if err != nil {
		t.Fatal(err)
	}
	// The browser (or an attacker) changes the nonce on the way to Microsoft.
	q := authorize.Query()
	q.Set("nonce", "another-nonce")
	authorize.RawQuery = q.Encode()
	cb := br.callback(br.walk(authorize.String(), who{email: adele}))

	issued := e.counter("microsoft.token.authorization_code.issued")
	res := e.result(br.complete(cb))
	if res.Outcome != signin.OutcomeFailed || res.UserID != "" {
		t.Fatalf("wrong nonce: %+v", res)
	}
	// The code was redeemed; the ID token was refused after it.
	if n := e.counter("microsoft.token.authorization_code.issued"); n != issued+1 {
		t.Fatalf("the code should have been redeemed once, got %d", n-issued)
	}
	if _, err := e.store.OrganizationByTenant(t.Context(), mustTenant(t, e, providersim.DemoContosoDomain)); err == nil {
		t.Fatal("a sign-in with the wrong nonce created the organization")
	}
}

func mustTenant(t *testing.T, e *env, domain string) string {
	t.Helper()
	tn, err := e.ctl.Tenant(t.Context(), domain)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func TestAdminApprovalRequired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		who  string
		page string
		code string
	}{
		{diego, "admin-approval-needed", "AADSTS90094"},
		{lynne, "approval-required", "AADSTS90095"},
	} {
		br := e.browser()
		p := br.walk(br.begin(signin.BeginRequest{Flow: signin.FlowSignIn}), who{email: tc.who})
		if p.Name != tc.page {
			t.Fatalf("%s: want the %s page, got %q", tc.who, tc.page, p.Name)
		}
		p, err := br.b.Follow(t.Context(), p, "return-to-app")
		if err != nil {
			t.Fatal(err)
		}
		cb := br.callback(p)
		if !strings.Contains(cb.ErrorDescription, tc.code) {
			t.Fatalf("%s: the simulator returned %q", tc.who, cb.ErrorDescription)
		}
		res := e.result(br.complete(cb))
		if res.Outcome != signin.OutcomeAdminApprovalRequired || res.AdminConsentURL != e.flows.Config().AdminConsentLink() || res.Message == "" {
			t.Fatalf("%s: %+v", tc.who, res)
		}
		if res.AdminConsentURL != publicURL+"/oauth/microsoft/start?flow=admin_consent" {
			t.Fatalf("admin link %q", res.AdminConsentURL)
		}
	}
}

func TestDeclinedConsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// A person cancels the consent page of a sign-in.
	br := e.browser()
	cb := br.callback(br.walk(br.begin(signin.BeginRequest{Flow: signin.FlowSignIn}), who{email: adele, declineConsent: true}))
	if cb.Error != "access_denied" || !strings.Contains(cb.ErrorDescription, "AADSTS65004") {
		t.Fatalf("callback: %+v", cb)
	}
	if res := e.result(br.complete(cb)); res.Outcome != signin.OutcomeDeclined {
		t.Fatalf("declined sign-in: %+v", res)
	}

	// An admin cancels an admin consent.
	admin := e.browser()
	cb = admin.callback(admin.walk(admin.begin(signin.BeginRequest{Flow: signin.FlowAdminConsent}), who{email: alex, declineConsent: true}))
	if cb.Callback != "admin_consent" || !strings.Contains(cb.ErrorDescription, "AADSTS65004") {
		t.Fatalf("callback: %+v", cb)
	}
	if res := e.result(admin.complete(cb)); res.Outcome != signin.OutcomeDeclined {
		t.Fatalf("declined admin consent: %+v", res)
	}

	// Any other error is a failure, whatever its text.
	other := e.browser()
	s := mustQuery(t, other.begin(signin.BeginRequest{Flow: signin.FlowSignIn})).Get("state")
	res := e.result(other.complete(signin.CompleteRequest{Callback: "authorize", State: s, BindingHash: other.binding,
		Error: "server_error", ErrorDescription: "AADSTS50000: There was an error issuing a token. <script>"}))
	if res.Outcome != signin.OutcomeFailed || strings.Contains(res.Message, "AADSTS") || strings.Contains(res.Message, "script") {
		t.Fatalf("other error: %+v", res)
	}
}

func TestAdminConsentIsConfirmedBySignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	fabrikam := mustTenant(t, e, providersim.DemoFabrikamDomain)

	admin := e.browser()
	cb := admin.callback(admin.walk(admin.begin(signin.BeginRequest{Flow: signin.FlowAdminConsent}), who{email: alex}))
	if cb.Callback != "admin_consent" || cb.Tenant != fabrikam || cb.Error != "" {
		t.Fatalf("admin consent callback: %+v", cb)
	}
	// The callback's tenant is not trusted: the admin signs in to confirm it.
	confirm := admin.complete(cb)
	if !strings.HasPrefix(confirm, e.sim.MicrosoftURL()+"/organizations/oauth2/v2.0/authorize?") {
		t.Fatalf("after admin consent, want a confirming sign-in, got %s", confirm)
	}
	res := e.result(admin.complete(admin.callback(admin.walk(confirm, who{email: alex}))))
	if res.Outcome != signin.OutcomeAdminConsentGranted || res.UserID == "" {
		t.Fatalf("confirmed admin consent: %+v", res)
	}
	org, err := e.store.Organization(ctx, res.OrgID)
	if err != nil || org.MicrosoftTenantID != fabrikam || org.AdminConsentAt == nil {
		t.Fatalf("organization after admin consent: %+v, %v", org, err)
	}

	// Now Diego can sign in.
	if res := e.signIn(e.browser(), who{email: diego}); res.Outcome != signin.OutcomeSignedIn || res.OrgID != org.ID {
		t.Fatalf("a user after admin consent: %+v", res)
	}

	// A callback claiming another tenant than the one the admin signs in to
	// confirms nothing.
	forged := e.browser()
	s := mustQuery(t, forged.begin(signin.BeginRequest{Flow: signin.FlowAdminConsent})).Get("state")
	confirm = forged.complete(signin.CompleteRequest{Callback: "admin_consent", State: s, Tenant: mustTenant(t, e, providersim.DemoContosoDomain), BindingHash: forged.binding})
	res = e.result(forged.complete(forged.callback(forged.walk(confirm, who{email: alex}))))
	if res.Outcome != signin.OutcomeFailed {
		t.Fatalf("admin consent for another tenant: %+v", res)
	}
	if _, err := e.store.OrganizationByTenant(ctx, mustTenant(t, e, providersim.DemoContosoDomain)); err == nil {
		t.Fatal("a forged admin consent created the claimed tenant's organization")
	}

	// A user who is no administrator cannot confirm a forged callback for
	// their own tenant, even where users may consent for themselves.
	user := e.browser()
	s = mustQuery(t, user.begin(signin.BeginRequest{Flow: signin.FlowAdminConsent})).Get("state")
	confirm = user.complete(signin.CompleteRequest{Callback: "admin_consent", State: s, Tenant: mustTenant(t, e, providersim.DemoContosoDomain), BindingHash: user.binding})
	res = e.result(user.complete(user.callback(user.walk(confirm, who{email: adele}))))
	if res.Outcome != signin.OutcomeFailed || !strings.Contains(res.Message, "administrator") {
		t.Fatalf("admin consent confirmed by a user: %+v", res)
	}
	if _, err := e.store.OrganizationByTenant(ctx, mustTenant(t, e, providersim.DemoContosoDomain)); err == nil {
		t.Fatal("a non-admin's admin-consent confirmation created an organization")
	}
}

func TestMailboxConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	br := e.browser()
	signedIn := e.signIn(br, who{email: adele})
	user, err := e.store.User(ctx, signedIn.OrgID, signedIn.UserID)
	if err != nil {
		t.Fatal(err)
	}
	mailbox := func(b *browser) string {
		t.Helper()
		start, err := e.flows.NewTicket(ctx, signin.FlowMailbox, user.OrgID, user.ID, user.Email)
		if err != nil {
			t.Fatal(err)
		}
		return b.begin(signin.BeginRequest{Ticket: mustQuery(t, start).Get("ticket")})
	}

	// Another account than the signed-in one is refused.
	other := e.browser()
	res := e.result(other.complete(other.callback(other.walk(mailbox(other), who{email: megan}))))
	if res.Outcome != signin.OutcomeFailed {
		t.Fatalf("another account's mailbox: %+v", res)
	}
	if _, err := e.store.PersonalConnection(ctx, user.OrgID, user.ID, store.ProviderMicrosoftMailbox); err == nil {
		t.Fatal("connecting another account's mailbox left a connection")
	}

	res = e.result(br.complete(br.callback(br.walk(mailbox(br), who{email: adele}))))
	if res.Outcome != signin.OutcomeMailboxConnected || res.ConnectionID == "" || res.UserID != user.ID {
		t.Fatalf("mailbox: %+v", res)
	}
	conn, err := e.store.Connection(ctx, user.OrgID, res.ConnectionID)
	if err != nil || conn.Status != store.StatusConnected || conn.Account != adele || conn.RefreshedAt == nil ||
		!slices.ContainsFunc(conn.Scopes, func(s string) bool { return strings.HasSuffix(s, "Mail.Send") }) {
		t.Fatalf("connection: %+v, %v", conn, err)
	}
	tokens, ok := e.vault.get(conn.ID)
	if !ok || tokens.RefreshToken == "" || tokens.AccessToken == "" || !tokens.ExpiresAt.After(time.Now()) {
		t.Fatalf("the vault should hold the connection's tokens: %v", ok)
	}

	// Starting again and cancelling leaves the working connection alone.
	again := e.browser()
	s := mustQuery(t, mailbox(again)).Get("state")
	res = e.result(again.complete(signin.CompleteRequest{Callback: "authorize", State: s, BindingHash: again.binding,
		Error: "access_denied", ErrorDescription: "AADSTS65004: User declined to consent to access the app."}))
	if res.Outcome != signin.OutcomeDeclined || res.ConnectionID != conn.ID {
		t.Fatalf("declined reconnect: %+v", res)
	}
	if c, err := e.store.Connection(ctx, user.OrgID, conn.ID); err != nil || c.Status != store.StatusConnected {
		t.Fatalf("a declined reconnect broke the working connection: %+v, %v", c, err)
	}
}

func TestMailboxWaitsForAdminApproval(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	// Fabrikam's admin consents to sign-in for everyone, then Diego signs in.
	if res := e.signIn(e.browser(), who{email: alex, consentForOrg: true}); res.Outcome != signin.OutcomeSignedIn {
		t.Fatalf("the admin's sign-in: %+v", res)
	}
	br := e.browser()
	res := e.signIn(br, who{email: diego})
	if res.Outcome != signin.OutcomeSignedIn {
		t.Fatalf("Diego's sign-in: %+v", res)
	}
	start, err := e.flows.NewTicket(ctx, signin.FlowMailbox, res.OrgID, res.UserID, diego)
	if err != nil {
		t.Fatal(err)
	}
	p := br.walk(br.begin(signin.BeginRequest{Ticket: mustQuery(t, start).Get("ticket")}), who{email: diego})
	if p.Name != "admin-approval-needed" {
		t.Fatalf("want the Need admin approval page, got %q", p.Name)
	}
	if p, err = br.b.Follow(ctx, p, "return-to-app"); err != nil {
		t.Fatal(err)
	}
	res = e.result(br.complete(br.callback(p)))
	if res.Outcome != signin.OutcomeAdminApprovalRequired || res.ConnectionID == "" || res.AdminConsentURL == "" {
		t.Fatalf("mailbox without approval: %+v", res)
	}
	conn, err := e.store.Connection(ctx, res.OrgID, res.ConnectionID)
	if err != nil || conn.Status != store.StatusAwaitingAdminApproval || conn.AdminConsentURL != res.AdminConsentURL || conn.Reason == "" {
		t.Fatalf("connection awaiting approval: %+v, %v", conn, err)
	}
}

func TestRemovedUserCannotSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	owner := e.signIn(e.browser(), who{email: adele})
	gone := e.signIn(e.browser(), who{email: megan})
	if _, err := e.store.RemoveUser(ctx, owner.OrgID, gone.UserID, time.Now(), func(store.User) error { return nil }); err != nil {
		t.Fatal(err)
	}
	res := e.signIn(e.browser(), who{email: megan})
	if res.Outcome != signin.OutcomeFailed || res.UserID != "" || !strings.Contains(res.Message, "removed") {
		t.Fatalf("removed user's sign-in: %+v", res)
	}
}

// Redirect URIs match exactly: a variant of the registered one (another
// case, a trailing slash, another port or scheme, 127.0.0.1 for localhost)
// is refused by Microsoft with AADSTS50011 on its own error page, never with
// a redirect that could carry a code somewhere else.
func TestRedirectURIVariantsAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, public := range []string{"http://LOCALHOST:8080", "http://localhost:8080/", "http://localhost:8081", "https://localhost:8080", "http://127.0.0.1:8080"} {
		flows := e.with(signin.Config{Authority: e.sim.MicrosoftURL(), Tenant: "organizations", ClientID: providersim.DefaultClientID,
			PublicURL: public, FrontendURL: frontendURL})
		br := e.browser()
		authorize, err := flows.Begin(t.Context(), signin.BeginRequest{Flow: signin.FlowSignIn, BindingHash: br.binding})
		if err != nil {
			t.Fatal(err)
		}
		p := br.walk(authorize, who{email: adele})
		if p.Redirect != nil || p.Name != "error" || p.ErrorCode != "AADSTS50011" {
			t.Fatalf("%s: want Microsoft's AADSTS50011 error page and no redirect, got page %q code %q redirect %v", public, p.Name, p.ErrorCode, p.Redirect)
		}
	}
}
