package rest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A streamed route's handler reads the body as it arrives: it answers
// after the first bytes while the client has not sent the rest, which a
// buffered route could not. Past the route's cap the read fails, and a
// Content-Length over it is 413 before the handler runs.
func TestStreamedRouteReadsTheBodyAsItArrives(t *testing.T) {
	g, err := New(t.Context(), Options{MaxBodyBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	handled := 0
	g.HandlePlain("POST /upload", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled++
		first := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, first); err != nil {
			http.Error(w, err.Error(), http.StatusTeapot)
			return
		}
		if string(first) == "first" {
			// The rest of the body is not read: the connection closes
			// (net/http would otherwise wait to discard it).
			w.Header().Set("Connection", "close")
			_, _ = fmt.Fprint(w, "got first")
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("capped after %d", int64(len(first))+n), http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = fmt.Fprintf(w, "read %d", int64(len(first))+n)
	}), StreamBody(), BodyLimit(1000))
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)

	// The rest of this body is sent only once the answer is in.
	pr, pw := io.Pipe()
	go func() { _, _ = pw.Write([]byte("first")) }() //nolint:errcheck // the pipe is closed below
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/upload", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	pw.Close()
	if err != nil || string(b) != "got first" {
		t.Fatalf("streamed: %d %q %v", resp.StatusCode, b, err)
	}

	// Over the gateway's own 16 bytes but within the route's 1000.
	if code, body := postBody(t, srv.URL+"/upload", onlyReader{bytes.NewReader(make([]byte, 900))}); code != http.StatusOK || string(body) != "read 900" {
		t.Fatalf("900 bytes: %d %s", code, body)
	}
	if code, body := postBody(t, srv.URL+"/upload", onlyReader{bytes.NewReader(make([]byte, 5000))}); code != http.StatusRequestEntityTooLarge || string(body) != "capped after 1000\n" {
		t.Fatalf("5000 bytes: %d %s", code, body)
	}
	before := handled
	code, body := postBody(t, srv.URL+"/upload", bytes.NewReader(make([]byte, 5000)))
	want413(t, code, body)
	if handled != before {
		t.Fatal("a Content-Length over the cap reached the handler")
	}
}

// A route with When takes only the requests it accepts; the others go on
// to the REST API.
func TestRouteWithWhenLeavesTheRestToTheAPI(t *testing.T) {
	addr, _ := startService(t, "127.0.0.1:0")
	g, err := New(t.Context(), Options{Upstreams: []Upstream{{Name: "echo", Addr: addr, Register: registerEcho}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	g.HandlePlain("POST /v1/echo/{cmd}", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, "plain")
	}), When(func(r *http.Request) bool { return r.URL.Path == "/v1/echo/special:verb" }))
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	if code, body := postBody(t, srv.URL+"/v1/echo/special:verb", nil); code != http.StatusOK || string(body) != "plain" {
		t.Fatalf("the route's request: %d %s", code, body)
	}
	if code, body := postBody(t, srv.URL+"/v1/echo/ok", nil); code != http.StatusOK || !bytes.Contains(body, []byte("metadata")) {
		t.Fatalf("another request on the pattern: %d %s", code, body)
	}
}
