package providersim_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func retryAfter(t *testing.T, h http.Header) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(h.Get("Retry-After"), 64)
	if err != nil {
		t.Fatalf("Retry-After %q: %v", h.Get("Retry-After"), err)
	}
	return v
}

func TestMailboxConcurrencyLimit(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	other := e.graphToken(providersim.DemoContosoAdmin)
	f, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "graph.listMessages", Mailbox: providersim.DemoContosoUser, Stall: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range 4 {
		wg.Go(func() {
			statuses[i], _, _ = e.graphCall("GET", "/v1.0/me/messages", token, nil)
		})
	}
	gauge := "graph.inflight/app=" + providersim.DefaultClientID + "/user=" + providersim.DemoContosoUser
	eventually(t, "four requests in flight", func() bool {
		n, _ := e.c.Counter(e.ctx, gauge)
		return n == 4
	})
	status, hdr, raw := e.graphCall("GET", "/v1.0/me/mailFolders", token, nil)
	if status != 429 || graphErrorCode(t, raw) != "ApplicationThrottled" || retryAfter(t, hdr) <= 0 {
		t.Errorf("fifth request: %d %v %s", status, hdr, raw)
	}
	if !strings.Contains(string(raw), "MailboxConcurrency") {
		t.Errorf("message %s", raw)
	}
	// Another mailbox is not affected.
	e.graphJSON("GET", "/v1.0/me/mailFolders", other, nil, 200)
	if err := e.c.RemoveFault(e.ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("stalled request %d: %d", i, s)
		}
	}
	e.graphJSON("GET", "/v1.0/me/mailFolders", token, nil, 200)
}

func TestRequestsPerWindowLimit(t *testing.T) {
	e := start(t)
	if err := e.c.SetLifetimes(e.ctx, simclient.Lifetimes{AccessTokenSeconds: 24 * 3600}); err != nil {
		t.Fatal(err)
	}
	token := e.graphToken(providersim.DemoContosoUser)
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{RequestsPerWindow: 3}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.graphJSON("GET", "/v1.0/me/mailFolders", token, nil, 200)
	}
	status, hdr, raw := e.graphCall("GET", "/v1.0/me/mailFolders", token, nil)
	if status != 429 || graphErrorCode(t, raw) != "TooManyRequests" {
		t.Fatalf("fourth request: %d %s", status, raw)
	}
	if ra := retryAfter(t, hdr); ra <= 590 || ra > 600 {
		t.Errorf("Retry-After %v, want just under 600", ra)
	}
	if !strings.Contains(string(raw), `"code":"429"`) || !strings.Contains(string(raw), `"status":"429"`) {
		t.Errorf("429 innerError %s", raw)
	}
	if _, err := e.c.AdvanceClock(e.ctx, 601*time.Second); err != nil {
		t.Fatal(err)
	}
	e.graphJSON("GET", "/v1.0/me/mailFolders", token, nil, 200)
	limits, _ := e.c.GraphLimits(e.ctx)
	if limits.RequestsPerWindow != 3 || limits.ConcurrentRequests != 4 || limits.MessagesPerMinute != 30 || limits.RecipientsPerDay != 10000 {
		t.Errorf("limits %+v", limits)
	}
}

func TestSendingLimits(t *testing.T) {
	e := start(t)
	if err := e.c.SetLifetimes(e.ctx, simclient.Lifetimes{AccessTokenSeconds: 7 * 24 * 3600}); err != nil {
		t.Fatal(err)
	}
	token := e.graphToken(providersim.DemoContosoUser)
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{MessagesPerMinute: 2, RecipientsPerDay: 5, MaxRecipientsPerMessage: 3}); err != nil {
		t.Fatal(err)
	}
	send := func(to ...string) (int, http.Header, []byte) {
		return e.graphCall("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(to...)})
	}
	for range 2 {
		if s, _, raw := send(candidate); s != 202 {
			t.Fatalf("send: %d %s", s, raw)
		}
	}
	s, hdr, raw := send(candidate)
	if s != 429 || graphErrorCode(t, raw) != "TooManyRequests" {
		t.Fatalf("third message in a minute: %d %s", s, raw)
	}
	if ra := retryAfter(t, hdr); ra <= 0 || ra > 60 {
		t.Errorf("Retry-After %v", ra)
	}
	// Draft send and reply count as messages too.
	draft := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201)
	if s, _, _ := e.graphCall("POST", "/v1.0/me/messages/"+draft["id"].(string)+"/send", token, nil); s != 429 {
		t.Errorf("draft send over the rate: %d", s)
	}
	if ext, _ := e.c.Messages(e.ctx, candidate, ""); len(ext) != 2 {
		t.Errorf("throttled sends were delivered: %d", len(ext))
	}
	if _, err := e.c.AdvanceClock(e.ctx, 61*time.Second); err != nil {
		t.Fatal(err)
	}
	// Two recipients sent so far; three more fit the day, four do not.
	if s, _, raw := send("a@x.example", "b@x.example", "c@x.example", "d@x.example"); s != 400 || graphErrorCode(t, raw) != "ErrorInvalidRecipients" {
		t.Errorf("over recipients per message: %d %s", s, raw)
	}
	if s, _, _ := send("a@x.example", "b@x.example"); s != 202 {
		t.Errorf("within the day: %d", s)
	}
	s, hdr, raw = send("c@x.example", "d@x.example")
	if s != 429 || graphErrorCode(t, raw) != "TooManyRequests" {
		t.Fatalf("over recipients per day: %d %s", s, raw)
	}
	if ra := retryAfter(t, hdr); ra < 23*3600 || ra > 24*3600 {
		t.Errorf("Retry-After %v, want about a day", ra)
	}
	if _, err := e.c.AdvanceClock(e.ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if s, _, raw := send("c@x.example", "d@x.example"); s != 202 {
		t.Errorf("next day: %d %s", s, raw)
	}
}

func TestInjectedFaults(t *testing.T) {
	e := start(t)
	token := e.graphToken(providersim.DemoContosoUser)
	other := e.graphToken(providersim.DemoContosoAdmin)
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "graph.sendMail", Status: 429, RetryAfter: "2.128", Count: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		s, hdr, raw := e.graphCall("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate)})
		if s != 429 || hdr.Get("Retry-After") != "2.128" || graphErrorCode(t, raw) != "TooManyRequests" {
			t.Errorf("injected 429 #%d: %d %v %s", i, s, hdr, raw)
		}
	}
	e.graphJSON("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(candidate)}, 202)

	f, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "graph.*", Mailbox: providersim.DemoContosoUser, Status: 503})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if s, _, raw := e.graphCall("GET", "/v1.0/me/messages", token, nil); s != 503 || graphErrorCode(t, raw) != "serviceNotAvailable" {
			t.Errorf("injected 503: %d %s", s, raw)
		}
	}
	e.graphJSON("GET", "/v1.0/me/messages", other, nil, 200)
	if fs, _ := e.c.Faults(e.ctx); len(fs) != 1 || fs[0].ID != f.ID {
		t.Errorf("faults %+v", fs)
	}
	if err := e.c.ClearFaults(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.graphJSON("GET", "/v1.0/me/messages", token, nil, 200)

	// The token endpoint too.
	tok := e.tokens(providersim.DemoContosoAdmin, signInScopes)
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "microsoft.token", Status: 500, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if s, tr := e.refresh("organizations", tok.RefreshToken, ""); s != 500 || tr.Error != "temporarily_unavailable" {
		t.Errorf("injected token error: %d %+v", s, tr)
	}
	if s, _ := e.refresh("organizations", tok.RefreshToken, ""); s != 200 {
		t.Errorf("after the fault: %d", s)
	}
	if _, err := e.c.AddFault(e.ctx, simclient.Fault{Endpoint: "graph.sendMail"}); err == nil {
		t.Error("a fault that does nothing was accepted")
	}
	if n, _ := e.c.Counter(e.ctx, "graph.faults"); n != 5 {
		t.Errorf("graph.faults %d", n)
	}
}
