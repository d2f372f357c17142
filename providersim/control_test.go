package providersim_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestDeterministicGivenSeed(t *testing.T) {
	ids := func(seed int64) []string {
		e := start(t, func(o *providersim.Options) { o.Seed = seed })
		var out []string
		tenants, err := e.c.Tenants(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range tenants {
			out = append(out, tn.ID)
		}
		users, err := e.c.Users(e.ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			out = append(out, u.ID)
		}
		return out
	}
	a, b, c := ids(7), ids(7), ids(8)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("same seed, different ids:\n%v\n%v", a, b)
	}
	if strings.Join(a, ",") == strings.Join(c, ",") {
		t.Error("different seeds gave the same ids")
	}
	if len(a) != 10 {
		t.Errorf("want 3 tenants and 7 users, got %d ids", len(a))
	}
}

func TestResetRestoresTheSeededWorld(t *testing.T) {
	e := start(t)
	before, err := e.c.Tenants(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	token := e.graphToken(providersim.DemoContosoUser)
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate)}, 202)
	if _, err := e.c.CreateTenant(e.ctx, simclient.Tenant{DisplayName: "Tailspin", Domain: "tailspin.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AdvanceClock(e.ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "*", Status: 500}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Reset(e.ctx); err != nil {
		t.Fatal(err)
	}
	after, err := e.c.Tenants(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 || after[0].ID != before[0].ID {
		t.Errorf("tenants after reset %+v", after)
	}
	if got, err := e.c.Messages(e.ctx, candidate, ""); err != nil || len(got) != 0 {
		t.Errorf("mail survived reset: %d (err %v)", len(got), err)
	}
	if c, err := e.c.Counters(e.ctx, "graph."); err != nil || len(c) != 0 {
		t.Errorf("counters survived reset: %v (err %v)", c, err)
	}
	if fs, err := e.c.Faults(e.ctx); err != nil || len(fs) != 0 {
		t.Errorf("faults survived reset: %v (err %v)", fs, err)
	}
	if clk, err := e.c.Clock(e.ctx); err != nil || clk.Offset != "0s" {
		t.Errorf("clock offset %s (err %v)", clk.Offset, err)
	}
	if s, _, _ := e.graphCall("GET", "/v1.0/me", token, nil); s != 401 {
		t.Errorf("token survived reset: %d", s)
	}
}

func TestControlDirectory(t *testing.T) {
	e := start(t, func(o *providersim.Options) { o.NoDemoData = true })
	if ts, err := e.c.Tenants(e.ctx); err != nil || len(ts) != 0 {
		t.Fatalf("NoDemoData seeded %v (err %v)", ts, err)
	}
	tn, err := e.c.CreateTenant(e.ctx, simclient.Tenant{
		DisplayName: "Tailspin Toys", Domain: "tailspin.example", ConsentPolicy: simclient.AdminsOnly,
		AdminConsentScopes: []string{"https://graph.microsoft.com/Mail.Send"},
		Users:              []simclient.User{{GivenName: "Pat", Surname: "Kim", UserPrincipalName: "pat@tailspin.example", Password: "pw"}},
	})
	if err != nil || tn.ID == "" || len(tn.Users) != 1 || tn.Users[0].Password != "" || tn.Users[0].DisplayName != "Pat Kim" ||
		len(tn.AdminConsentScopes) != 1 || tn.AdminConsentScopes[0] != "Mail.Send" {
		t.Fatalf("create tenant %+v %v", tn, err)
	}
	var ce *simclient.Error
	if _, err := e.c.CreateTenant(e.ctx, simclient.Tenant{DisplayName: "Again", Domain: "tailspin.example"}); !asError(err, &ce) || ce.Status != http.StatusConflict {
		t.Errorf("duplicate domain: %v", err)
	}
	if _, err := e.c.CreateTenant(e.ctx, simclient.Tenant{Domain: "x.example", ConsentPolicy: "nobody"}); !asError(err, &ce) || ce.Status != http.StatusBadRequest {
		t.Errorf("bad policy: %v", err)
	}
	if _, err := e.c.CreateUser(e.ctx, "tailspin.example", simclient.User{UserPrincipalName: "pat@tailspin.example"}); !asError(err, &ce) || ce.Status != http.StatusConflict {
		t.Errorf("duplicate user: %v", err)
	}
	if _, err := e.c.CreateUser(e.ctx, "nowhere.example", simclient.User{UserPrincipalName: "a@nowhere.example"}); !asError(err, &ce) || ce.Status != http.StatusNotFound {
		t.Errorf("user in unknown tenant: %v", err)
	}
	admin := true
	u, err := e.c.UpdateUser(e.ctx, "pat@tailspin.example", simclient.UserUpdate{Admin: &admin})
	if err != nil || !u.Admin {
		t.Errorf("update user %+v %v", u, err)
	}
	workflow := true
	tn, err = e.c.UpdateTenant(e.ctx, tn.ID, simclient.TenantUpdate{AdminConsentWorkflow: &workflow})
	if err != nil || !tn.AdminConsentWorkflow {
		t.Errorf("update tenant %+v %v", tn, err)
	}
	apps, err := e.c.Apps(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || apps[0].ClientID != providersim.DefaultClientID || apps[0].ClientSecret != "" {
		t.Errorf("apps %+v", apps)
	}
	if _, err := e.c.CreateApp(e.ctx, simclient.App{ClientID: "x"}); !asError(err, &ce) || ce.Status != 400 {
		t.Errorf("app without redirect URIs: %v", err)
	}
	if _, err := e.c.GrantConsent(e.ctx, simclient.Grant{ClientID: providersim.DefaultClientID, TenantID: tn.ID, Scopes: []string{"Calendars.Read"}}); !asError(err, &ce) || ce.Status != 400 {
		t.Errorf("grant of an unknown scope: %v", err)
	}

	// Mail.Send alone needs an admin here, so sign-in scopes are the user's
	// to consent to.
	b := e.browser()
	editor := false
	if _, err := e.c.UpdateUser(e.ctx, "pat@tailspin.example", simclient.UserUpdate{Admin: &editor}); err != nil {
		t.Fatal(err)
	}
	p := e.get(b, e.authorizeURL("organizations", signInScopes, nil))
	p = e.submit(b, p, map[string][]string{"login": {"pat@tailspin.example"}, "password": {"pw"}}, "signin-submit")
	wantPage(t, p, "consent")
	wantRedirect(t, e.submit(b, p, nil, "accept"), callback)
	wantPage(t, e.get(b, e.authorizeURL("organizations", "Mail.Send", nil)), "approval-required")
}

func TestClockAndCounters(t *testing.T) {
	e := start(t)
	c0, err := e.c.Clock(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := e.c.AdvanceClock(e.ctx, 90*time.Minute)
	if err != nil || c1.Now.Sub(c0.Now) < 90*time.Minute || c1.Offset != "1h30m0s" {
		t.Errorf("advance: %+v %v", c1, err)
	}
	status, _, _ := e.graphCall("POST", e.sim.MicrosoftURL()+"/_sim/clock/advance", "", map[string]any{"seconds": -5})
	if status != 400 {
		t.Errorf("backwards: %d", status)
	}
	status, _, _ = e.graphCall("POST", e.sim.GraphURL()+"/_sim/clock/advance", "", map[string]any{"duration": "1s"})
	if status != 200 {
		t.Errorf("advance on the Graph port: %d", status)
	}
	token := e.graphToken(providersim.DemoContosoUser)
	e.graphJSON("GET", "/v1.0/me/messages", token, nil, 200)
	counters, err := e.c.Counters(e.ctx, "graph.listMessages")
	if err != nil || counters["graph.listMessages"] != 1 || counters["graph.listMessages/user="+providersim.DemoContosoUser] != 1 {
		t.Errorf("counters %v %v", counters, err)
	}
	if n, err := e.c.Counter(e.ctx, "microsoft.token.authorization_code/user="+providersim.DemoContosoUser); err != nil || n != 1 {
		t.Errorf("code grants %d (err %v)", n, err)
	}
	h, err := simclient.New(e.sim.GraphURL(), nil).Health(e.ctx)
	if err != nil || h.Status != "ok" || h.MicrosoftURL != e.sim.MicrosoftURL() || h.GraphURL != e.sim.GraphURL() || h.Seed != 42 {
		t.Errorf("health %+v %v", h, err)
	}
}
