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
		n, err := e.c.Counter(e.ctx, gauge)
		if err != nil {
			t.Fatal(err)
		}
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
	limits, err := e.c.GraphLimits(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if limits.RequestsPerWindow != 3 || limits.ConcurrentRequests != 4 || limits.MessagesPerMinute != 30 || limits.RecipientsPerDay != 10000 {
		t.Errorf("limits %+v", limits)
	}
}

// Exchange's sending limits never answer a Graph submission with 429: over
// the message rate the message waits in the Outbox; past the day's
// recipients the mailbox is blocked and what it submits comes back as
// non-delivery reports. Both are counted per mailbox.
func TestSendingLimits(t *testing.T) {
	e := start(t)
	if err := e.c.SetLifetimes(e.ctx, simclient.Lifetimes{AccessTokenSeconds: 7 * 24 * 3600}); err != nil {
		t.Fatal(err)
	}
	token := e.graphToken(providersim.DemoContosoUser)
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{MessagesPerMinute: 2, RecipientsPerDay: 5, MaxRecipientsPerMessage: 3, SendBlockSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	send := func(to ...string) {
		t.Helper()
		if s, _, raw := e.graphCall("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail(to...)}); s != 202 {
			t.Fatalf("send to %v: %d %s", to, s, raw)
		}
	}
	count := func(addr, folder string) int {
		t.Helper()
		list, err := e.c.Messages(e.ctx, addr, folder)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	counter := func(name string) int64 {
		t.Helper()
		n, err := e.c.Counter(e.ctx, name+"/user="+providersim.DemoContosoUser)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 3 {
		send(candidate)
	}
	// A draft sent over the rate waits too.
	draft := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201)
	if s, _, raw := e.graphCall("POST", "/v1.0/me/messages/"+draft["id"].(string)+"/send", token, nil); s != 202 {
		t.Fatalf("draft send over the rate: %d %s", s, raw)
	}
	if n := count(candidate, ""); n != 2 {
		t.Errorf("delivered within the minute: %d, want 2", n)
	}
	if n := count(providersim.DemoContosoUser, "outbox"); n != 2 {
		t.Errorf("outbox holds %d, want 2", n)
	}
	if n := counter("graph.overLimit.messagesPerMinute"); n != 2 {
		t.Errorf("submissions over the rate: %d, want 2", n)
	}
	if _, err := e.c.AdvanceClock(e.ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	// The timer releases them (a minute after the first two) without
	// another Graph call.
	eventually(t, "held messages delivered", func() bool { return count(candidate, "") == 4 })
	if n := count(providersim.DemoContosoUser, "outbox"); n != 0 {
		t.Errorf("outbox still holds %d", n)
	}
	if n := count(providersim.DemoContosoUser, "sentitems"); n != 4 {
		t.Errorf("sent items %d, want 4", n)
	}

	// Four recipients so far; a message may have at most three.
	if s, _, raw := e.graphCall("POST", "/v1.0/me/sendMail", token, map[string]any{"message": mail("a@x.example", "b@x.example", "c@x.example", "d@x.example")}); s != 400 || graphErrorCode(t, raw) != "ErrorInvalidRecipients" {
		t.Errorf("over recipients per message: %d %s", s, raw)
	}
	send("a@x.example") // the fifth recipient of the day
	if n := count("a@x.example", ""); n != 1 {
		t.Errorf("within the day: %d delivered", n)
	}
	send("b@x.example", "c@x.example") // past the day: refused, and the mailbox is blocked
	if _, err := e.c.AdvanceClock(e.ctx, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	send("d@x.example") // blocked
	for _, a := range []string{"b@x.example", "c@x.example", "d@x.example"} {
		if n := count(a, ""); n != 0 {
			t.Errorf("%s received %d messages from a blocked mailbox", a, n)
		}
	}
	inbox, err := e.c.Messages(e.ctx, providersim.DemoContosoUser, "")
	if err != nil {
		t.Fatal(err)
	}
	var ndrs []string
	for _, m := range inbox {
		if strings.HasPrefix(m.Subject, "Undeliverable: ") && strings.Contains(m.Body, "5.1.90") {
			ndrs = append(ndrs, m.Body)
		}
	}
	if len(ndrs) != 2 || !strings.Contains(ndrs[0]+ndrs[1], "b@x.example") || !strings.Contains(ndrs[0]+ndrs[1], "d@x.example") {
		t.Errorf("non-delivery reports %q", ndrs)
	}
	if n := counter("graph.overLimit.recipientsPerDay"); n != 2 {
		t.Errorf("submissions past the day's recipients: %d, want 2", n)
	}
	// The block ends, and the day's recipients age out.
	if _, err := e.c.AdvanceClock(e.ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	send("d@x.example")
	if n := count("d@x.example", ""); n != 1 {
		t.Errorf("next day: %d delivered", n)
	}
	if other, err := e.c.Counter(e.ctx, "graph.overLimit.messagesPerMinute/user="+providersim.DemoContosoAdmin); err != nil || other != 0 {
		t.Errorf("another mailbox counted %d (err %v)", other, err)
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
	if fs, err := e.c.Faults(e.ctx); err != nil || len(fs) != 1 || fs[0].ID != f.ID {
		t.Errorf("faults %+v (err %v)", fs, err)
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
	if n, err := e.c.Counter(e.ctx, "graph.faults"); err != nil || n != 5 {
		t.Errorf("graph.faults %d (err %v)", n, err)
	}
}

// With sentItemsDelayMs, a sent draft reads as a draft until Exchange
// files it; a second send in that time goes too. /me tells the proxy
// addresses when asked for them.
func TestSentItemsDelay(t *testing.T) {
	e := start(t)
	if err := e.c.SetLifetimes(e.ctx, simclient.Lifetimes{AccessTokenSeconds: 7 * 24 * 3600}); err != nil {
		t.Fatal(err)
	}
	token := e.graphToken(providersim.DemoContosoUser)
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{SentItemsDelayMs: 10_000}); err != nil {
		t.Fatal(err)
	}
	const candidate = "cand@x.example"
	draft := e.graphJSON("POST", "/v1.0/me/messages", token, mail(candidate), 201, "Prefer", `IdType="ImmutableId"`)
	path := "/v1.0/me/messages/" + draft["id"].(string)
	for range 2 {
		if s, _, raw := e.graphCall("POST", path+"/send", token, nil, "Prefer", `IdType="ImmutableId"`); s != 202 {
			t.Fatalf("send: %d %s", s, raw)
		}
		if got := e.graphJSON("GET", path, token, nil, 200, "Prefer", `IdType="ImmutableId"`); got["isDraft"] != true {
			t.Fatalf("right after the send: isDraft %v", got["isDraft"])
		}
	}
	if list, err := e.c.Messages(e.ctx, candidate, ""); err != nil || len(list) != 0 {
		t.Fatalf("delivered before the delay: %d, %v", len(list), err)
	}
	if _, err := e.c.AdvanceClock(e.ctx, 11*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both sends delivered", func() bool {
		list, err := e.c.Messages(e.ctx, candidate, "")
		return err == nil && len(list) == 2
	})
	if got := e.graphJSON("GET", path, token, nil, 200, "Prefer", `IdType="ImmutableId"`); got["isDraft"] != false {
		t.Errorf("after the delay: isDraft %v", got["isDraft"])
	}
	if n, err := e.c.Counter(e.ctx, "graph.sentAgain"); err != nil || n != 1 {
		t.Errorf("graph.sentAgain %d, %v", n, err)
	}

	alias := e.graphToken(providersim.DemoContosoAlias)
	me := e.graphJSON("GET", "/v1.0/me?$select=mail,proxyAddresses", alias, nil, 200)
	proxies, _ := me["proxyAddresses"].([]any)
	if len(proxies) < 2 || proxies[0] != "SMTP:"+providersim.DemoContosoAliasMail {
		t.Errorf("proxyAddresses %v", me["proxyAddresses"])
	}
	if plain := e.graphJSON("GET", "/v1.0/me", alias, nil, 200); plain["proxyAddresses"] != nil {
		t.Errorf("proxyAddresses without $select: %v", plain["proxyAddresses"])
	}
}
