package rest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func postBody(t *testing.T, url string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func want413(t *testing.T, code int, body []byte) {
	t.Helper()
	e := decodeError(t, body)
	if code != http.StatusRequestEntityTooLarge || e.Code != http.StatusRequestEntityTooLarge || e.Status != "INVALID_ARGUMENT" || e.Reason != "body_too_large" {
		t.Fatalf("want 413 body_too_large, got %d %s", code, body)
	}
}

// onlyReader hides a body's length, so it is sent chunked.
type onlyReader struct{ io.Reader }

func TestBodyOverTheDefaultLimitIs413(t *testing.T) {
	addr, _ := startService(t, "127.0.0.1:0")
	gw := newGateway(t, Upstream{Name: "echo", Addr: addr, Register: registerEcho})
	big := bytes.Repeat([]byte("a"), DefaultMaxBodyBytes+1)
	code, body := postBody(t, gw.URL+"/v1/echo/ok", bytes.NewReader(big))
	want413(t, code, body)
	// Without a Content-Length the limit holds as the body is read.
	code, body = postBody(t, gw.URL+"/v1/echo/ok", onlyReader{bytes.NewReader(big)})
	want413(t, code, body)
	// At the limit, the request goes through.
	if code, body := postBody(t, gw.URL+"/v1/echo/ok", bytes.NewReader(big[:DefaultMaxBodyBytes])); code != http.StatusOK {
		t.Fatalf("a body at the limit: %d %s", code, body)
	}
}

// readingRoute is a plain route (a webhook) that reads its whole body.
func readingRoute(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusTeapot)
		return
	}
	_, _ = fmt.Fprintf(w, "read %d bytes", len(b))
}

func TestPlainRouteHasItsOwnBodyLimit(t *testing.T) {
	g, err := New(t.Context(), Options{MaxBodyBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	g.HandlePlain("POST /webhooks/big", http.HandlerFunc(readingRoute), BodyLimit(8192))
	g.HandlePlain("POST /webhooks/small", http.HandlerFunc(readingRoute))
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)

	if code, body := postBody(t, srv.URL+"/webhooks/big", bytes.NewReader(make([]byte, 5000))); code != http.StatusOK {
		t.Fatalf("5000 bytes to a route allowing 8192: %d %s", code, body)
	}
	code, body := postBody(t, srv.URL+"/webhooks/big", onlyReader{bytes.NewReader(make([]byte, 9000))})
	want413(t, code, body)
	code, body = postBody(t, srv.URL+"/webhooks/small", bytes.NewReader(make([]byte, 2000)))
	want413(t, code, body)
}

// A client that sends headers and part of a body, then nothing, gets 408 once
// the body timeout passes instead of holding the handler for ever.
func TestStalledBodyTimesOut(t *testing.T) {
	g, err := New(t.Context(), Options{BodyTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	g.HandlePlain("POST /webhooks/stall", http.HandlerFunc(readingRoute))
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /webhooks/stall HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n0123456789"); err != nil {
		t.Fatal(err)
	}
	// Far beyond the body timeout: if the gateway waits for the body, this
	// read fails.
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeError(t, body); resp.StatusCode != http.StatusRequestTimeout || e.Code != http.StatusRequestTimeout {
		t.Fatalf("want 408, got %d %s", resp.StatusCode, body)
	}
}

func TestServerHasTimeouts(t *testing.T) {
	g, err := New(t.Context(), Options{WriteTimeout: 7 * time.Second, IdleTimeout: 9 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	s := g.Server()
	if s.ReadHeaderTimeout <= 0 || s.WriteTimeout != 7*time.Second || s.IdleTimeout != 9*time.Second || s.MaxHeaderBytes <= 0 || s.Handler == nil {
		t.Fatalf("server: %+v", s)
	}
	d, err := New(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	if s := d.Server(); s.WriteTimeout != DefaultWriteTimeout || s.IdleTimeout != DefaultIdleTimeout {
		t.Fatalf("default timeouts: write %v idle %v", s.WriteTimeout, s.IdleTimeout)
	}
}
