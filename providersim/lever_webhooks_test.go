package providersim_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// leverHookReceiver records Lever webhook bodies and answers with status.
type leverHookReceiver struct {
	mu     sync.Mutex
	bodies []leverHook
	status int
	srv    *httptest.Server
}

type leverHook struct {
	ID          string         `json:"id"`
	TriggeredAt int64          `json:"triggeredAt"`
	Event       string         `json:"event"`
	Token       string         `json:"token"`
	Signature   string         `json:"signature"`
	Data        map[string]any `json:"data"`
}

func newLeverHookReceiver(t *testing.T) *leverHookReceiver {
	h := &leverHookReceiver{status: http.StatusOK}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var b leverHook
		if err := json.Unmarshal(raw, &b); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		status := h.status
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *leverHookReceiver) got() []leverHook {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]leverHook(nil), h.bodies...)
}

func (h *leverHookReceiver) setStatus(s int) {
	h.mu.Lock()
	h.status = s
	h.mu.Unlock()
}

func (h *leverHookReceiver) wait(t *testing.T, n int) []leverHook {
	t.Helper()
	eventually(t, strconv.Itoa(n)+" webhook deliveries", func() bool { return len(h.got()) >= n })
	return h.got()
}

// verify checks a delivery with nothing but the reference's rule:
// hex(HMAC-SHA256(key = signature token, msg = token + triggeredAt)).
func verify(signatureToken string, h leverHook) bool {
	m := hmac.New(sha256.New, []byte(signatureToken))
	m.Write([]byte(h.Token + strconv.FormatInt(h.TriggeredAt, 10)))
	return hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(h.Signature))
}

func TestLeverWebhooksAPIAndSignedDeliveries(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	rcv := newLeverHookReceiver(t)
	e.leverError(http.MethodPost, "/v1/webhooks", token, map[string]any{"url": "http://hooks.example/lever", "event": "candidateStageChange"}, http.StatusBadRequest)
	e.leverError(http.MethodPost, "/v1/webhooks", token, map[string]any{"url": rcv.srv.URL, "event": "candidateTeleported"}, http.StatusBadRequest)
	hooks := map[string]map[string]any{}
	for _, ev := range []string{"candidateStageChange", "candidateArchiveChange", "candidateHired", "applicationCreated", "candidateDeleted", "contactCreated"} {
		hooks[ev] = data(t, e.leverJSON(http.MethodPost, "/v1/webhooks", token, map[string]any{"url": rcv.srv.URL + "/" + ev, "event": ev}, http.StatusCreated))
	}
	sigToken := func(ev string) string { return hooks[ev]["signatureToken"].(string) }
	if sigToken("candidateHired") == "" || sigToken("candidateHired") == sigToken("candidateStageChange") {
		t.Fatalf("signature tokens %v", hooks)
	}
	list, _ := e.listAll("/v1/webhooks", token)
	if len(list) != 6 {
		t.Errorf("webhooks %d", len(list))
	}
	// A person moves Jordan in Lever: the stage change fires, with ids only.
	opps, err := e.c.LeverOpportunities(e.ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	jordan := opps[0]
	if _, err := e.c.MoveLeverStage(e.ctx, jordan.ID, simclient.LeverStageMove{Stage: "Phone interview", UserID: providersim.DemoLeverUser}); err != nil {
		t.Fatal(err)
	}
	got := rcv.wait(t, 1)
	d := got[0]
	if d.Event != "candidateStageChange" || d.ID == "" || d.Token == "" || !verify(sigToken("candidateStageChange"), d) {
		t.Fatalf("delivery %+v", d)
	}
	if verify(sigToken("candidateHired"), d) {
		t.Error("verified under another webhook's token")
	}
	if d.Data["opportunityId"] != jordan.ID || d.Data["candidateId"] != jordan.ID || d.Data["contactId"] != jordan.ContactID ||
		d.Data["fromStageId"] != "lead-reached-out" || d.Data["toStageId"] == "Phone interview" || d.Data["toStageId"] == "" {
		t.Errorf("stage change data %v", d.Data)
	}
	if now, err := e.c.Clock(e.ctx); err != nil || now.Now.UnixMilli()-d.TriggeredAt > 60_000 || d.TriggeredAt > now.Now.UnixMilli() {
		t.Errorf("triggeredAt %d is not epoch ms of now (err %v)", d.TriggeredAt, err)
	}
	// A hire fires the archive change and candidateHired.
	if _, err := e.c.HireLever(e.ctx, jordan.ID, simclient.LeverArchive{}); err != nil {
		t.Fatal(err)
	}
	got = rcv.wait(t, 3)
	byEvent := map[string]leverHook{}
	for _, g := range got[1:] {
		byEvent[g.Event] = g
	}
	arch, hired := byEvent["candidateArchiveChange"], byEvent["candidateHired"]
	if arch.Data["fromArchived"] != nil || arch.Data["toArchived"].(map[string]any)["reason"] == "" || !verify(sigToken("candidateArchiveChange"), arch) {
		t.Errorf("archive change %+v", arch)
	}
	if hired.Data["opportunityId"] != jordan.ID || !verify(sigToken("candidateHired"), hired) {
		t.Errorf("hired %+v", hired)
	}
	// Created through the API: contactCreated and applicationCreated.
	e.leverJSON(http.MethodPost, "/v1/opportunities?perform_as="+e.leverUserID(providersim.DemoLeverUser), token,
		map[string]any{"name": "New Person", "emails": []string{"new.person@example.org"}, "postings": []string{e.leverPostingID("Product Designer")}}, http.StatusCreated)
	got = rcv.wait(t, 5)
	byEvent = map[string]leverHook{}
	for _, g := range got[3:] {
		byEvent[g.Event] = g
	}
	if app := byEvent["applicationCreated"]; app.Data["postingId"] != e.leverPostingID("Product Designer") || app.Data["applicationId"] == "" {
		t.Errorf("applicationCreated %+v", app)
	}
	if c := byEvent["contactCreated"]; c.Data["contactId"] == "" {
		t.Errorf("contactCreated %+v", c)
	}
	// The API's own stage change fires too; deleting fires candidateDeleted.
	e.leverJSON(http.MethodPut, "/v1/opportunities/"+opps[1].ID+"/stage", token, map[string]any{"stage": "offer"}, http.StatusOK)
	if err := e.c.DeleteLever(e.ctx, opps[2].ID, ""); err != nil {
		t.Fatal(err)
	}
	got = rcv.wait(t, 7)
	byEvent = map[string]leverHook{} // deliveries run side by side: any order
	for _, g := range got[5:] {
		byEvent[g.Event] = g
	}
	if byEvent["candidateStageChange"].Data["toStageId"] != "offer" || byEvent["candidateDeleted"].Data["opportunityId"] != opps[2].ID {
		t.Errorf("last deliveries %+v", got[5:])
	}
	e.leverError(http.MethodGet, "/v1/opportunities/"+opps[2].ID, token, nil, http.StatusNotFound)

	// The connection test is signed and has no opportunityId.
	test, err := e.c.TestLeverWebhook(e.ctx, hooks["candidateStageChange"]["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	got = rcv.wait(t, 8)
	if got[7].ID != test.ID || !verify(sigToken("candidateStageChange"), got[7]) {
		t.Errorf("test delivery %+v", got[7])
	}
	if _, ok := got[7].Data["opportunityId"]; ok {
		t.Errorf("test delivery has an opportunityId: %v", got[7].Data)
	}
	// Update and delete through the API.
	id := hooks["candidateDeleted"]["id"].(string)
	upd := data(t, e.leverJSON(http.MethodPut, "/v1/webhooks/"+id, token, map[string]any{"configuration": map[string]any{"conditions": map[string]any{"origins": []string{"applied"}}}}, http.StatusOK))
	if upd["configuration"].(map[string]any)["conditions"].(map[string]any)["origins"].([]any)[0] != "applied" {
		t.Errorf("updated %v", upd)
	}
	e.leverJSON(http.MethodGet, "/v1/webhooks/"+id, token, nil, http.StatusOK)
	if status, _, _ := e.leverCall(http.MethodDelete, "/v1/webhooks/"+id, token, nil); status != http.StatusNoContent {
		t.Errorf("delete: %d", status)
	}
	e.leverError(http.MethodGet, "/v1/webhooks/"+id, token, nil, http.StatusNotFound)
	stored, err := e.c.LeverWebhooks(e.ctx, providersim.DemoLeverAccount)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 5 || stored[0].SignatureToken == "" {
		t.Errorf("stored webhooks %+v", stored)
	}
}

func TestLeverWebhookOriginCondition(t *testing.T) {
	e := startLever(t)
	rcv := newLeverHookReceiver(t)
	acct := e.leverAccount()
	if _, err := e.c.AddLeverWebhook(e.ctx, acct.ID, simclient.LeverWebhook{URL: rcv.srv.URL, Event: "candidateStageChange", Origins: []string{"applied"}}); err != nil {
		t.Fatal(err)
	}
	opps, err := e.c.LeverOpportunities(e.ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Jordan was sourced, Priya applied: only Priya's move is delivered.
	for _, o := range opps[:2] {
		if _, err := e.c.MoveLeverStage(e.ctx, o.ID, simclient.LeverStageMove{Stage: "offer"}); err != nil {
			t.Fatal(err)
		}
	}
	got := rcv.wait(t, 1)
	eventually(t, "both moves processed", func() bool {
		ds, err := e.c.LeverDeliveries(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds) == 1 && ds[0].State == "delivered"
	})
	if len(got) != 1 || got[0].Data["opportunityId"] != opps[1].ID {
		t.Errorf("deliveries %+v", got)
	}
}

func TestLeverWebhookRetriesOnTheSimulatedClock(t *testing.T) {
	e := startLever(t)
	rcv := newLeverHookReceiver(t)
	rcv.setStatus(http.StatusInternalServerError)
	acct := e.leverAccount()
	if _, err := e.c.AddLeverWebhook(e.ctx, acct.ID, simclient.LeverWebhook{URL: rcv.srv.URL, Event: "candidateStageChange"}); err != nil {
		t.Fatal(err)
	}
	// Markers go to a second receiver: once one arrives, the delivery loop
	// has looked at the clock since it was advanced.
	markers := newLeverHookReceiver(t)
	if _, err := e.c.AddLeverWebhook(e.ctx, acct.ID, simclient.LeverWebhook{URL: markers.srv.URL, Event: "candidateArchiveChange"}); err != nil {
		t.Fatal(err)
	}
	opps, err := e.c.LeverOpportunities(e.ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	marker := func() {
		t.Helper()
		n := len(markers.got())
		reason := "Timing"
		if n%2 == 1 {
			reason = ""
		}
		if _, err := e.c.ArchiveLever(e.ctx, opps[1].ID, simclient.LeverArchive{Reason: reason}); err != nil {
			t.Fatal(err)
		}
		markers.wait(t, n+1)
	}
	if _, err := e.c.MoveLeverStage(e.ctx, opps[0].ID, simclient.LeverStageMove{Stage: "offer"}); err != nil {
		t.Fatal(err)
	}
	delivery := func() simclient.LeverDelivery {
		ds, err := e.c.LeverDeliveries(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Event == "candidateStageChange" {
				return d
			}
		}
		t.Fatalf("no stage change delivery in %+v", ds)
		return simclient.LeverDelivery{}
	}
	settings, err := e.c.LeverSettings(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	gaps := settings.WebhookRetryDelaysSeconds
	if len(gaps) != 5 {
		t.Fatalf("retry schedule %v", gaps)
	}
	for attempt := 1; attempt <= 6; attempt++ {
		eventually(t, "attempt "+strconv.Itoa(attempt), func() bool { return delivery().Attempts == attempt })
		d := delivery()
		if attempt == 6 {
			if d.State != "failed" || d.NextAttemptAt != nil {
				t.Errorf("after 6 attempts: %+v", d)
			}
			break
		}
		if d.State != "pending" || d.NextAttemptAt == nil {
			t.Fatalf("attempt %d: %+v", attempt, d)
		}
		// Nothing happens before the gap is over on the simulated clock.
		gap := time.Duration(gaps[attempt-1]) * time.Second
		if _, err := e.c.AdvanceClock(e.ctx, gap-2*time.Second); err != nil {
			t.Fatal(err)
		}
		marker()
		if d := delivery(); d.Attempts != attempt || d.State != "pending" {
			t.Fatalf("retried %v early", gap)
		}
		if _, err := e.c.AdvanceClock(e.ctx, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	got := rcv.got()
	if len(got) != 6 {
		t.Fatalf("%d attempts received", len(got))
	}
	for _, g := range got[1:] {
		if g.ID != got[0].ID || g.Signature != got[0].Signature {
			t.Errorf("a retry is not the same delivery: %+v", g)
		}
	}
	if d := delivery(); len(d.Statuses) != 6 || d.Statuses[0] != 500 {
		t.Errorf("statuses %v", d.Statuses)
	}
	// A receiver that recovers gets the retry and the delivery ends.
	rcv.setStatus(http.StatusOK)
	if _, err := e.c.MoveLeverStage(e.ctx, opps[0].ID, simclient.LeverStageMove{Stage: "lead-new"}); err == nil {
		eventually(t, "second delivery", func() bool { return len(rcv.got()) == 7 })
	} else {
		t.Fatal(err)
	}
	if n, err := e.c.Counter(e.ctx, "lever.webhooks.retries"); err != nil || n != 5 {
		t.Errorf("retries counted %d (err %v)", n, err)
	}
}

func TestLeverDeliveryFaults(t *testing.T) {
	e := startLever(t)
	rcv := newLeverHookReceiver(t)
	acct := e.leverAccount()
	if _, err := e.c.AddLeverWebhook(e.ctx, acct.ID, simclient.LeverWebhook{URL: rcv.srv.URL, Event: "candidateStageChange"}); err != nil {
		t.Fatal(err)
	}
	opps, err := e.c.LeverOpportunities(e.ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	move := func(i int, stage string) {
		t.Helper()
		if _, err := e.c.MoveLeverStage(e.ctx, opps[i].ID, simclient.LeverStageMove{Stage: stage}); err != nil {
			t.Fatal(err)
		}
	}
	fault := func(f simclient.LeverDeliveryFault) {
		t.Helper()
		if err := e.c.AddLeverDeliveryFault(e.ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	// Drop: nothing arrives, the log says dropped.
	fault(simclient.LeverDeliveryFault{Mode: simclient.NotifyDrop})
	move(0, "offer")
	// Duplicate: the same delivery twice.
	fault(simclient.LeverDeliveryFault{Mode: simclient.NotifyDuplicate})
	move(1, "offer")
	got := rcv.wait(t, 2)
	if got[0].ID != got[1].ID || got[0].Data["opportunityId"] != opps[1].ID {
		t.Errorf("duplicate %+v", got)
	}
	ds, err := e.c.LeverDeliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].State != "dropped" {
		t.Errorf("dropped delivery %+v", ds[0])
	}
	// Delay: held until the simulated clock passes it; the move after it
	// is not delayed and overtakes it.
	fault(simclient.LeverDeliveryFault{Mode: simclient.NotifyDelay, DelaySeconds: 600})
	move(2, "offer")
	move(0, "applicant-new")
	if got := rcv.wait(t, 3); len(got) != 3 || got[2].Data["opportunityId"] != opps[0].ID {
		t.Fatalf("delayed delivery arrived early: %+v", got[2:])
	}
	if _, err := e.c.AdvanceClock(e.ctx, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	got = rcv.wait(t, 4)
	if got[3].Data["opportunityId"] != opps[2].ID {
		t.Errorf("delayed %+v", got[3])
	}
	// Re-order: three moves arrive last first.
	fault(simclient.LeverDeliveryFault{Mode: simclient.LeverReorder, Count: 3})
	move(0, "lead-new")
	move(1, "lead-new")
	ds, err = e.c.LeverDeliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ds[len(ds)-1].State != "held" || ds[len(ds)-2].State != "held" {
		t.Fatalf("not held: %+v", ds[len(ds)-2:])
	}
	move(2, "lead-new")
	got = rcv.wait(t, 7)
	if got[4].Data["opportunityId"] != opps[2].ID || got[5].Data["opportunityId"] != opps[1].ID || got[6].Data["opportunityId"] != opps[0].ID {
		t.Errorf("re-ordered: %v %v %v", got[4].Data["opportunityId"], got[5].Data["opportunityId"], got[6].Data["opportunityId"])
	}
	for _, bad := range []simclient.LeverDeliveryFault{{Mode: "explode"}, {Mode: simclient.NotifyDelay}, {Mode: simclient.LeverReorder, Count: 1}} {
		if err := e.c.AddLeverDeliveryFault(e.ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := e.c.ClearLeverDeliveryFaults(e.ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLeverWebhookTimeoutIsAFailedAttempt(t *testing.T) {
	e := startLever(t)
	release := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // the first attempt gets no answer in time
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	if _, err := e.c.SetLeverSettings(e.ctx, simclient.LeverSettings{WebhookTimeoutMs: 100, RateLimitPerSecond: 1e6, RateLimitBurst: 1e6}); err != nil {
		t.Fatal(err)
	}
	acct := e.leverAccount()
	if _, err := e.c.AddLeverWebhook(e.ctx, acct.ID, simclient.LeverWebhook{URL: srv.URL, Event: "candidateStageChange"}); err != nil {
		t.Fatal(err)
	}
	opps, err := e.c.LeverOpportunities(e.ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.MoveLeverStage(e.ctx, opps[0].ID, simclient.LeverStageMove{Stage: "offer"}); err != nil {
		t.Fatal(err)
	}
	one := func() simclient.LeverDelivery {
		ds, err := e.c.LeverDeliveries(e.ctx)
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries %+v %v", ds, err)
		}
		return ds[0]
	}
	eventually(t, "the timed-out attempt", func() bool { return one().Attempts == 1 })
	if d := one(); d.Statuses[0] != 0 || d.State != "pending" {
		t.Fatalf("after a timeout %+v", d)
	}
	if _, err := e.c.AdvanceClock(e.ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the retry", func() bool { return one().State == "delivered" })
	if d := one(); !slices.Equal(d.Statuses, []int{0, 200}) {
		t.Errorf("statuses %v", d.Statuses)
	}
}

func TestLeverContactUpdatedByAPerson(t *testing.T) {
	e := startLever(t)
	token := e.leverTokens(leverScopes).AccessToken
	rcv := newLeverHookReceiver(t)
	acct := e.leverAccount()
	hook, err := e.c.AddLeverWebhook(e.ctx, acct.ID, simclient.LeverWebhook{URL: rcv.srv.URL, Event: "contactUpdated"})
	if err != nil {
		t.Fatal(err)
	}
	opps, err := e.c.LeverOpportunities(e.ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	jordan := opps[0]
	// A second opportunity of the same contact, created through the API.
	second := data(t, e.leverJSON(http.MethodPost, "/v1/opportunities?perform_as="+e.leverUserID(providersim.DemoLeverUser), token,
		map[string]any{"name": "Jordan Lee", "emails": []string{"jordan.lee@gmail.example"}, "postings": []string{e.leverPostingID("Product Designer")}}, http.StatusCreated))
	rcv.wait(t, 1) // the de-duplicated create updated the contact
	name, emails := "Jordan A. Lee", []string{"jordan@lee.example"}
	if _, err := e.c.UpdateLeverContact(e.ctx, jordan.ID, simclient.LeverContactUpdate{Name: &name, Emails: &emails}); err != nil {
		t.Fatal(err)
	}
	got := rcv.wait(t, 2)
	if got[1].Data["contactId"] != jordan.ContactID || !verify(hook.SignatureToken, got[1]) {
		t.Errorf("contactUpdated %+v", got[1])
	}
	o := data(t, e.leverJSON(http.MethodGet, "/v1/opportunities/"+second["id"].(string), token, nil, http.StatusOK))
	if o["name"] != name || anyStrings(o["emails"])[0] != "jordan@lee.example" {
		t.Errorf("other opportunity of the contact %v", o)
	}
	// The old address no longer de-duplicates; the new one does.
	fresh := data(t, e.leverJSON(http.MethodPost, "/v1/opportunities?perform_as="+e.leverUserID(providersim.DemoLeverUser), token,
		map[string]any{"name": "J", "emails": []string{"jordan.lee@gmail.example"}}, http.StatusCreated))
	same := data(t, e.leverJSON(http.MethodPost, "/v1/opportunities?perform_as="+e.leverUserID(providersim.DemoLeverUser), token,
		map[string]any{"name": "J", "emails": []string{"JORDAN@lee.example"}}, http.StatusCreated))
	if fresh["contact"] == jordan.ContactID || same["contact"] != jordan.ContactID {
		t.Errorf("de-duplication after the edit: %v %v", fresh["contact"], same["contact"])
	}
	bad := ""
	if _, err := e.c.UpdateLeverContact(e.ctx, jordan.ID, simclient.LeverContactUpdate{Name: &bad}); err == nil {
		t.Error("an empty name was accepted")
	}
}
