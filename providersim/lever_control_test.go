package providersim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func TestLeverControlAccounts(t *testing.T) {
	e := startLever(t)
	h, err := e.c.Health(e.ctx)
	if err != nil || h.LeverURL != e.sim.LeverURL() || h.LeverOAuthURL != e.sim.LeverOAuthURL() {
		t.Errorf("health %+v %v", h, err)
	}
	for name, bad := range map[string]simclient.LeverAccount{
		"no name":       {},
		"bad role":      {Name: "X", Users: []simclient.LeverUser{{Name: "A", Email: "a@x.example", AccessRole: "owner"}}},
		"bad state":     {Name: "X", Postings: []simclient.LeverPosting{{Text: "Job", State: "open"}}},
		"bad reason":    {Name: "X", ArchiveReasons: []simclient.LeverArchiveReason{{Text: "R", Type: "maybe"}}},
		"unknown owner": {Name: "X", Postings: []simclient.LeverPosting{{Text: "Job", Owner: "ghost@x.example"}}},
	} {
		var ce *simclient.Error
		if _, err := e.c.CreateLeverAccount(e.ctx, bad); !asError(err, &ce) || ce.Status != http.StatusBadRequest {
			t.Errorf("%s: %v", name, err)
		}
	}
	var ce *simclient.Error
	if _, err := e.c.AddLeverUser(e.ctx, providersim.DemoLeverAccount, simclient.LeverUser{Name: "Dup", Email: providersim.DemoLeverUser}); !asError(err, &ce) || ce.Status != http.StatusConflict {
		t.Errorf("duplicate e-mail: %v", err)
	}
	if _, err := e.c.LeverAccount(e.ctx, "nope"); !asError(err, &ce) || ce.Status != http.StatusNotFound {
		t.Errorf("unknown account: %v", err)
	}

	// A second account with its own pipeline and states; its token sees
	// only its own data.
	fab, err := e.c.CreateLeverAccount(e.ctx, simclient.LeverAccount{
		Name:           "Fabrikam",
		Users:          []simclient.LeverUser{{Name: "Alex Wilber", Email: "alex.wilber@fabrikam.example", AccessRole: simclient.LeverSuperAdmin}},
		Stages:         []simclient.LeverStage{{Text: "Sourced"}, {Text: "Screen"}},
		ArchiveReasons: []simclient.LeverArchiveReason{{Text: "Hired", Type: "hired"}, {Text: "Not a fit"}},
		Postings: []simclient.LeverPosting{
			{Text: "Pending job", State: simclient.LeverPending}, {Text: "Rejected job", State: simclient.LeverRejected},
		},
		Candidates: []simclient.LeverCandidate{{Name: "Jo", Emails: []string{"jo@example.org"}, Stage: "Screen"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fab.Stages) != 2 || fab.Stages[0].ID == "" || len(fab.ArchiveReasons) != 2 || fab.Users[0].AccountID != fab.ID {
		t.Fatalf("account %+v", fab)
	}
	if _, err := e.c.AddLeverPosting(e.ctx, fab.ID, simclient.LeverPosting{Text: "Later job"}); err != nil {
		t.Fatal(err)
	}
	tok := e.leverRedeem(e.leverCode(e.leverBrowser(), "alex.wilber@fabrikam.example", leverScopes)).AccessToken
	if got, _ := e.listAll("/v1/postings", tok); len(got) != 3 || got[2]["state"] != simclient.LeverPublished {
		t.Errorf("Fabrikam postings %v", got)
	}
	if got, _ := e.listAll("/v1/postings?state=pending&state=rejected", tok); len(got) != 2 {
		t.Errorf("pending and rejected %v", got)
	}
	opps, _ := e.listAll("/v1/opportunities", tok)
	if len(opps) != 1 || opps[0]["stage"] != fab.Stages[1].ID {
		t.Fatalf("Fabrikam opportunities %v", opps)
	}
	demo, err := e.c.LeverOpportunities(e.ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	e.leverError(http.MethodGet, "/v1/opportunities/"+demo[0].ID, tok, nil, http.StatusNotFound)
	e.leverError(http.MethodPost, "/v1/opportunities?perform_as="+e.leverUserID(providersim.DemoLeverUser), tok, map[string]any{"name": "X"}, http.StatusBadRequest)
	e.leverError(http.MethodPut, "/v1/opportunities/"+opps[0]["id"].(string)+"/stage", tok, map[string]any{"stage": "lead-new"}, http.StatusBadRequest)

	// Control moves check their input.
	if _, err := e.c.MoveLeverStage(e.ctx, demo[0].ID, simclient.LeverStageMove{Stage: "nope"}); !asError(err, &ce) || ce.Status != http.StatusBadRequest {
		t.Errorf("unknown stage: %v", err)
	}
	if _, err := e.c.MoveLeverStage(e.ctx, "nope", simclient.LeverStageMove{Stage: "offer"}); !asError(err, &ce) || ce.Status != http.StatusNotFound {
		t.Errorf("unknown opportunity: %v", err)
	}
	if _, err := e.c.HireLever(e.ctx, demo[0].ID, simclient.LeverArchive{Reason: "Withdrew"}); !asError(err, &ce) || ce.Status != http.StatusBadRequest {
		t.Errorf("hire with a non-hired reason: %v", err)
	}
	moved, err := e.c.MoveLeverStage(e.ctx, demo[0].ID, simclient.LeverStageMove{Stage: "Offer", UserID: providersim.DemoLeverUser})
	if err != nil || moved.StageID != "offer" || moved.StageChanges[len(moved.StageChanges)-1].UserID != e.leverUserID(providersim.DemoLeverUser) {
		t.Errorf("moved %+v %v", moved, err)
	}
}

func TestLeverControlCandidatesFireNothingAndResetReseeds(t *testing.T) {
	e := startLever(t)
	rcv := newLeverHookReceiver(t)
	acct := e.leverAccount()
	if _, err := e.c.AddLeverWebhook(e.ctx, acct.ID, simclient.LeverWebhook{URL: rcv.srv.URL, Event: "applicationCreated"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AddLeverWebhook(e.ctx, acct.ID, simclient.LeverWebhook{URL: "http://hooks.example/x", Event: "applicationCreated"}); err == nil {
		t.Error("an http webhook URL off loopback was accepted")
	}
	o, err := e.c.AddLeverCandidate(e.ctx, acct.ID, simclient.LeverCandidate{Name: "Quiet", Posting: "Product Designer", Emails: []string{"quiet@example.org"}})
	if err != nil || o.CreatedVia != "control" || len(o.ApplicationIDs) != 1 {
		t.Fatalf("candidate %+v %v", o, err)
	}
	if ds, err := e.c.LeverDeliveries(e.ctx); err != nil || len(ds) != 0 {
		t.Errorf("a control-created candidate fired %+v (err %v)", ds, err)
	}
	token := e.leverTokens(leverScopes).AccessToken
	e.leverJSON(http.MethodGet, "/v1/opportunities/"+o.ID, token, nil, http.StatusOK)
	if err := e.c.Reset(e.ctx); err != nil {
		t.Fatal(err)
	}
	after := e.leverAccount()
	if after.ID != acct.ID || after.Users[0].ID != acct.Users[0].ID {
		t.Errorf("reset did not reseed the same ids")
	}
	e.leverError(http.MethodGet, "/v1/stages", token, nil, http.StatusUnauthorized)
	if _, err := e.c.LeverOpportunity(e.ctx, o.ID); err == nil {
		t.Error("a candidate survived the reset")
	}
	if hooks, err := e.c.LeverWebhooks(e.ctx, after.ID); err != nil || len(hooks) != 0 {
		t.Errorf("webhooks survived the reset: %+v (err %v)", hooks, err)
	}
	if apps, err := e.c.LeverClients(e.ctx); err != nil || len(apps) != 1 || apps[0].ClientSecret != "" {
		t.Errorf("clients after reset %+v (err %v)", apps, err)
	}
}

func TestLeverNoDemoData(t *testing.T) {
	e := start(t, func(o *providersim.Options) { o.NoDemoData = true })
	accounts, err := e.c.LeverAccounts(e.ctx)
	if err != nil || len(accounts) != 0 {
		t.Errorf("accounts %+v %v", accounts, err)
	}
	if apps, err := e.c.LeverClients(e.ctx); err != nil || len(apps) != 1 || apps[0].ClientID != providersim.DefaultLeverClientID {
		t.Errorf("clients %+v (err %v)", apps, err)
	}
}

func TestLeverAPIKeys(t *testing.T) {
	e := startLever(t)
	acct := e.leverAccount()
	full, err := e.c.CreateLeverAPIKey(e.ctx, acct.ID, simclient.LeverAPIKey{Name: "internal tool"})
	if err != nil || full.Key == "" || full.CreatedBy != e.leverUserID(providersim.DemoLeverSuperAdmin) {
		t.Fatalf("key %+v %v", full, err)
	}
	narrow, err := e.c.CreateLeverAPIKey(e.ctx, acct.ID, simclient.LeverAPIKey{Scopes: []string{"stages:read:admin"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CreateLeverAPIKey(e.ctx, acct.ID, simclient.LeverAPIKey{Scopes: []string{"everything"}}); err == nil {
		t.Error("a key with an unknown scope")
	}
	call := func(method, path, key string, body any) int {
		t.Helper()
		var rd *strings.Reader
		if body != nil {
			rd = strings.NewReader(body.(string))
		} else {
			rd = strings.NewReader("")
		}
		req, err := http.NewRequestWithContext(e.ctx, method, e.sim.LeverURL()+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(key, "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := leverHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	opps, err := e.c.LeverOpportunities(e.ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := call(http.MethodGet, "/v1/opportunities", full.Key, nil); s != http.StatusOK {
		t.Errorf("full key: %d", s)
	}
	if s := call(http.MethodPost, "/v1/opportunities/"+opps[0].ID+"/notes", full.Key, `{"value":"from a script"}`); s != http.StatusCreated {
		t.Errorf("note with a key: %d", s)
	}
	if o, err := e.c.LeverOpportunity(e.ctx, opps[0].ID); err != nil || len(o.Notes) != 1 || o.Notes[0].UserID != full.CreatedBy {
		t.Errorf("note %+v (err %v)", o.Notes, err)
	}
	if s := call(http.MethodGet, "/v1/stages", narrow.Key, nil); s != http.StatusOK {
		t.Errorf("narrow key on its endpoint: %d", s)
	}
	if s := call(http.MethodGet, "/v1/opportunities", narrow.Key, nil); s != http.StatusForbidden {
		t.Errorf("narrow key elsewhere: %d", s)
	}
	if s := call(http.MethodGet, "/v1/stages", "not-a-key", nil); s != http.StatusUnauthorized {
		t.Errorf("unknown key: %d", s)
	}
	if err := e.c.RevokeLeverAPIKey(e.ctx, full.Key); err != nil {
		t.Fatal(err)
	}
	if s := call(http.MethodGet, "/v1/stages", full.Key, nil); s != http.StatusUnauthorized {
		t.Errorf("revoked key: %d", s)
	}
	// An OAuth token granted no API scope reaches nothing.
	none := e.leverTokens("offline_access").AccessToken
	e.leverError(http.MethodGet, "/v1/stages", none, nil, http.StatusForbidden)
}
