package webhooks

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/gateway/internal/rest"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
)

// fakeMailbox records what the route hands over and answers as told.
type fakeMailbox struct {
	mu    sync.Mutex
	calls []*mailboxv1.AcceptNotificationsRequest
	err   error
	block bool
}

func (f *fakeMailbox) AcceptNotifications(ctx context.Context, in *mailboxv1.AcceptNotificationsRequest, _ ...grpc.CallOption) (*mailboxv1.AcceptNotificationsResponse, error) {
	f.mu.Lock()
	f.calls = append(f.calls, in)
	err, block := f.err, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err != nil {
		return nil, err
	}
	// The fake takes those whose clientState is "good".
	resp := &mailboxv1.AcceptNotificationsResponse{}
	for _, n := range in.GetNotifications() {
		if n.GetClientState() == "good" {
			resp.Accepted++
		} else {
			resp.Rejected++
		}
	}
	return resp, nil
}

func (f *fakeMailbox) requests() []*mailboxv1.AcceptNotificationsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*mailboxv1.AcceptNotificationsRequest(nil), f.calls...)
}

// serve runs the route in a gateway. rest.New sets a grpc-gateway global,
// so the tests of this package do not run in parallel.
func serve(t testing.TB, mb *fakeMailbox) *httptest.Server {
	t.Helper()
	g, err := rest.New(context.Background(), rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	(&Graph{Mailbox: mb, Log: slog.New(slog.DiscardHandler)}).Register(g)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv
}

var testClient = &http.Client{Timeout: 10 * time.Second}

type answer struct {
	status int
	header http.Header
	body   string
}

func post(t testing.TB, rawURL, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// graphToken is the kind of token Graph sends: spaces and colons included.
const graphToken = "Validation: Testing client application reachability for subscription Request-Id: 5d1d3c2a-0f3e-4b8e-9c2a-6f1e2d3c4b5a"

func TestValidationEchoesTheDecodedToken(t *testing.T) {
	srv := serve(t, &fakeMailbox{})
	for _, path := range []string{GraphPath, GraphLifecyclePath} {
		// Graph's own request: POST, no body, token URL-encoded in the query.
		a := post(t, srv.URL+path+"?validationToken="+url.QueryEscape(graphToken), "text/plain; charset=utf-8", "")
		if a.status != http.StatusOK || a.body != graphToken {
			t.Fatalf("%s: %d %q, want 200 and the decoded token", path, a.status, a.body)
		}
		if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q, want text/plain", ct)
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Error("no nosniff")
		}
	}
}

func TestForgedValidationGetsNothing(t *testing.T) {
	mb := &fakeMailbox{}
	srv := serve(t, mb)
	for name, tc := range map[string]struct{ query, body string }{
		"a body beside the token":   {"validationToken=abc", `{"value":[]}`},
		"markup in the token":       {"validationToken=" + url.QueryEscape("<script>alert(1)</script>"), ""},
		"a line break in the token": {"validationToken=" + url.QueryEscape("a\r\nSet-Cookie: x=y"), ""},
		"a token too long":          {"validationToken=" + strings.Repeat("a", MaxValidationToken+1), ""},
		"an empty token":            {"validationToken=", ""},
		"two tokens":                {"validationToken=a&validationToken=b", ""},
		"non-ASCII":                 {"validationToken=" + url.QueryEscape("tökén"), ""},
	} {
		a := post(t, srv.URL+GraphPath+"?"+tc.query, "text/plain", tc.body)
		// The error shape, and nothing of the request in it.
		if a.status != http.StatusBadRequest || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") ||
			strings.Contains(a.body, "<script") || strings.Contains(a.body, "Set-Cookie") || strings.Contains(a.body, "abc") || strings.Contains(a.body, "aaaa") {
			t.Errorf("%s: %d %q, want 400 and nothing echoed", name, a.status, a.body)
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", name)
		}
	}
	if n := len(mb.requests()); n != 0 {
		t.Errorf("mailbox was called %d times", n)
	}
}

// batch is a POST as Graph sends it: two change notifications of two
// subscriptions and a lifecycle notification.
const batch = `{"value":[
 {"id":"n1","subscriptionId":"sub-a","subscriptionExpirationDateTime":"2026-12-08T10:00:00.0000000Z","changeType":"created",
  "resource":"Users/u1@t1/Messages/AAMk1","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.id":"Users/u1@t1/Messages/AAMk1","id":"AAMk1"},
  "clientState":"good","tenantId":"t1"},
 {"id":"n2","subscriptionId":"sub-b","subscriptionExpirationDateTime":"2026-12-08T10:00:00Z","changeType":"created",
  "resource":"Users/u2@t1/Messages/AAMk2","resourceData":{"id":"AAMk2"},"clientState":"wrong","tenantId":"t1"},
 {"subscriptionId":"sub-a","subscriptionExpirationDateTime":"2026-12-08T10:00:00Z","tenantId":"t1","clientState":"good","lifecycleEvent":"missed"}
]}`

func TestNotificationsAreHandedToMailbox(t *testing.T) {
	mb := &fakeMailbox{}
	srv := serve(t, mb)
	a := post(t, srv.URL+GraphPath, "application/json; charset=utf-8", batch)
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202", a.status)
	}
	reqs := mb.requests()
	if len(reqs) != 1 || len(reqs[0].GetNotifications()) != 3 {
		t.Fatalf("mailbox got %v, want one call with three notifications", reqs)
	}
	n := reqs[0].GetNotifications()
	if n[0].GetSubscriptionId() != "sub-a" || n[0].GetResourceId() != "AAMk1" || n[0].GetClientState() != "good" ||
		n[0].GetChangeType() != "created" || n[0].GetTenantId() != "t1" {
		t.Errorf("first notification %v", n[0])
	}
	if !n[0].GetSubscriptionExpireTime().AsTime().Equal(time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("expiry %v", n[0].GetSubscriptionExpireTime())
	}
	if n[1].GetSubscriptionId() != "sub-b" || n[1].GetClientState() != "wrong" {
		t.Errorf("second notification %v", n[1])
	}
	if n[2].GetLifecycleEvent() != "missed" || n[2].GetResourceId() != "" {
		t.Errorf("lifecycle notification %v", n[2])
	}
	// The same on the lifecycle URL.
	if a := post(t, srv.URL+GraphLifecyclePath, "application/json", batch); a.status != http.StatusAccepted {
		t.Fatalf("lifecycle path: %d", a.status)
	}
}

func TestUnreadableNotificationsAreRefused(t *testing.T) {
	mb := &fakeMailbox{}
	srv := serve(t, mb)
	many := `{"value":[` + strings.TrimSuffix(strings.Repeat(`{"subscriptionId":"s","clientState":"good","resourceData":{"id":"m"}},`, MaxGraphNotifications+1), ",") + `]}`
	for name, tc := range map[string]struct {
		contentType, body string
		want              int
	}{
		"not JSON":         {"application/json", "{", http.StatusBadRequest},
		"no value array":   {"application/json", `{"items":[]}`, http.StatusBadRequest},
		"not JSON content": {"text/plain", batch, http.StatusBadRequest},
		"too many":         {"application/json", many, http.StatusBadRequest},
		"too large":        {"application/json", `{"value":[],"pad":"` + strings.Repeat("x", MaxGraphBody) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		if a := post(t, srv.URL+GraphPath, tc.contentType, tc.body); a.status != tc.want {
			t.Errorf("%s: %d, want %d", name, a.status, tc.want)
		}
	}
	if n := len(mb.requests()); n != 0 {
		t.Errorf("mailbox was called %d times", n)
	}
	// Items without a subscription or a message are dropped here; an empty
	// collection is fine and asks mailbox nothing.
	if a := post(t, srv.URL+GraphPath, "application/json", `{"value":[{"clientState":"good"},{"subscriptionId":"s"}]}`); a.status != http.StatusAccepted {
		t.Errorf("items without ids: %d, want 202", a.status)
	}
	if n := len(mb.requests()); n != 0 {
		t.Errorf("mailbox was called %d times for nothing", n)
	}
}

func TestMailboxDownAsksGraphToRetry(t *testing.T) {
	srv := serve(t, &fakeMailbox{err: status.Error(codes.Unavailable, "down")})
	if a := post(t, srv.URL+GraphPath, "application/json", batch); a.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", a.status)
	}
}

// A mailbox that hangs must not hold Graph past its 3 s: the route's
// deadline answers 503 first.
func TestHungMailboxIsCutOffInsideGraphsLimit(t *testing.T) {
	srv := serve(t, &fakeMailbox{block: true})
	start := time.Now()
	a := post(t, srv.URL+GraphPath, "application/json", batch)
	took := time.Since(start)
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", a.status)
	}
	if took >= 3*time.Second {
		t.Fatalf("answered after %v, Graph gives up at 3s", took)
	}
}

// BenchmarkGraphNotifications measures the acknowledgement of a POST of
// three notifications through the gateway, mailbox faked.
func BenchmarkGraphNotifications(b *testing.B) {
	srv := serve(b, &fakeMailbox{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if a := post(b, srv.URL+GraphPath, "application/json", batch); a.status != http.StatusAccepted {
				b.Fatalf("status %d", a.status)
			}
		}
	})
}
