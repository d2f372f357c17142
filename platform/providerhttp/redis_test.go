package providerhttp

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"

	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
)

// These tests run two Clients with their own Redis connections, standing
// for two replicas, against the real shared limits.

func newRedis(t testing.TB) *redis.Client { return pgtest.NewRedis(t) }

func testPrefix(t testing.TB, rdb *redis.Client) string { return pgtest.RedisPrefixCleaned(t, rdb) }

func newReplicas(t *testing.T, limit *ratelimit.Limit, holders int) (a, b *Client, rdb *redis.Client, prefix string) {
	t.Helper()
	ra, rb := newRedis(t), newRedis(t)
	prefix = testPrefix(t, ra)
	mk := func(rdb *redis.Client) *Client {
		o := Options{MaxRetryAfter: 10 * time.Second}
		if limit != nil {
			l, err := ratelimit.NewLimiter(rdb, redisx.ServiceKeys(prefix, "test", "ratelimit"), *limit)
			if err != nil {
				t.Fatal(err)
			}
			o.Limiter = l
		}
		if holders > 0 {
			s, err := ratelimit.NewSemaphore(rdb, redisx.ServiceKeys(prefix, "test", "concurrency"), holders, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			o.Concurrency = s
		}
		return New(o)
	}
	return mk(ra), mk(rb), ra, prefix
}

func do(t *testing.T, c *Client, ctx context.Context, url, replica string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Replica", replica)
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	_ = resp.Body.Close()
}

func TestReplicasShareRateLimit(t *testing.T) {
	t.Parallel()
	a, b, _, _ := newReplicas(t, &ratelimit.Limit{Events: 20, Per: time.Second, Burst: 1}, 0)
	var last atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last.Store(time.Now().UnixNano())
	}))
	t.Cleanup(srv.Close)

	ctx := WithKey(t.Context(), "conn-1")
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 4 {
		c, name := a, "a"
		if i%2 == 1 {
			c, name = b, "b"
		}
		wg.Go(func() {
			for range 4 {
				do(t, c, ctx, srv.URL, name)
			}
		})
	}
	wg.Wait()
	// 16 requests at 20/s with no burst: the last is admitted at least
	// 15 × 50ms after the first, which is after start.
	if took := time.Unix(0, last.Load()).Sub(start); took < 750*time.Millisecond {
		t.Fatalf("16 requests from two replicas arrived within %s; the shared limit allows no faster than 750ms", took)
	}
}

func TestReplicasShareConcurrencyLimit(t *testing.T) {
	t.Parallel()
	a, b, _, _ := newReplicas(t, nil, 2)
	var inFlight, peak atomic.Int32
	gate := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-gate
		inFlight.Add(-1)
	}))
	t.Cleanup(srv.Close)
	// Unblock the handlers before the server shuts down, even on failure.
	var openGate sync.Once
	t.Cleanup(func() { openGate.Do(func() { close(gate) }) })

	ctx := WithKey(t.Context(), "mbx-1")
	var wg sync.WaitGroup
	for i := range 6 {
		c, name := a, "a"
		if i%2 == 1 {
			c, name = b, "b"
		}
		wg.Go(func() { do(t, c, ctx, srv.URL, name) })
	}
	// Failures are reported after the handlers are released and the
	// requests have returned, so no goroutine outlives the test.
	var failure string
	if err := poll.Wait(t.Context(), 10*time.Second, func() error {
		if n := inFlight.Load(); n < 2 {
			return fmt.Errorf("%d requests reached the provider, want both slots taken", n)
		}
		return nil
	}); err != nil {
		failure = err.Error()
	}
	// Both slots are taken and their holders blocked; for a while, no
	// third request may reach the provider.
	for deadline := time.Now().Add(300 * time.Millisecond); failure == "" && time.Now().Before(deadline); {
		if n := inFlight.Load(); n > 2 {
			failure = fmt.Sprintf("%d requests in flight for one mailbox, limit 2", n)
		}
	}
	openGate.Do(func() { close(gate) })
	wg.Wait()
	if failure != "" {
		t.Fatal(failure)
	}
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak of %d concurrent requests, want exactly the limit of 2", p)
	}
}

func TestRetryAfterPausesOtherReplicas(t *testing.T) {
	t.Parallel()
	a, b, rdb, prefix := newReplicas(t, &ratelimit.Limit{Events: 1000, Per: time.Second, Burst: 10}, 0)
	var (
		mu       sync.Mutex
		throttle time.Time
		fromB    time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if r.Header.Get("X-Replica") == "b" && fromB.IsZero() {
			fromB = now
		}
		if throttle.IsZero() {
			throttle = now
			w.Header().Set("Retry-After", "0.5")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(srv.Close)

	ctx := WithKey(t.Context(), "mbx-1")
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, a, ctx, srv.URL, "a")
	}()
	// Wait until replica A has shared the provider's Retry-After.
	poll.Until(t, 10*time.Second, func() error {
		ttl, err := rdb.PTTL(t.Context(), redisx.ServiceKeys(prefix, "test", "ratelimit").Key("mbx-1")).Result()
		if err != nil || ttl <= 100*time.Millisecond {
			return fmt.Errorf("replica A has not paused the key: its TTL is %s (%w)", ttl, err)
		}
		return nil
	})
	do(t, b, ctx, srv.URL, "b")
	<-done
	mu.Lock()
	defer mu.Unlock()
	if gap := fromB.Sub(throttle); gap < 500*time.Millisecond {
		t.Fatalf("replica B reached the provider %s after it asked for 0.5s of quiet", gap)
	}
}
