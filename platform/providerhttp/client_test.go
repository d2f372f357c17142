package providerhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/ratelimit"
)

// fakeClock advances only when the client sleeps, so tests see exactly
// how long the client waited, instantly.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// script is a test provider that answers from a list of responses, the
// last one repeating, and records when (on the client's clock) and what
// it was asked.
type script struct {
	clock     Clock
	mu        sync.Mutex
	responses []func(w http.ResponseWriter)
	arrivals  []time.Time
	bodies    []string
	headers   []http.Header
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	n := len(s.arrivals)
	now := time.Now()
	if s.clock != nil {
		now = s.clock.Now()
	}
	s.arrivals = append(s.arrivals, now)
	s.bodies = append(s.bodies, string(body))
	s.headers = append(s.headers, r.Header.Clone())
	respond := s.responses[min(n, len(s.responses)-1)]
	s.mu.Unlock()
	respond(w)
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}

func status(code int, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"status":%d}`, code)
	}
}

func serve(t *testing.T, s *script) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newTestClient(clock Clock, o Options) *Client {
	o.Clock = clock
	if o.Jitter == nil {
		o.Jitter = func(n int64) int64 { return n - 1 } // the longest wait allowed
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = Backoff{Base: 100 * time.Millisecond, Cap: time.Second}
	}
	return New(o)
}

// get sends a GET through c and returns the status it ended with; the
// body is closed.
func get(t *testing.T, ctx context.Context, c *Client, url string) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func TestRetryAfterFractionalSecondsHonoured(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){
		status(429, "Retry-After", "2.128"), status(200),
	}}
	c := newTestClient(clock, Options{})
	code, err := get(t, t.Context(), c, serve(t, s))
	if err != nil || code != 200 {
		t.Fatalf("Do = %v, %v", code, err)
	}
	if s.count() != 2 {
		t.Fatalf("%d requests, want 2", s.count())
	}
	gap := s.arrivals[1].Sub(s.arrivals[0])
	if gap < 2128*time.Millisecond || gap > 2128*time.Millisecond+100*time.Millisecond {
		t.Fatalf("second request %s after the first; Retry-After was 2.128s", gap)
	}
}

func TestRetryAfterHTTPDateHonoured(t *testing.T) {
	clock := newFakeClock()
	at := clock.Now().Add(3 * time.Second).Format(http.TimeFormat)
	s := &script{clock: clock, responses: []func(http.ResponseWriter){
		status(503, "Retry-After", at), status(200),
	}}
	c := newTestClient(clock, Options{})
	if _, err := get(t, t.Context(), c, serve(t, s)); err != nil {
		t.Fatal(err)
	}
	if gap := s.arrivals[1].Sub(s.arrivals[0]); gap < 3*time.Second {
		t.Fatalf("second request %s after the first, before the Retry-After date", gap)
	}
}

func TestRetryAfterHonouredOnRealClock(t *testing.T) {
	t.Parallel()
	s := &script{responses: []func(http.ResponseWriter){
		status(429, "Retry-After", "0.2"), status(200),
	}}
	c := New(Options{})
	if _, err := get(t, t.Context(), c, serve(t, s)); err != nil {
		t.Fatal(err)
	}
	if gap := s.arrivals[1].Sub(s.arrivals[0]); gap < 200*time.Millisecond {
		t.Fatalf("second request %s after the first; Retry-After was 0.2s", gap)
	}
}

func TestBackoffWithoutRetryAfter(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){
		status(502), status(504), status(503, "Retry-After", "soon"), status(200),
	}}
	c := newTestClient(clock, Options{MaxAttempts: 4})
	if code, err := get(t, t.Context(), c, serve(t, s)); err != nil || code != 200 {
		t.Fatalf("Do = %v, %v", code, err)
	}
	// Jitter at its maximum: just under 100ms, 200ms, 400ms.
	want := []time.Duration{100*time.Millisecond - 1, 200*time.Millisecond - 1, 400*time.Millisecond - 1}
	if got := clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
}

func TestRetryAfterBeyondMaxReturnsError(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){status(429, "Retry-After", "120")}}
	c := newTestClient(clock, Options{MaxRetryAfter: 30 * time.Second})
	code, err := get(t, t.Context(), c, serve(t, s))
	var ra *RetryAfterError
	if !errors.As(err, &ra) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("Do = %v, %v; want a RetryAfterError", code, err)
	}
	if ra.RetryAfter != 120*time.Second || ra.StatusCode != 429 || ra.Attempts != 1 {
		t.Fatalf("error = %+v", ra)
	}
	if s.count() != 1 || len(clock.Sleeps()) != 0 {
		t.Fatalf("%d requests and waits %v; want 1 request and no wait", s.count(), clock.Sleeps())
	}
}

func TestRetryAfterBeyondDeadlineReturnsError(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){status(503, "Retry-After", "20")}}
	c := newTestClient(clock, Options{MaxRetryAfter: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := get(t, ctx, c, serve(t, s))
	var ra *RetryAfterError
	if !errors.As(err, &ra) || ra.RetryAfter != 20*time.Second || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Do = %v; want RetryAfterError of 20s (the deadline is sooner)", err)
	}
	if len(clock.Sleeps()) != 0 {
		t.Fatalf("waited %v for a retry that could not happen", clock.Sleeps())
	}
}

func TestAttemptsExhausted(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){status(503)}}
	c := newTestClient(clock, Options{MaxAttempts: 3})
	_, err := get(t, t.Context(), c, serve(t, s))
	var ra *RetryAfterError
	if !errors.As(err, &ra) || !errors.Is(err, ErrUnavailable) || ra.Attempts != 3 {
		t.Fatalf("Do = %v; want RetryAfterError after 3 attempts", err)
	}
	if s.count() != 3 {
		t.Fatalf("%d requests, want 3", s.count())
	}
}

func TestNonIdempotentRequestsNotRetriedBlindly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		mark     func(*http.Request) *http.Request
		header   string
		response func(http.ResponseWriter)
		want     int // requests sent
	}{
		{"POST 502", http.MethodPost, nil, "", status(502), 1},
		{"POST 503 without Retry-After", http.MethodPost, nil, "", status(503), 1},
		{"POST 504", http.MethodPost, nil, "", status(504), 1},
		{"PATCH 503", http.MethodPatch, nil, "", status(503), 1},
		{"POST 500", http.MethodPost, nil, "", status(500), 1},
		{"GET 500 is not retried either", http.MethodGet, nil, "", status(500), 1},
		{"POST 429 was refused, so retried", http.MethodPost, nil, "", status(429), 3},
		{"POST 503 with Retry-After was refused, so retried", http.MethodPost, nil, "", status(503, "Retry-After", "1"), 3},
		{"POST marked RetrySafe", http.MethodPost, RetrySafe, "", status(502), 3},
		{"POST with Idempotency-Key", http.MethodPost, nil, "Idempotency-Key", status(504), 3},
		{"GET 502", http.MethodGet, nil, "", status(502), 3},
		{"PUT 503", http.MethodPut, nil, "", status(503), 3},
		{"DELETE 504", http.MethodDelete, nil, "", status(504), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			s := &script{clock: clock, responses: []func(http.ResponseWriter){tc.response}}
			c := newTestClient(clock, Options{MaxAttempts: 3})
			req, err := http.NewRequestWithContext(t.Context(), tc.method, serve(t, s), strings.NewReader(`{"to":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			if tc.mark != nil {
				req = tc.mark(req)
			}
			if tc.header != "" {
				req.Header.Set(tc.header, "abc")
			}
			resp, err := c.Do(req)
			if resp != nil {
				_ = resp.Body.Close()
			}
			if s.count() != tc.want {
				t.Fatalf("%d requests sent, want %d (err %v)", s.count(), tc.want, err)
			}
			if tc.want == 1 && (err != nil || resp == nil) {
				t.Fatalf("a request that is not retried must return the provider's response: %v", err)
			}
		})
	}
}

// hangUp reads the request and closes the connection without answering:
// the request may or may not have been processed.
func hangUp(t *testing.T, hits *atomic.Int32) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			t.Error(err)
		}
		hits.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestTransportErrorAfterSendingPOSTNotRetried(t *testing.T) {
	var hits atomic.Int32
	url := hangUp(t, &hits)
	c := newTestClient(newFakeClock(), Options{MaxAttempts: 3})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader("send this once"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("no error for a dropped connection")
	}
	if hits.Load() != 1 {
		t.Fatalf("POST sent %d times after an unknown outcome", hits.Load())
	}

	hits.Store(0)
	if _, err := get(t, t.Context(), c, url); err == nil {
		t.Fatal("no error for dropped connections")
	}
	if hits.Load() < 3 {
		t.Fatalf("GET sent %d times, want 3 attempts", hits.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConnectionRefusedPOSTIsRetried(t *testing.T) {
	var calls atomic.Int32
	refuse := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	})
	c := newTestClient(newFakeClock(), Options{MaxAttempts: 3, Transport: refuse})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://api.example.test/send?token=secret", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("Do = %v; want the dial error", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error shows the query: %v", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d attempts; a request that never left may be sent again", calls.Load())
	}
}

func TestBodyReplayedOnRetry(t *testing.T) {
	for name, body := range map[string]func() io.Reader{
		"with GetBody":    func() io.Reader { return strings.NewReader(`{"subject":"hi"}`) },
		"without GetBody": func() io.Reader { return io.NopCloser(strings.NewReader(`{"subject":"hi"}`)) },
	} {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			s := &script{clock: clock, responses: []func(http.ResponseWriter){status(429), status(200)}}
			c := newTestClient(clock, Options{})
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, serve(t, s), body())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if len(s.bodies) != 2 || s.bodies[0] != `{"subject":"hi"}` || s.bodies[1] != s.bodies[0] {
				t.Fatalf("bodies received: %q", s.bodies)
			}
		})
	}
}

func TestBodyTooLargeToReplayIsSentOnce(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){status(503)}}
	c := newTestClient(clock, Options{MaxReplayBody: 10})
	big := strings.Repeat("x", 100)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, serve(t, s), io.NopCloser(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if s.count() != 1 || s.bodies[0] != big {
		t.Fatalf("%d requests, first body %d bytes; want one request with the whole body", s.count(), len(s.bodies[0]))
	}
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want the provider's 503", resp.StatusCode)
	}
}

func TestContextCancelledDuringRetryAfter(t *testing.T) {
	t.Parallel()
	first := make(chan struct{})
	var once sync.Once
	s := &script{responses: []func(http.ResponseWriter){func(w http.ResponseWriter) {
		once.Do(func() { close(first) })
		status(429, "Retry-After", "20")(w)
	}}}
	c := New(Options{MaxRetryAfter: time.Minute})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := get(t, ctx, c, serve(t, s))
		done <- err
	}()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("first request never arrived")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Do kept waiting after its context was cancelled")
	}
	if s.count() != 1 {
		t.Fatalf("%d requests after cancel", s.count())
	}
}

// fakeLimiter denies with the listed waits, then allows.
type fakeLimiter struct {
	mu      sync.Mutex
	denials []time.Duration
	err     error
	keys    []string
	paused  map[string]time.Duration
}

func (l *fakeLimiter) Allow(_ context.Context, key string) (ratelimit.Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys = append(l.keys, key)
	if l.err != nil {
		return ratelimit.Decision{}, l.err
	}
	if len(l.denials) > 0 {
		d := l.denials[0]
		l.denials = l.denials[1:]
		return ratelimit.Decision{RetryAfter: d}, nil
	}
	return ratelimit.Decision{Allowed: true}, nil
}

func (l *fakeLimiter) Pause(_ context.Context, key string, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused == nil {
		l.paused = map[string]time.Duration{}
	}
	l.paused[key] = d
	return nil
}

func TestRateLimiterBeforeEveryAttempt(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){status(429, "Retry-After", "2"), status(200)}}
	lim := &fakeLimiter{denials: []time.Duration{time.Second}}
	c := newTestClient(clock, Options{Limiter: lim})
	ctx := WithKey(t.Context(), "mbx-1")
	if _, err := get(t, ctx, c, serve(t, s)); err != nil {
		t.Fatal(err)
	}
	// Denied once (1s), allowed, 429 (2s and jitter), allowed.
	if fmt.Sprint(lim.keys) != "[mbx-1 mbx-1 mbx-1]" {
		t.Fatalf("limiter asked for %v", lim.keys)
	}
	if waited := s.arrivals[0].Sub(newFakeClock().Now()); waited < time.Second {
		t.Fatalf("first request after %s, before the limiter's 1s wait", waited)
	}
	if lim.paused["mbx-1"] != 2*time.Second {
		t.Fatalf("provider's Retry-After not shared with other replicas: %v", lim.paused)
	}

	// Without a key nothing is limited.
	lim.keys = nil
	if _, err := get(t, t.Context(), c, serve(t, &script{responses: []func(http.ResponseWriter){status(200)}})); err != nil {
		t.Fatal(err)
	}
	if len(lim.keys) != 0 {
		t.Fatalf("limiter consulted without a key: %v", lim.keys)
	}
}

func TestRateLimiterWaitBeyondMaxReturnsError(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){status(200)}}
	c := newTestClient(clock, Options{Limiter: &fakeLimiter{denials: []time.Duration{time.Hour}}})
	_, err := get(t, WithKey(t.Context(), "conn"), c, serve(t, s))
	var ra *RetryAfterError
	if !errors.As(err, &ra) || ra.StatusCode != 0 || ra.RetryAfter != time.Hour || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("Do = %v; want our own RetryAfterError of 1h", err)
	}
	if s.count() != 0 {
		t.Fatal("request sent although the limiter refused it")
	}
}

func TestRateLimiterFailsOpen(t *testing.T) {
	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){status(200)}}
	var logs bytes.Buffer
	c := newTestClient(clock, Options{
		Limiter: &fakeLimiter{err: errors.New("redis: connection refused")},
		Logger:  slogTo(&logs),
	})
	if _, err := get(t, WithKey(t.Context(), "conn"), c, serve(t, s)); err != nil {
		t.Fatal(err)
	}
	if s.count() != 1 || !strings.Contains(logs.String(), "rate limiter unavailable") {
		t.Fatalf("%d requests, logs %q", s.count(), logs.String())
	}
}

type fakeSemaphore struct {
	held, acquired, released atomic.Int32
}

func (s *fakeSemaphore) Acquire(context.Context, string) (func(), error) {
	s.held.Add(1)
	s.acquired.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.held.Add(-1)
			s.released.Add(1)
		})
	}, nil
}

func TestConcurrencySlotHeldPerAttempt(t *testing.T) {
	clock := newFakeClock()
	sem := &fakeSemaphore{}
	var heldDuringRequest []int32
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		heldDuringRequest = append(heldDuringRequest, sem.held.Load())
		n := len(heldDuringRequest)
		mu.Unlock()
		if n == 1 {
			status(503)(w)
			return
		}
		status(200)(w)
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(clock, Options{Concurrency: sem})
	if _, err := get(t, WithKey(t.Context(), "mbx"), c, srv.URL); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(heldDuringRequest) != "[1 1]" || sem.acquired.Load() != 2 || sem.released.Load() != 2 {
		t.Fatalf("held during requests %v, acquired %d, released %d", heldDuringRequest, sem.acquired.Load(), sem.released.Load())
	}
}
