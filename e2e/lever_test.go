package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/tandemhq/tandem/e2e/stack"
	"github.com/tandemhq/tandem/platform/poll"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// leverBrowser is a browser for Lever's authorization server: the same
// walk through sign-in and consent pages as at Microsoft, with its own
// cookie jar for the gateway and Lever.
func leverBrowser(t testing.TB, s *stack.Stack) *browser {
	t.Helper()
	b, err := simbrowser.New(s.LeverOAuthURL)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.GatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, s: s, b: b, gw: u.Host, verifier: rand.Text()}
}

// leverStart adds the frontend's code challenge to ConnectLever's URL, as
// a frontend does before it sends the browser there.
func (br *browser) leverStart(rawURL string) string {
	br.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Host != br.gw || u.Path != "/oauth/lever/start" {
		br.t.Fatalf("ConnectLever should answer the gateway's /oauth/lever/start, got %q", rawURL)
	}
	h := sha256.Sum256([]byte(br.verifier))
	q := u.Query()
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(h[:]))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String()
}

// consentAtLever runs who through Lever's pages from the start URL and
// returns the page whose redirect goes back to the gateway's callback.
func (br *browser) consentAtLever(start, who string) *simbrowser.Page {
	br.t.Helper()
	p, err := br.b.Get(br.ctx(), br.leverStart(start))
	for range 4 {
		if err != nil {
			br.t.Fatalf("Lever page: %v", err)
		}
		switch p.Name {
		case "signin":
			p, err = br.b.Submit(br.ctx(), p, url.Values{"login": {who}}, "signin-submit")
		case "consent":
			br.Consents = append(br.Consents, p.Scopes())
			p, err = br.b.Submit(br.ctx(), p, url.Values{}, "accept")
		}
		if err == nil && p.Redirect != nil {
			break
		}
	}
	if err != nil || p.Redirect == nil || p.Redirect.Host != br.gw || p.Redirect.Path != "/oauth/lever/callback" {
		br.t.Fatalf("Lever should send the browser to the gateway's callback: page %q redirect %v, %v", p.Name, p.Redirect, err)
	}
	return p
}

// getStatus loads rawURL in the browser and returns the status.
func (br *browser) getStatus(rawURL string) int {
	br.t.Helper()
	p, err := br.b.Get(br.ctx(), rawURL)
	if err != nil {
		br.t.Fatal(err)
	}
	return p.Status
}

// LV-1: a Super Admin connects Lever through OAuth (ID-6: others cannot);
// the integration reports connected and imports stages, postings, users
// and archive reasons.
func TestScenario_LV_1(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	// Megan signs in to Contoso first (its Super Admin) and is the
	// Super Admin of Contoso's Lever account too.
	_, ownerAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoAdmin})
	colleague, _ := signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
	if ats := getAts(t, ownerAPI); ats.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_DISCONNECTED {
		t.Fatalf("before connecting: %v", ats)
	}

	// Only a Super Admin connects Lever: not a Member, not an Admin.
	_, memberAPI := signedIn(t, s, newBrowser(t, s), as{email: providersim.DemoContosoAlias})
	code, body := memberAPI.call("POST", "/v1/integrations/lever:connect", &identityv1.ConnectLeverRequest{}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	ownerAPI.must("PATCH", "/v1/users/"+colleague.GetUser().GetId()+"?updateMask=role", &identityv1.User{Role: identityv1.Role_ROLE_ADMIN}, &identityv1.UpdateUserResponse{})
	_, adminAPI := signedIn(t, s, newBrowser(t, s), as{email: contosoUser})
	code, body = adminAPI.call("POST", "/v1/integrations/lever:connect", &identityv1.ConnectLeverRequest{}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")

	// The import's first Lever call is held, so its progress shows.
	ctl := simclient.New(s.MicrosoftURL, nil)
	stall, err := ctl.AddFault(t.Context(), simclient.Fault{Endpoint: "lever.listStages", Stall: true})
	if err != nil {
		t.Fatal(err)
	}

	// The Super Admin connects: the gateway, Lever's sign-in and consent,
	// the gateway's callback, the frontend.
	connect := &identityv1.ConnectLeverResponse{}
	ownerAPI.must("POST", "/v1/integrations/lever:connect", &identityv1.ConnectLeverRequest{}, connect)
	br := leverBrowser(t, s)
	p := br.consentAtLever(connect.GetAuthorizeUrl(), providersim.DemoLeverSuperAdmin)
	callback := p.Redirect.String()
	if len(br.Consents) != 1 || !slices.Contains(br.Consents[0], "offline_access") || !slices.Contains(br.Consents[0], "opportunities:write:admin") {
		t.Fatalf("Lever's consent page should list Tandem's scopes: %v", br.Consents)
	}
	// A callback with a wrong state is refused, the right one goes through
	// once, and its replay is refused.
	wrong := *p.Redirect
	q := wrong.Query()
	q.Set("state", "not-the-state")
	wrong.RawQuery = q.Encode()
	if st := br.getStatus(wrong.String()); st != http.StatusBadRequest {
		t.Fatalf("a callback with a wrong state: %d", st)
	}
	done := br.follow(p)
	if done.Redirect == nil {
		t.Fatalf("callback: %d %s", done.Status, done.Body)
	}
	res := exchange(t, br, loginCode(t, done))
	if res.GetOutcome() != "lever_connected" || res.GetConnection().GetProvider() != "lever" ||
		res.GetConnection().GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED {
		t.Fatalf("connect Lever: %v", res)
	}
	if st := br.getStatus(callback); st != http.StatusBadRequest {
		t.Fatalf("a replayed callback: %d", st)
	}
	noState := *p.Redirect
	noState.RawQuery = url.Values{"code": {p.Redirect.Query().Get("code")}}.Encode()
	if st := br.getStatus(noState.String()); st != http.StatusBadRequest {
		t.Fatalf("a callback without a state: %d", st)
	}
	connID := res.GetConnection().GetId()

	// The integration imports (syncing), then reports connected with what
	// it brought.
	var ats *atsbridgev1.AtsConnection
	poll.Until(t, 30*time.Second, func() error {
		ats = getAts(t, ownerAPI)
		if ats.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_SYNCING || ats.GetHealth().GetSyncStartTime() == nil {
			return fmt.Errorf("ATS connection %v", ats)
		}
		return nil
	})
	if ats.GetHealth().GetLastSyncTime() != nil || ats.GetHealth().GetStages() != 0 {
		t.Fatalf("while syncing: %v", ats)
	}
	if err := ctl.RemoveFault(t.Context(), stall.ID); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, func() error {
		ats = getAts(t, ownerAPI)
		if ats.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_CONNECTED || ats.GetHealth().GetLastSyncTime() == nil {
			return fmt.Errorf("ATS connection %v", ats)
		}
		return nil
	})
	acct, err := ctl.LeverAccount(t.Context(), providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	h := ats.GetHealth()
	if ats.GetId() != connID || ats.GetProvider() != "lever" || h.GetStages() != int64(len(acct.Stages)) || h.GetPostings() != int64(len(acct.Postings)) ||
		h.GetUsers() != int64(len(acct.Users)) || h.GetArchiveReasons() != int64(len(acct.ArchiveReasons)) || h.GetLastSuccessTime() == nil ||
		h.GetRateLimitPerSecond() != 10 || h.GetRateLimitBurst() != 15 || h.GetErrorsLastDay() != 0 {
		t.Fatalf("health %v; account: %d stages, %d postings, %d users, %d archive reasons", ats, len(acct.Stages), len(acct.Postings), len(acct.Users), len(acct.ArchiveReasons))
	}

	// Stages in Lever's order, paged.
	var stages []*atsbridgev1.AtsStage
	for tok := ""; ; {
		page := &atsbridgev1.ListAtsStagesResponse{}
		ownerAPI.must("GET", "/v1/atsConnection/stages?pageSize=4&pageToken="+url.QueryEscape(tok), nil, page)
		stages = append(stages, page.GetStages()...)
		if tok = page.GetNextPageToken(); tok == "" {
			break
		}
	}
	if len(stages) != len(acct.Stages) {
		t.Fatalf("stages: %d, want %d", len(stages), len(acct.Stages))
	}
	for i, st := range stages {
		if st.GetRemoteId() != acct.Stages[i].ID || st.GetName() != acct.Stages[i].Text {
			t.Fatalf("stage %d: %v, want %+v", i, st, acct.Stages[i])
		}
	}
	// Only published postings are offered for linking.
	published := &atsbridgev1.ListAtsPostingsResponse{}
	memberAPI.must("GET", "/v1/atsConnection/postings?publishedOnly=true", nil, published)
	var want []string
	for _, p := range acct.Postings {
		if p.State == simclient.LeverPublished {
			want = append(want, p.ID)
		}
	}
	var got []string
	for _, p := range published.GetPostings() {
		if !p.GetPublished() {
			t.Fatalf("an unpublished posting offered: %v", p)
		}
		got = append(got, p.GetRemoteId())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("published postings %v, want %v", got, want)
	}
	// Lever's users, with their e-mail, for the admins.
	users := &atsbridgev1.ListAtsUsersResponse{}
	adminAPI.must("GET", "/v1/atsConnection/users?pageSize=100", nil, users)
	for _, u := range acct.Users {
		if !slices.ContainsFunc(users.GetUsers(), func(x *atsbridgev1.AtsUser) bool { return x.GetRemoteId() == u.ID && x.GetEmail() == u.Email }) {
			t.Fatalf("user %s missing from %v", u.Email, users.GetUsers())
		}
	}
	code, body = memberAPI.call("GET", "/v1/atsConnection/users", nil, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	// Lever saw one code exchange and no refresh.
	if n, err := ctl.Counter(t.Context(), "lever.oauth.token.authorization_code"); err != nil || n != 1 {
		t.Fatalf("code exchanges at Lever: %d, %v", n, err)
	}

	// Another organization sees none of it.
	_, otherAPI := signedIn(t, s, newBrowser(t, s), as{email: fabrikamAdmin, consentForOrg: true})
	code, body = otherAPI.call("GET", "/v1/connections/"+connID, nil, nil)
	wantError(t, code, body, http.StatusNotFound, "NOT_FOUND")
	if other := getAts(t, otherAPI); other.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_DISCONNECTED || other.GetId() != "" {
		t.Fatalf("another organization's ATS connection: %v", other)
	}
	otherStages := &atsbridgev1.ListAtsStagesResponse{}
	otherAPI.must("GET", "/v1/atsConnection/stages", nil, otherStages)
	if len(otherStages.GetStages()) != 0 {
		t.Fatalf("another organization sees Contoso's stages: %v", otherStages)
	}

	// Disconnecting forgets the tokens and tells atsbridge.
	code, body = adminAPI.call("POST", "/v1/integrations/lever:disconnect", &identityv1.DisconnectLeverRequest{}, nil)
	wantError(t, code, body, http.StatusForbidden, "PERMISSION_DENIED")
	disc := &identityv1.DisconnectLeverResponse{}
	ownerAPI.must("POST", "/v1/integrations/lever:disconnect", &identityv1.DisconnectLeverRequest{}, disc)
	if disc.GetConnection().GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED {
		t.Fatalf("disconnect: %v", disc)
	}
	poll.Until(t, 30*time.Second, func() error {
		if a := getAts(t, ownerAPI); a.GetStatus() != atsbridgev1.AtsConnectionStatus_ATS_CONNECTION_STATUS_DISCONNECTED || a.GetReason() == "" {
			return errors.New("not disconnected yet")
		}
		return nil
	})
}

func getAts(t testing.TB, a api) *atsbridgev1.AtsConnection {
	t.Helper()
	out := &atsbridgev1.GetAtsConnectionResponse{}
	a.must("GET", "/v1/atsConnection", nil, out)
	return out.GetConnection()
}
