package providerhttp

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// A provider's Retry-After holds for every later call with the key, not
// only the one that got it, even for a client without a shared limiter
// (issue 16, item 7).
func TestRetryAfterPausesLaterCallsOfTheKey(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){status(429, "Retry-After", "60"), status(200)}}
	c := newTestClient(clock, Options{MaxRetryAfter: 30 * time.Second})
	url := serve(t, s)
	ctx := WithKey(t.Context(), "app-1")
	send := func(ctx context.Context, c *Client, url string) (int, error) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return resp.StatusCode, nil
	}

	var ra *RetryAfterError
	if _, err := send(ctx, c, url); !errors.As(err, &ra) || ra.StatusCode != 429 {
		t.Fatalf("the 429: %v, want a RetryAfterError", err)
	}
	for i := range 10 {
		_, err := send(ctx, c, url)
		if !errors.As(err, &ra) || !errors.Is(err, ErrRateLimited) || ra.Attempts != 0 || ra.RetryAfter <= 0 || ra.RetryAfter > time.Minute {
			t.Fatalf("call %d within the pause: %v, want a RetryAfterError with nothing sent", i+1, err)
		}
	}
	if n := s.count(); n != 1 {
		t.Fatalf("the provider saw %d requests within its 60 s pause, want 1", n)
	}

	// Another key is not paused; the paused one is again once the pause
	// is over.
	if code, err := send(WithKey(t.Context(), "app-2"), c, url); err != nil || code != 200 {
		t.Fatalf("another key: %d %v", code, err)
	}
	if err := clock.Sleep(t.Context(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if code, err := send(ctx, c, url); err != nil || code != 200 {
		t.Fatalf("after the pause: %d %v", code, err)
	}

	// A short pause is waited out rather than refused.
	clock2 := newFakeClock()
	s2 := &script{clock: clock2, responses: []func(http.ResponseWriter){status(429, "Retry-After", "2"), status(200)}}
	c2 := newTestClient(clock2, Options{MaxRetryAfter: 30 * time.Second, MaxAttempts: 1})
	url2 := serve(t, s2)
	if _, err := send(ctx, c2, url2); !errors.As(err, &ra) {
		t.Fatalf("the 429 with one attempt allowed: %v", err)
	}
	if code, err := send(ctx, c2, url2); err != nil || code != 200 {
		t.Fatalf("a call within a 2 s pause: %d %v, want it sent after the pause", code, err)
	}
	if arrivals := s2.arrivals; arrivals[1].Sub(arrivals[0]) < 2*time.Second {
		t.Fatalf("the second call reached the provider %v after its 2 s pause began", arrivals[1].Sub(arrivals[0]))
	}
}
