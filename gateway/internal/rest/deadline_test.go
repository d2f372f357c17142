package rest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Every route has a deadline: a call to a service that hangs answers 504
// in the stable shape once it has passed, and plain routes get it in their
// context (issue 16, item 5).
func TestRequestsHaveADeadline(t *testing.T) {
	t.Parallel()
	addr, _ := startService(t, "127.0.0.1:0")
	g, err := New(t.Context(), Options{Upstreams: []Upstream{{Name: "echo", Addr: addr, Register: registerEcho}},
		OpenAPI: []byte(`{"swagger":"2.0"}`), RequestTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	remaining := make(chan time.Duration, 1)
	g.HandlePlain("GET /callback", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		if !ok {
			remaining <- 0
			return
		}
		remaining <- time.Until(d)
	}))
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)

	// The client gives up long after the gateway's deadline.
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v, want the gateway to answer first", method, path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	code, body := do(http.MethodPost, "/v1/echo/hang")
	if e := decodeError(t, body); code != http.StatusGatewayTimeout || e.Status != "DEADLINE_EXCEEDED" {
		t.Fatalf("a hung service: %d %s, want 504 DEADLINE_EXCEEDED", code, body)
	}
	do(http.MethodGet, "/callback")
	if d := <-remaining; d <= 0 || d > 300*time.Millisecond {
		t.Fatalf("a plain route had %v left, want a deadline within the request timeout", d)
	}
}
