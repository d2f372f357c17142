package microsoft_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
)

// The shared limiter holds for the token client: every request is keyed by
// the app's client id, so two replicas together send no more than the
// burst, and the next request is refused before it reaches Microsoft.
func TestTokenRequestsKeepToTheSharedLimit(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at","token_type":"Bearer","expires_in":3600,"scope":"Mail.Send"}`) // a failed write fails the test's decode
	}))
	t.Cleanup(srv.Close)

	rdb := pgtest.NewRedis(t)
	keys := redisx.ServiceKeys(pgtest.RedisPrefixCleaned(t, rdb), "identity", "ratelimit-msidentity")
	replica := func() *microsoft.TokenClient {
		limiter, err := ratelimit.NewLimiter(pgtest.NewRedis(t), keys, ratelimit.Limit{Events: 1, Per: time.Hour, Burst: 2})
		if err != nil {
			t.Fatal(err)
		}
		c, err := microsoft.NewTokenClient(microsoft.TokenClientOptions{Authority: srv.URL, ClientID: "app-1", ClientSecret: "s",
			HTTP: providerhttp.New(providerhttp.Options{Provider: "msidentity", Limiter: limiter, MaxRetryAfter: time.Second})})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := replica(), replica()
	for i, c := range []*microsoft.TokenClient{a, b} {
		if _, err := c.Refresh(t.Context(), "rt", nil); err != nil {
			t.Fatalf("request %d within the burst: %v", i+1, err)
		}
	}
	_, err := a.Refresh(t.Context(), "rt", nil)
	var later *providerhttp.RetryAfterError
	if !errors.As(err, &later) || !errors.Is(err, microsoft.ErrUnavailable) || later.RetryAfter < 30*time.Minute {
		t.Fatalf("over the limit: %v, want ErrUnavailable with a RetryAfterError of about an hour", err)
	}
	if n := served.Load(); n != 2 {
		t.Fatalf("Microsoft saw %d requests, want the burst of 2", n)
	}
	if n, err := rdb.Exists(t.Context(), keys.Key("app-1")).Result(); err != nil || n != 1 {
		t.Fatalf("no bucket under the client id: %d, %v", n, err)
	}
}
