package providerhttp

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// A library given HTTPClient gets the client's retries: a 503 with
// Retry-After is sent again.
func TestHTTPClientRetries(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "keys") // a short write fails the body check below
	}))
	t.Cleanup(srv.Close)
	resp, err := New(Options{Provider: "msidentity"}).HTTPClient().Get(srv.URL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "keys" || hits.Load() != 2 {
		t.Fatalf("status %d, body %q, %v, after %d requests; want 200 after a retry", resp.StatusCode, body, err, hits.Load())
	}
}
