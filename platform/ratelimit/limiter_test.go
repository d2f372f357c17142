package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiterBurstThenRetryAfter(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	l, err := NewLimiter(rdb, testPrefix(t, rdb), Limit{Events: 1, Per: time.Hour, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i, wantRemaining := range []int64{2, 1, 0} {
		d, err := l.Allow(ctx, "conn-1")
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Remaining != wantRemaining || d.RetryAfter != 0 {
			t.Fatalf("request %d: got %+v, want allowed with %d remaining", i, d, wantRemaining)
		}
	}
	d, err := l.Allow(ctx, "conn-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Remaining != 0 {
		t.Fatalf("4th request: got %+v, want denied", d)
	}
	if d.RetryAfter <= 59*time.Minute || d.RetryAfter > time.Hour {
		t.Fatalf("RetryAfter = %s, want just under 1h", d.RetryAfter)
	}

	// Keys are independent.
	if d, err := l.Allow(ctx, "conn-2"); err != nil || !d.Allowed {
		t.Fatalf("other key: %+v, %v", d, err)
	}
	if _, err := l.AllowN(ctx, "conn-2", 4); !errors.Is(err, ErrExceedsCapacity) {
		t.Fatalf("cost above burst: err = %v, want ErrExceedsCapacity", err)
	}
	// Cost 0 only reports.
	if d, err := l.AllowN(ctx, "conn-2", 0); err != nil || !d.Allowed || d.Remaining != 2 {
		t.Fatalf("peek: %+v, %v", d, err)
	}
}

func TestLimiterSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	// Two clients stand for two replicas; a slow refill makes the count of
	// admissions exactly the burst, whatever the interleaving.
	a, b := newRedis(t), newRedis(t)
	prefix := testPrefix(t, a)
	limit := Limit{Events: 1, Per: time.Hour, Burst: 10}
	la, err := NewLimiter(a, prefix, limit)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewLimiter(b, prefix, limit)
	if err != nil {
		t.Fatal(err)
	}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for _, l := range []*Limiter{la, lb, la, lb} {
		wg.Go(func() {
			for range 10 {
				d, err := l.Allow(t.Context(), "mailbox")
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Fatalf("admitted %d across replicas, want exactly the burst of 10", got)
	}
}

func TestLimiterWaitHoldsCombinedRate(t *testing.T) {
	t.Parallel()
	a, b := newRedis(t), newRedis(t)
	prefix := testPrefix(t, a)
	limit := Limit{Events: 50, Per: time.Second, Burst: 1} // one every 20ms
	la, err := NewLimiter(a, prefix, limit)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := NewLimiter(b, prefix, limit)
	if err != nil {
		t.Fatal(err)
	}

	const perWorker, workers = 5, 4
	start := time.Now()
	var wg sync.WaitGroup
	for i := range workers {
		l := la
		if i%2 == 1 {
			l = lb
		}
		wg.Go(func() {
			for range perWorker {
				if err := l.Wait(t.Context(), "conn"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	// 20 admissions at one per 20ms, the first free: at least 19 gaps.
	if floor := 19 * 20 * time.Millisecond; elapsed < floor {
		t.Fatalf("20 admissions took %s, faster than the combined limit allows (%s)", elapsed, floor)
	}
}

func TestLimiterWaitStopsOnContext(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	l, err := NewLimiter(rdb, testPrefix(t, rdb), Limit{Events: 1, Per: time.Hour, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Wait(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Wait(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait on a cancelled context = %v", err)
	}
}

func TestLimiterPause(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	l, err := NewLimiter(rdb, testPrefix(t, rdb), Limit{Events: 100, Per: time.Second, Burst: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := l.Pause(ctx, "mbx", time.Hour); err != nil {
		t.Fatal(err)
	}
	d, err := l.Allow(ctx, "mbx")
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.RetryAfter <= 59*time.Minute || d.RetryAfter > time.Hour {
		t.Fatalf("after a 1h pause: %+v", d)
	}
	// A shorter pause does not cut a longer one short.
	if err := l.Pause(ctx, "mbx", time.Second); err != nil {
		t.Fatal(err)
	}
	if d, err := l.Allow(ctx, "mbx"); err != nil || d.Allowed || d.RetryAfter <= 59*time.Minute {
		t.Fatalf("after a shorter pause: %+v (err %v)", d, err)
	}
	if d, err := l.Allow(ctx, "other"); err != nil || !d.Allowed {
		t.Fatalf("pause leaked to another key: %+v (err %v)", d, err)
	}
}

func TestNewLimiterRejectsInvalidLimits(t *testing.T) {
	for _, lim := range []Limit{
		{Events: 0, Per: time.Second, Burst: 1},
		{Events: 1, Per: 0, Burst: 1},
		{Events: 1, Per: time.Second, Burst: 0},
		{Events: 10_000_000, Per: time.Second, Burst: 1},
	} {
		if _, err := NewLimiter(nil, anyKeys, lim); !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("NewLimiter(%+v) err = %v, want ErrInvalidLimit", lim, err)
		}
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	rdb := newRedis(b)
	l, err := NewLimiter(rdb, testPrefix(b, rdb), Limit{Events: 1_000_000, Per: time.Second, Burst: 1000})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := l.Allow(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Allow(ctx, "k"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func TestLimiterPeekSpendsNothing(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	l, err := NewLimiter(rdb, testPrefix(t, rdb), Limit{Events: 1, Per: time.Hour, Burst: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	peek := func(want Budget) {
		t.Helper()
		for range 2 {
			if b, err := l.Peek(ctx, "conn"); err != nil || b != want {
				t.Fatalf("Peek = %+v, %v; want %+v", b, err, want)
			}
		}
	}
	peek(Budget{Burst: 3, Available: 3})
	for range 2 {
		if d, err := l.Allow(ctx, "conn"); err != nil || !d.Allowed {
			t.Fatalf("Allow: %+v, %v", d, err)
		}
	}
	peek(Budget{Burst: 3, Available: 1, Used: 2})
	// The peeks left the last request of the burst to take.
	if d, err := l.Allow(ctx, "conn"); err != nil || !d.Allowed || d.Remaining != 0 {
		t.Fatalf("the burst's last request: %+v, %v", d, err)
	}
	peek(Budget{Burst: 3, Used: 3})
	// A pause holds the whole budget of another key.
	if err := l.Pause(ctx, "other", time.Hour); err != nil {
		t.Fatal(err)
	}
	if b, err := l.Peek(ctx, "other"); err != nil || b != (Budget{Burst: 3, Used: 3}) {
		t.Fatalf("paused: %+v, %v", b, err)
	}
}
