package providersim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// hook is a webhook receiver. Validation requests are answered per path:
// /encoded echoes the token still URL-encoded, /error answers 500, /json
// answers with the wrong content type, /slow never answers; every other path
// passes. Notifications are answered with the statuses queued for the path,
// then 202.
type hook struct {
	t     *testing.T
	srv   *httptest.Server
	block chan struct{}

	mu          sync.Mutex
	validations []*url.URL
	posts       map[string][][]byte
	statuses    map[string][]int
	hang        map[string]bool
}

func newHook(t *testing.T) *hook {
	h := &hook{t: t, block: make(chan struct{}), posts: map[string][][]byte{}, statuses: map[string][]int{}, hang: map[string]bool{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() { close(h.block) })
	return h
}

func (h *hook) url(path string) string { return h.srv.URL + path }

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if token := r.URL.Query().Get("validationToken"); token != "" {
		h.mu.Lock()
		h.validations = append(h.validations, r.URL)
		h.mu.Unlock()
		switch r.URL.Path {
		case "/slow":
			select {
			case <-h.block:
			case <-r.Context().Done():
			}
			return
		case "/error":
			w.WriteHeader(500)
			return
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, token)
			return
		case "/encoded":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, url.QueryEscape(token))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, token)
		return
	}
	key := r.URL.Path + "?" + r.URL.RawQuery
	h.mu.Lock()
	h.posts[key] = append(h.posts[key], body)
	status := http.StatusAccepted
	if q := h.statuses[r.URL.Path]; len(q) > 0 {
		status, h.statuses[r.URL.Path] = q[0], q[1:]
	}
	hang := h.hang[r.URL.Path]
	h.mu.Unlock()
	if hang {
		select {
		case <-h.block:
		case <-r.Context().Done():
		}
		return
	}
	w.WriteHeader(status)
}

func (h *hook) received(key string) [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.posts[key]...)
}

func (h *hook) fail(path string, statuses ...int) {
	h.mu.Lock()
	h.statuses[path] = append(h.statuses[path], statuses...)
	h.mu.Unlock()
}

type notification struct {
	ID                             string `json:"id"`
	SubscriptionID                 string `json:"subscriptionId"`
	SubscriptionExpirationDateTime string `json:"subscriptionExpirationDateTime"`
	ChangeType                     string `json:"changeType"`
	Resource                       string `json:"resource"`
	ClientState                    string `json:"clientState"`
	TenantID                       string `json:"tenantId"`
	LifecycleEvent                 string `json:"lifecycleEvent"`
	ResourceData                   struct {
		ODataType string `json:"@odata.type"`
		ODataID   string `json:"@odata.id"`
		ID        string `json:"id"`
	} `json:"resourceData"`
}

func decodeNotifications(t *testing.T, raw []byte) []notification {
	t.Helper()
	var body struct {
		Value []notification `json:"value"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("notification body %s: %v", raw, err)
	}
	return body.Value
}

func subscribe(e *env, token string, body map[string]any, want int, headers ...string) map[string]any {
	e.t.Helper()
	if body["expirationDateTime"] == nil {
		now, err := e.c.Clock(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		body["expirationDateTime"] = now.Now.Add(72 * time.Hour).Format(time.RFC3339)
	}
	if body["changeType"] == nil {
		body["changeType"] = "created"
	}
	if body["resource"] == nil {
		body["resource"] = "/me/mailFolders('inbox')/messages"
	}
	return e.graphJSON("POST", "/v1.0/subscriptions", token, body, want, headers...)
}

func TestSubscriptionValidationHandshake(t *testing.T) {
	e := start(t)
	h := newHook(t)
	token := e.graphToken(providersim.DemoContosoUser)
	sub := subscribe(e, token, map[string]any{"notificationUrl": h.url("/good"), "clientState": "s3cr3t"}, 201)
	if sub["id"] == "" || sub["clientState"] != "s3cr3t" || sub["notificationUrl"] != h.url("/good") ||
		sub["applicationId"] != providersim.DefaultClientID || sub["resource"] != "/me/mailFolders('inbox')/messages" {
		t.Errorf("subscription %v", sub)
	}
	h.mu.Lock()
	v := h.validations[0]
	h.mu.Unlock()
	if !strings.Contains(v.RawQuery, "validationToken=Validation%3A+Testing+client+application+reachability") {
		t.Errorf("validation query %q is not URL-encoded", v.RawQuery)
	}

	for _, c := range []struct{ path, message string }{
		{"/encoded", "Subscription validation request failed"},
		{"/error", "Subscription validation request failed"},
		{"/json", "Subscription validation request failed"},
		{"/slow", "timed out"},
	} {
		if c.path == "/slow" {
			if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{ValidationTimeoutMs: 300}); err != nil {
				t.Fatal(err)
			}
		}
		status, _, raw := e.graphCall("POST", "/v1.0/subscriptions", token, map[string]any{
			"changeType": "created", "notificationUrl": h.url(c.path), "resource": "me/mailFolders('Inbox')/messages",
			"expirationDateTime": time.Now().Add(time.Hour).Format(time.RFC3339),
		})
		if status != 400 || graphErrorCode(t, raw) != "ValidationError" || !strings.Contains(string(raw), c.message) {
			t.Errorf("%s: %d %s", c.path, status, raw)
		}
	}
	// The lifecycle URL is validated too.
	status, _, raw := e.graphCall("POST", "/v1.0/subscriptions", token, map[string]any{
		"changeType": "created", "notificationUrl": h.url("/good"), "lifecycleNotificationUrl": h.url("/error"),
		"resource": "/me/messages", "expirationDateTime": time.Now().Add(time.Hour).Format(time.RFC3339),
	})
	if status != 400 {
		t.Errorf("bad lifecycle URL: %d %s", status, raw)
	}
	before := len(h.validations)
	subscribe(e, token, map[string]any{"notificationUrl": h.url("/good"), "lifecycleNotificationUrl": h.url("/lifecycle")}, 201)
	h.mu.Lock()
	if got := len(h.validations) - before; got != 2 {
		t.Errorf("validations for two URLs: %d", got)
	}
	h.mu.Unlock()
	subs, err := e.c.Subscriptions(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 2 {
		t.Errorf("subscriptions %+v", subs)
	}
}

func TestSubscriptionLifetime(t *testing.T) {
	e := start(t)
	h := newHook(t)
	// Access tokens that outlive the clock jumps below.
	if err := e.c.SetLifetimes(e.ctx, simclient.Lifetimes{AccessTokenSeconds: 30 * 24 * 3600}); err != nil {
		t.Fatal(err)
	}
	token := e.graphToken(providersim.DemoContosoUser)
	now, err := e.c.Clock(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"too long", map[string]any{"expirationDateTime": now.Now.Add(10081 * time.Minute).Format(time.RFC3339)}, 400},
		{"in the past", map[string]any{"expirationDateTime": now.Now.Add(-time.Minute).Format(time.RFC3339)}, 400},
		{"long clientState", map[string]any{"clientState": strings.Repeat("x", 129)}, 400},
		{"unsupported resource", map[string]any{"resource": "/me/events"}, 400},
		{"unknown folder", map[string]any{"resource": "/me/mailFolders('nope')/messages"}, 400},
		{"bad changeType", map[string]any{"changeType": "created,moved"}, 400},
		{"another mailbox", map[string]any{"resource": "/users/" + providersim.DemoContosoAdmin + "/messages"}, 403},
	} {
		c.body["notificationUrl"] = h.url("/good")
		status, _, raw := e.graphCall("POST", "/v1.0/subscriptions", token, fill(e, c.body))
		if status != c.want {
			t.Errorf("%s: %d %s", c.name, status, raw)
		}
	}
	sub := subscribe(e, token, map[string]any{"notificationUrl": h.url("/good"), "expirationDateTime": now.Now.Add(10080 * time.Minute).Format(time.RFC3339)}, 201)
	id := sub["id"].(string)
	e.graphJSON("GET", "/v1.0/subscriptions/"+id, token, nil, 200)
	renewed := now.Now.Add(96 * time.Hour).UTC().Truncate(time.Second)
	got := e.graphJSON("PATCH", "/v1.0/subscriptions/"+id, token, map[string]any{"expirationDateTime": renewed.Format(time.RFC3339)}, 200)
	if exp, err := time.Parse(time.RFC3339Nano, got["expirationDateTime"].(string)); err != nil || !exp.Equal(renewed) {
		t.Errorf("renewed to %v, want %v (err %v)", got["expirationDateTime"], renewed, err)
	}
	if list := e.graphJSON("GET", "/v1.0/subscriptions", token, nil, 200)["value"].([]any); len(list) != 1 {
		t.Errorf("list %v", list)
	}
	if status, _, _ := e.graphCall("POST", "/v1.0/subscriptions/"+id+"/reauthorize", token, nil); status != 204 {
		t.Errorf("reauthorize: %d", status)
	}
	other := e.graphToken(providersim.DemoContosoAdmin)
	if status, _, _ := e.graphCall("GET", "/v1.0/subscriptions/"+id, other, nil); status != 404 {
		t.Errorf("someone else's subscription: %d", status)
	}
	if status, _, _ := e.graphCall("DELETE", "/v1.0/subscriptions/"+id, token, nil); status != 204 {
		t.Errorf("delete: %d", status)
	}
	if status, _, _ := e.graphCall("GET", "/v1.0/subscriptions/"+id, token, nil); status != 404 {
		t.Errorf("after delete: %d", status)
	}
	id = subscribe(e, token, map[string]any{"notificationUrl": h.url("/good")}, 201)["id"].(string)
	if _, err := e.c.AdvanceClock(e.ctx, 73*time.Hour); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.graphCall("GET", "/v1.0/subscriptions/"+id, token, nil); status != 404 {
		t.Errorf("expired subscription: %d", status)
	}
}

func fill(e *env, body map[string]any) map[string]any {
	if body["expirationDateTime"] == nil {
		body["expirationDateTime"] = time.Now().Add(time.Hour).Format(time.RFC3339)
	}
	if body["changeType"] == nil {
		body["changeType"] = "created"
	}
	if body["resource"] == nil {
		body["resource"] = "/me/mailFolders('inbox')/messages"
	}
	return body
}

func TestChangeNotifications(t *testing.T) {
	e := start(t)
	h := newHook(t)
	token := e.graphToken(providersim.DemoContosoUser)
	adele := e.user(providersim.DemoContosoUser)
	imm := []string{"Prefer", `IdType="ImmutableId"`}
	sub := subscribe(e, token, map[string]any{"notificationUrl": h.url("/hook?tenant=contoso"), "clientState": "cs-1"}, 201, imm...)

	// An outbound send does not touch the Inbox; the candidate's reply does.
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate)}, 202)
	ext, err := e.c.Messages(e.ctx, candidate, "")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := e.c.Reply(e.ctx, simclient.Reply{From: candidate, InternetMessageID: ext[0].InternetMessageID, Body: "Interested!"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a change notification", func() bool { return len(h.received("/hook?tenant=contoso")) == 1 })
	ns := decodeNotifications(t, h.received("/hook?tenant=contoso")[0])
	if len(ns) != 1 {
		t.Fatalf("notifications %+v", ns)
	}
	n := ns[0]
	if n.SubscriptionID != sub["id"] || n.ClientState != "cs-1" || n.ChangeType != "created" || n.TenantID != adele.TenantID ||
		n.Resource != "Users/"+adele.ID+"@"+adele.TenantID+"/Messages/"+n.ResourceData.ID || n.ResourceData.ODataID != n.Resource ||
		n.ResourceData.ODataType != "#Microsoft.Graph.Message" {
		t.Errorf("notification %+v", n)
	}
	got := e.graphJSON("GET", "/v1.0/me/messages/"+n.ResourceData.ID, token, nil, 200, imm...)
	if got["internetMessageId"] != reply.InternetMessageID {
		t.Errorf("notified message %v", got["internetMessageId"])
	}
	// Updates are not sent to a created-only subscription.
	e.graphJSON("PATCH", "/v1.0/me/messages/"+n.ResourceData.ID, token, map[string]any{"isRead": true}, 200, imm...)
	inbound(t, e, providersim.DemoContosoUser, "second")
	eventually(t, "the second notification", func() bool { return len(h.received("/hook?tenant=contoso")) == 2 })
	if c, err := e.c.Counter(e.ctx, "graph.notifications"); err != nil || c != 2 {
		t.Errorf("notifications counted %d (err %v)", c, err)
	}
}

func TestNotificationRetries(t *testing.T) {
	e := start(t)
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{NotificationRetryDelaysMs: []int{10, 10, 10}, NotificationTimeoutMs: 5000}); err != nil {
		t.Fatal(err)
	}
	h := newHook(t)
	token := e.graphToken(providersim.DemoContosoUser)
	sub := subscribe(e, token, map[string]any{"notificationUrl": h.url("/flaky")}, 201)["id"].(string)

	h.fail("/flaky", 503, 500)
	inbound(t, e, providersim.DemoContosoUser, "retry me")
	eventually(t, "delivery after retries", func() bool { return len(h.received("/flaky?")) == 3 })
	var d simclient.Delivery
	eventually(t, "the delivery log", func() bool {
		ds, err := e.c.Deliveries(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 {
			d = ds[0]
		}
		return d.State == simclient.DeliveryDelivered
	})
	if d.Attempts != 3 || len(d.Statuses) != 3 || d.Statuses[0] != 503 || d.Statuses[1] != 500 || d.Statuses[2] != 202 || d.SubscriptionID != sub {
		t.Errorf("delivery %+v", d)
	}

	// Retries run out: 1 attempt + 3 retries, then the notification is lost.
	h.fail("/flaky", 500, 500, 500, 500)
	inbound(t, e, providersim.DemoContosoUser, "never arrives")
	eventually(t, "retries to run out", func() bool {
		ds, err := e.c.Deliveries(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds) == 2 && ds[1].State == simclient.DeliveryFailed
	})
	ds, err := e.c.Deliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ds[1].Attempts != 4 {
		t.Errorf("failed delivery %+v", ds[1])
	}

	// An endpoint that does not answer in time counts as a failure (status 0).
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{NotificationRetryDelaysMs: []int{10}, NotificationTimeoutMs: 100}); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.hang["/flaky"] = true
	h.mu.Unlock()
	inbound(t, e, providersim.DemoContosoUser, "slow")
	eventually(t, "timeouts", func() bool {
		ds, err := e.c.Deliveries(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(ds) == 3 && ds[2].State == simclient.DeliveryFailed
	})
	ds, err = e.c.Deliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ds[2].Attempts != 2 || ds[2].Statuses[0] != 0 || ds[2].Statuses[1] != 0 {
		t.Errorf("timeouts %+v", ds[2])
	}
}

func TestNotificationFaults(t *testing.T) {
	e := start(t)
	h := newHook(t)
	token := e.graphToken(providersim.DemoContosoUser)
	subscribe(e, token, map[string]any{"notificationUrl": h.url("/n")}, 201)

	if err := e.c.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: simclient.NotifyDrop}); err != nil {
		t.Fatal(err)
	}
	inbound(t, e, providersim.DemoContosoUser, "dropped")
	inbound(t, e, providersim.DemoContosoUser, "delivered")
	eventually(t, "the second notification", func() bool { return len(h.received("/n?")) == 1 })
	ds, err := e.c.Deliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].State != simclient.DeliveryDropped || ds[0].Attempts != 0 {
		t.Errorf("deliveries %+v", ds)
	}

	if err := e.c.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: simclient.NotifyDuplicate}); err != nil {
		t.Fatal(err)
	}
	inbound(t, e, providersim.DemoContosoUser, "twice")
	eventually(t, "a duplicate", func() bool { return len(h.received("/n?")) == 3 })
	got := h.received("/n?")
	if string(got[1]) != string(got[2]) {
		t.Errorf("duplicate differs:\n%s\n%s", got[1], got[2])
	}

	if err := e.c.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: simclient.NotifyDelay, DelayMs: 3_600_000}); err != nil {
		t.Fatal(err)
	}
	inbound(t, e, providersim.DemoContosoUser, "late")
	inbound(t, e, providersim.DemoContosoUser, "on time")
	eventually(t, "the undelayed notification", func() bool { return len(h.received("/n?")) == 4 })
	ds, err = e.c.Deliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	late := ds[len(ds)-2]
	if late.State != simclient.DeliveryPending || late.Attempts != 0 {
		t.Errorf("delayed delivery %+v", late)
	}
	if err := e.c.AddNotificationFault(e.ctx, simclient.NotificationFault{Mode: "explode"}); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestLifecycleNotifications(t *testing.T) {
	e := start(t)
	h := newHook(t)
	token := e.graphToken(providersim.DemoContosoUser)
	id := subscribe(e, token, map[string]any{"notificationUrl": h.url("/n"), "lifecycleNotificationUrl": h.url("/life"), "clientState": "cs"}, 201)["id"].(string)

	if err := e.c.TriggerLifecycle(e.ctx, id, simclient.LifecycleReauthorizationRequired); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reauthorizationRequired", func() bool { return len(h.received("/life?")) == 1 })
	ln := decodeNotifications(t, h.received("/life?")[0])[0]
	if ln.LifecycleEvent != "reauthorizationRequired" || ln.SubscriptionID != id || ln.ClientState != "cs" || ln.SubscriptionExpirationDateTime == "" {
		t.Errorf("lifecycle %+v", ln)
	}
	// Until reauthorized, changes are not delivered.
	inbound(t, e, providersim.DemoContosoUser, "lost")
	if n, err := e.c.Counter(e.ctx, "graph.notifications.paused"); err != nil || n != 1 {
		t.Errorf("paused %d (err %v)", n, err)
	}
	if status, _, _ := e.graphCall("POST", "/v1.0/subscriptions/"+id+"/reauthorize", token, nil); status != 204 {
		t.Fatalf("reauthorize: %d", status)
	}
	inbound(t, e, providersim.DemoContosoUser, "delivered")
	eventually(t, "notification after reauthorize", func() bool { return len(h.received("/n?")) == 1 })

	if err := e.c.TriggerLifecycle(e.ctx, id, simclient.LifecycleMissed); err != nil {
		t.Fatal(err)
	}
	if err := e.c.TriggerLifecycle(e.ctx, id, simclient.LifecycleSubscriptionRemoved); err != nil {
		t.Fatal(err)
	}
	eventually(t, "missed and subscriptionRemoved", func() bool { return len(h.received("/life?")) == 3 })
	events := map[string]bool{}
	for _, raw := range h.received("/life?") {
		events[decodeNotifications(t, raw)[0].LifecycleEvent] = true
	}
	if !events["missed"] || !events["subscriptionRemoved"] {
		t.Errorf("events %v", events)
	}
	if status, _, _ := e.graphCall("GET", "/v1.0/subscriptions/"+id, token, nil); status != 404 {
		t.Errorf("removed subscription: %d", status)
	}
	plain := subscribe(e, token, map[string]any{"notificationUrl": h.url("/n")}, 201)["id"].(string)
	err := e.c.TriggerLifecycle(e.ctx, plain, simclient.LifecycleMissed)
	var ce *simclient.Error
	if !asError(err, &ce) || ce.Status != 400 {
		t.Errorf("lifecycle without a URL: %v", err)
	}
}

// One POST carries several notifications, of several subscriptions that
// share the URL, as Graph's do: a receiver must read every entry.
func TestNotificationsComeInBatches(t *testing.T) {
	e := start(t)
	h := newHook(t)
	adeleToken := e.graphToken(providersim.DemoContosoUser)
	meganToken := e.graphToken(providersim.DemoContosoAdmin)
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{NotificationBatchSize: 3, NotificationBatchWaitMs: 1500}); err != nil {
		t.Fatal(err)
	}
	subA := subscribe(e, adeleToken, map[string]any{"notificationUrl": h.url("/batch"), "clientState": "a"}, 201)["id"].(string)
	subM := subscribe(e, meganToken, map[string]any{"notificationUrl": h.url("/batch"), "clientState": "m"}, 201)["id"].(string)
	inbound := func(subject string) {
		t.Helper()
		_, err := e.c.Inbound(e.ctx, simclient.InboundMessage{
			From: simclient.Address{Address: candidate}, Subject: subject,
			To: []simclient.Address{{Address: providersim.DemoContosoUser}, {Address: providersim.DemoContosoAdmin}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	inbound("first") // two notifications: wait for a third or the timer
	inbound("second")
	eventually(t, "two POSTs", func() bool { return len(h.received("/batch?")) == 2 })
	var counts []int
	subs := map[string]int{}
	for _, raw := range h.received("/batch?") {
		ns := decodeNotifications(t, raw)
		counts = append(counts, len(ns))
		for _, n := range ns {
			subs[n.SubscriptionID]++
			if (n.SubscriptionID == subA) != (n.ClientState == "a") {
				t.Errorf("notification %+v has another subscription's clientState", n)
			}
		}
	}
	if fmt.Sprint(counts) != "[3 1]" || subs[subA] != 2 || subs[subM] != 2 {
		t.Errorf("notifications per POST %v, per subscription %v", counts, subs)
	}
	ds, err := e.c.Deliveries(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Notifications != 3 || len(ds[0].SubscriptionIDs) != 3 || ds[1].Notifications != 1 {
		t.Errorf("deliveries %+v", ds)
	}

	// Batch size 1: one notification per POST.
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{NotificationBatchSize: 1}); err != nil {
		t.Fatal(err)
	}
	inbound("third")
	eventually(t, "two more POSTs", func() bool { return len(h.received("/batch?")) == 4 })
	for _, raw := range h.received("/batch?")[2:] {
		if ns := decodeNotifications(t, raw); len(ns) != 1 {
			t.Errorf("batch size 1: %d notifications in a POST", len(ns))
		}
	}
}
