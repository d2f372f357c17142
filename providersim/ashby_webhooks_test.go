package providersim_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// verifyAshby checks a delivery with nothing but the reference's rule:
// Ashby-Signature is "sha256=" and the hex HMAC-SHA256 of the raw body
// under the secret token.
func verifyAshby(secret string, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

type hookBody struct {
	Action          string `json:"action"`
	WebhookActionID string `json:"webhookActionId"`
	Data            struct {
		Application      *applicationOut      `json:"application"`
		Candidate        *struct{ ID string } `json:"candidate"`
		DeletedCandidate *struct{ ID string } `json:"deletedCandidate"`
		MergedCandidate  *struct {
			ID             string   `json:"id"`
			ApplicationIDs []string `json:"applicationIds"`
		} `json:"mergedCandidate"`
		WebhookActionType string `json:"webhookActionType"`
	} `json:"data"`
}

func decodeHook(t *testing.T, raw []byte) hookBody {
	t.Helper()
	var b hookBody
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("webhook body: %v: %s", err, raw)
	}
	return b
}

// hookSetup creates a receiver and one webhook per type through the API.
func hookSetup(t *testing.T, e *env, key string, types ...string) (*hookReceiver, map[string]string) {
	t.Helper()
	rec := &hookReceiver{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	ids := map[string]string{}
	for _, typ := range types {
		var h struct {
			ID          string `json:"id"`
			Enabled     bool   `json:"enabled"`
			WebhookType string `json:"webhookType"`
			SecretToken string `json:"secretToken"`
		}
		e.ashbyOK(key, "webhook.create", map[string]any{"webhookType": typ, "requestUrl": srv.URL + "/webhooks/ashby", "secretToken": "s3cret-" + typ}, &h)
		if !h.Enabled || h.WebhookType != typ || h.SecretToken != "s3cret-"+typ {
			t.Fatalf("webhook.create %+v", h)
		}
		ids[typ] = h.ID
	}
	return rec, ids
}

func waitRequests(t *testing.T, rec *hookReceiver, n int) []hookRequest {
	t.Helper()
	eventually(t, "webhook requests", func() bool { return len(rec.requests()) >= n })
	return rec.requests()
}

func TestAshbyWebhookEndpoints(t *testing.T) {
	e := ashbyStart(t)
	_, key := e.demoAshby()
	e.ashbyErr(key, "webhook.create", map[string]any{"webhookType": "ping", "requestUrl": "https://x.example/h", "secretToken": "s"}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "webhook.create", map[string]any{"webhookType": "applicationUpdate", "requestUrl": "https://x.example/h"}, http.StatusOK, "invalid_input")
	e.ashbyErr(key, "webhook.create", map[string]any{"webhookType": "applicationUpdate", "requestUrl": "not a url", "secretToken": "s"}, http.StatusOK, "invalid_input")
	var h struct {
		ID         string `json:"id"`
		Enabled    bool   `json:"enabled"`
		RequestURL string `json:"requestUrl"`
	}
	e.ashbyOK(key, "webhook.create", map[string]any{"webhookType": "applicationUpdate", "requestUrl": "https://x.example/h", "secretToken": "s"}, &h)
	e.ashbyOK(key, "webhook.update", map[string]any{"webhookId": h.ID, "enabled": false, "requestUrl": "https://y.example/h"}, &h)
	if h.Enabled || h.RequestURL != "https://y.example/h" {
		t.Errorf("update %+v", h)
	}
	e.ashbyOK(key, "webhook.info", map[string]any{"webhookId": h.ID}, &h)
	if h.RequestURL != "https://y.example/h" {
		t.Errorf("info %+v", h)
	}
	e.ashbyOK(key, "webhook.delete", map[string]any{"webhookId": h.ID}, nil)
	e.ashbyErr(key, "webhook.info", map[string]any{"webhookId": h.ID}, http.StatusOK, "webhook_not_found")
	o, _ := e.demoAshby()
	ro, err := e.c.IssueAshbyKey(e.ctx, o.ID, simclient.AshbyAPIKey{Title: "no hooks", Permissions: map[string]string{simclient.AshbyModuleCandidates: "write"}})
	if err != nil {
		t.Fatal(err)
	}
	e.ashbyErr(ro.Key, "webhook.create", map[string]any{"webhookType": "applicationUpdate", "requestUrl": "https://x.example/h", "secretToken": "s"}, http.StatusForbidden, "missing_endpoint_permission")
}

func TestAshbyWebhooksChainAndSignature(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	rec, hooks := hookSetup(t, e, key, "candidateStageChange", "applicationUpdate", "candidateHire")
	var c candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Morgan Diaz", "email": "morgan@example.org"}, &c)
	var a applicationOut
	e.ashbyOK(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": jobByTitle(t, o, "Product Designer").ID}, &a)

	// A person moves the application: candidateStageChange and
	// applicationUpdate, one webhookActionId.
	if _, err := e.c.MoveAshbyApplication(e.ctx, a.ID, simclient.AshbyStageMove{StageTitle: "Phone Screen"}); err != nil {
		t.Fatal(err)
	}
	got := waitRequests(t, rec, 2)
	if len(got) != 2 {
		t.Fatalf("stage change deliveries: %d", len(got))
	}
	actions := map[string]bool{}
	var actionID string
	for _, r := range got {
		b := decodeHook(t, r.body)
		actions[b.Action] = true
		if !verifyAshby("s3cret-"+b.Action, r.body, r.header.Get("Ashby-Signature")) {
			t.Errorf("%s: signature %q does not verify", b.Action, r.header.Get("Ashby-Signature"))
		}
		if verifyAshby("wrong", r.body, r.header.Get("Ashby-Signature")) {
			t.Error("signature verifies under another secret")
		}
		if b.WebhookActionID == "" || (actionID != "" && b.WebhookActionID != actionID) {
			t.Errorf("webhookActionId %q vs %q", b.WebhookActionID, actionID)
		}
		actionID = b.WebhookActionID
		if b.Data.Application == nil || b.Data.Application.ID != a.ID || b.Data.Application.CurrentInterviewStage.Title != "Phone Screen" {
			t.Errorf("%s data %+v", b.Action, b.Data.Application)
		}
	}
	if !actions["candidateStageChange"] || !actions["applicationUpdate"] {
		t.Errorf("actions %v", actions)
	}

	// A hire fires all three, with a new shared id.
	if _, err := e.c.HireAshbyApplication(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	got = waitRequests(t, rec, 5)[2:]
	ids := map[string]bool{}
	actions = map[string]bool{}
	for _, r := range got {
		b := decodeHook(t, r.body)
		actions[b.Action] = true
		ids[b.WebhookActionID] = true
		if b.Data.Application.Status != "Hired" {
			t.Errorf("hire %s status %s", b.Action, b.Data.Application.Status)
		}
	}
	if len(actions) != 3 || len(ids) != 1 || ids[actionID] {
		t.Errorf("hire actions %v ids %v", actions, ids)
	}
	// An API stage change fires too (Tandem suppresses its own echoes).
	p := planByTitle(t, o, "Default Interview Plan")
	e.ashbyOK(key, "application.changeStage", map[string]any{"applicationId": a.ID, "interviewStageId": stageOfType(t, p, "Offer").ID}, nil)
	waitRequests(t, rec, 7)

	// A webhook without a secret is not signed; a disabled one gets nothing.
	e.ashbyOK(key, "webhook.update", map[string]any{"webhookId": hooks["candidateStageChange"], "secretToken": ""}, nil)
	e.ashbyOK(key, "webhook.update", map[string]any{"webhookId": hooks["candidateHire"], "enabled": false}, nil)
	if _, err := e.c.HireAshbyApplication(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	got = waitRequests(t, rec, 9)[7:]
	for _, r := range got {
		b := decodeHook(t, r.body)
		if b.Action == "candidateHire" {
			t.Error("disabled webhook delivered")
		}
		if b.Action == "candidateStageChange" && r.header.Get("Ashby-Signature") != "" {
			t.Error("unsigned webhook carries a signature")
		}
	}
	ds, err := e.c.AshbyDeliveries(e.ctx)
	if err != nil || len(ds) != 9 {
		t.Fatalf("deliveries %d %v", len(ds), err)
	}
	for _, d := range ds {
		if d.Action == "applicationSubmit" {
			t.Error("applicationSubmit fired for an API create")
		}
	}
}

func TestAshbyMergeDeleteAndPing(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	rec, hooks := hookSetup(t, e, key, "candidateMerge", "candidateDelete")
	var c1, c2 candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Jo Smith", "email": "jo@example.org"}, &c1)
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Jo Smith", "email": "jo.smith@example.org"}, &c2)
	var a applicationOut
	e.ashbyOK(key, "application.create", map[string]any{"candidateId": c1.ID, "jobId": jobByTitle(t, o, "Product Designer").ID}, &a)
	if _, err := e.c.MergeAshbyCandidates(e.ctx, simclient.AshbyMerge{DeletedCandidateID: c1.ID, MergedCandidateID: c2.ID}); err != nil {
		t.Fatal(err)
	}
	b := decodeHook(t, waitRequests(t, rec, 1)[0].body)
	if b.Action != "candidateMerge" || b.Data.DeletedCandidate.ID != c1.ID || b.Data.MergedCandidate.ID != c2.ID ||
		len(b.Data.MergedCandidate.ApplicationIDs) != 1 || b.Data.MergedCandidate.ApplicationIDs[0] != a.ID {
		t.Errorf("merge body %+v", b)
	}
	var info applicationOut
	e.ashbyOK(key, "application.info", map[string]any{"applicationId": a.ID}, &info)
	if info.Candidate.ID != c2.ID {
		t.Errorf("application still points at %s", info.Candidate.ID)
	}
	var found []candidateOut
	e.ashbyOK(key, "candidate.search", map[string]any{"email": "jo@example.org"}, &found)
	if len(found) != 1 || found[0].ID != c2.ID {
		t.Errorf("merged emails %+v", found)
	}

	if err := e.c.DeleteAshbyCandidate(e.ctx, c2.ID); err != nil {
		t.Fatal(err)
	}
	b = decodeHook(t, waitRequests(t, rec, 2)[1].body)
	if b.Action != "candidateDelete" || b.Data.Candidate.ID != c2.ID {
		t.Errorf("delete body %+v", b)
	}
	e.ashbyErr(key, "candidate.info", map[string]any{"id": c2.ID}, http.StatusOK, "candidate_not_found")
	e.ashbyErr(key, "application.info", map[string]any{"applicationId": a.ID}, http.StatusOK, "application_not_found")

	if err := e.c.PingAshbyWebhook(e.ctx, hooks["candidateMerge"]); err != nil {
		t.Fatal(err)
	}
	r := waitRequests(t, rec, 3)[2]
	b = decodeHook(t, r.body)
	if b.Action != "ping" || b.Data.WebhookActionType != "ping" || !verifyAshby("s3cret-candidateMerge", r.body, r.header.Get("Ashby-Signature")) {
		t.Errorf("ping %s", r.body)
	}
}

func TestAshbyWebhookRetriesOnTheSimulatedClock(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	rec, _ := hookSetup(t, e, key, "candidateHire")
	rec.setStatus(http.StatusServiceUnavailable)
	app := o.Jobs[0].ID
	var c candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Retry Me"}, &c)
	var a applicationOut
	e.ashbyOK(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": app}, &a)
	if _, err := e.c.HireAshbyApplication(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	delivery := func() simclient.AshbyDelivery {
		ds, err := e.c.AshbyDeliveries(e.ctx)
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries %v %v", ds, err)
		}
		return ds[0]
	}
	// Attempt n+1 comes (2^n - 1) x 10 s after attempt n: 10, 30, 70, ...
	for n := 1; n <= 9; n++ {
		eventually(t, "attempt", func() bool { return delivery().Attempts == n })
		d := delivery()
		want := time.Duration((1<<n)-1) * 10 * time.Second
		if gap := d.NextAttemptAt.Sub(d.AttemptedAt[n-1]); gap != want {
			t.Fatalf("after attempt %d the next is in %v, want %v", n, gap, want)
		}
		if len(rec.requests()) != n {
			t.Fatalf("receiver saw %d requests after %d attempts", len(rec.requests()), n)
		}
		if _, err := e.c.AdvanceClock(e.ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the tenth attempt", func() bool { return delivery().State == simclient.DeliveryFailed })
	if d := delivery(); d.Attempts != 10 || len(d.Statuses) != 10 || d.Statuses[9] != 503 {
		t.Errorf("final %+v", d)
	}

	// 401, 403, 404, 405 and 410 are not retried; a 2xx ends it.
	for _, status := range []int{401, 403, 404, 405, 410} {
		rec.setStatus(status)
		before := len(rec.requests())
		if _, err := e.c.MoveAshbyApplication(e.ctx, a.ID, simclient.AshbyStageMove{StageType: "Offer"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.HireAshbyApplication(e.ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "failed", func() bool {
			ds, err := e.c.AshbyDeliveries(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return ds[len(ds)-1].State == simclient.DeliveryFailed
		})
		if _, err := e.c.AdvanceClock(e.ctx, time.Hour); err != nil {
			t.Fatal(err)
		}
		// A retry would be due by now; make sure none is pending or sent.
		ds, err := e.c.AshbyDeliveries(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if last := ds[len(ds)-1]; last.Attempts != 1 || len(rec.requests()) != before+1 {
			t.Errorf("status %d retried: %+v", status, last)
		}
	}
	rec.setStatus(http.StatusInternalServerError)
	if _, err := e.c.MoveAshbyApplication(e.ctx, a.ID, simclient.AshbyStageMove{StageType: "Offer"}); err != nil {
		t.Fatal(err)
	}
	before := len(rec.requests())
	if _, err := e.c.HireAshbyApplication(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "first attempt", func() bool {
		ds, err := e.c.AshbyDeliveries(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(rec.requests()) == before+1 && ds[len(ds)-1].Attempts == 1
	})
	rec.setStatus(http.StatusOK)
	if _, err := e.c.AdvanceClock(e.ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivered on retry", func() bool {
		ds, err := e.c.AshbyDeliveries(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ds[len(ds)-1].State == simclient.DeliveryDelivered && ds[len(ds)-1].Attempts == 2
	})
}

func TestAshbyDeliveryFaults(t *testing.T) {
	e := ashbyStart(t)
	_, key := e.demoAshby()
	rec, _ := hookSetup(t, e, key, "candidateMerge")
	merge := func(name string) string {
		var a, b candidateOut
		e.ashbyOK(key, "candidate.create", map[string]any{"name": name}, &a)
		e.ashbyOK(key, "candidate.create", map[string]any{"name": name}, &b)
		if _, err := e.c.MergeAshbyCandidates(e.ctx, simclient.AshbyMerge{DeletedCandidateID: a.ID, MergedCandidateID: b.ID}); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	deleted := func(r hookRequest) string { return decodeHook(t, r.body).Data.DeletedCandidate.ID }

	if err := e.c.AddAshbyDeliveryFault(e.ctx, simclient.AshbyDeliveryFault{Mode: simclient.AshbyDeliveryDrop}); err != nil {
		t.Fatal(err)
	}
	merge("dropped")
	kept := merge("kept")
	got := waitRequests(t, rec, 1)
	if len(got) != 1 || deleted(got[0]) != kept {
		t.Fatalf("drop: %d requests", len(got))
	}

	if err := e.c.AddAshbyDeliveryFault(e.ctx, simclient.AshbyDeliveryFault{Mode: simclient.AshbyDeliveryDuplicate}); err != nil {
		t.Fatal(err)
	}
	dup := merge("twice")
	got = waitRequests(t, rec, 3)
	if deleted(got[1]) != dup || deleted(got[2]) != dup {
		t.Errorf("duplicate: %s / %s", got[1].body, got[2].body)
	}

	if err := e.c.AddAshbyDeliveryFault(e.ctx, simclient.AshbyDeliveryFault{Mode: simclient.AshbyDeliveryDelay, DelaySeconds: 300}); err != nil {
		t.Fatal(err)
	}
	late := merge("late")
	soon := merge("soon")
	got = waitRequests(t, rec, 4)
	if deleted(got[3]) != soon {
		t.Errorf("delayed delivery went first")
	}
	if _, err := e.c.AdvanceClock(e.ctx, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	got = waitRequests(t, rec, 5)
	if deleted(got[4]) != late {
		t.Errorf("delayed delivery %s", got[4].body)
	}

	if err := e.c.AddAshbyDeliveryFault(e.ctx, simclient.AshbyDeliveryFault{Mode: simclient.AshbyDeliveryReorder, Count: 3}); err != nil {
		t.Fatal(err)
	}
	order := []string{merge("r1"), merge("r2")}
	if n := len(rec.requests()); n != 5 {
		t.Fatalf("held deliveries went: %d", n)
	}
	order = append(order, merge("r3"))
	got = waitRequests(t, rec, 8)[5:]
	for i, r := range got {
		if deleted(r) != order[2-i] {
			t.Errorf("reorder position %d: %s", i, r.body)
		}
	}
	if err := e.c.AddAshbyDeliveryFault(e.ctx, simclient.AshbyDeliveryFault{Mode: "shuffle"}); err == nil {
		t.Error("unknown mode accepted")
	}
	if err := e.c.ClearAshbyDeliveryFaults(e.ctx); err != nil {
		t.Fatal(err)
	}
}

func TestAshbyWebhookSettings(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	if _, err := e.c.SetAshbySettings(e.ctx, simclient.AshbySettings{
		RequestsPerSecond: 1e6, Burst: 1 << 20, WebhookActionIDPlacement: "data", SubmitOnAPICreate: "true",
	}); err != nil {
		t.Fatal(err)
	}
	rec, _ := hookSetup(t, e, key, "applicationSubmit")
	var c candidateOut
	e.ashbyOK(key, "candidate.create", map[string]any{"name": "Sub Mitter"}, &c)
	var a applicationOut
	e.ashbyOK(key, "application.create", map[string]any{"candidateId": c.ID, "jobId": jobByTitle(t, o, "Product Designer").ID}, &a)
	r := waitRequests(t, rec, 1)[0]
	var body struct {
		Action          string `json:"action"`
		WebhookActionID string `json:"webhookActionId"`
		Data            struct {
			WebhookActionID string         `json:"webhookActionId"`
			Application     applicationOut `json:"application"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Action != "applicationSubmit" || body.WebhookActionID != "" || body.Data.WebhookActionID == "" || body.Data.Application.ID != a.ID {
		t.Errorf("body %s", r.body)
	}
	if _, err := e.c.SetAshbySettings(e.ctx, simclient.AshbySettings{WebhookActionIDPlacement: "inside"}); err == nil {
		t.Error("bad placement accepted")
	}
}

func TestAshbyJobBoardApplicationFiresApplicationSubmit(t *testing.T) {
	e := ashbyStart(t)
	o, key := e.demoAshby()
	rec, _ := hookSetup(t, e, key, "applicationSubmit")
	out, err := e.c.AddToAshbyOrg(e.ctx, o.ID, simclient.AshbyOrg{Candidates: []simclient.AshbyCandidate{
		{Name: "Imported", Applications: []simclient.AshbyApplication{{Job: "Product Designer"}}},
		{Name: "Applicant", Emails: []string{"applicant@example.org"}, Applications: []simclient.AshbyApplication{{Job: "Product Designer", ViaJobBoard: true}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	b := decodeHook(t, waitRequests(t, rec, 1)[0].body)
	if b.Action != "applicationSubmit" || b.Data.Application.Candidate.ID != out.Candidates[1].ID {
		t.Errorf("applicationSubmit %+v", b)
	}
	ds, err := e.c.AshbyDeliveries(e.ctx)
	if err != nil || len(ds) != 1 {
		t.Errorf("deliveries %d %v (the import must not fire)", len(ds), err)
	}
}
