package ratelimit

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/poll"
)

func TestQuotaTakeAllOrNothing(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	q, err := NewQuota(rdb, testPrefix(t, rdb), Window{Max: 30, Length: time.Hour, Buckets: 60})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	take := func(n int64) Decision {
		t.Helper()
		d, err := q.Take(ctx, "mbx", n)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := take(20); !d.Allowed || d.Remaining != 10 {
		t.Fatalf("take 20 of 30: %+v", d)
	}
	d := take(11)
	if d.Allowed || d.Remaining != 10 {
		t.Fatalf("take 11 with 10 left: %+v", d)
	}
	// The 20 units age out when their slice is a full hour old: between
	// 1h and 1h + one slice (1 minute) from now.
	if d.RetryAfter < 59*time.Minute || d.RetryAfter > 61*time.Minute {
		t.Fatalf("RetryAfter = %s, want about an hour", d.RetryAfter)
	}
	if d := take(10); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("take the last 10: %+v", d)
	}
	if d := take(1); d.Allowed {
		t.Fatalf("take beyond the quota: %+v", d)
	}
	if err := q.Refund(ctx, "mbx", 5); err != nil {
		t.Fatal(err)
	}
	if d := take(0); d.Remaining != 5 {
		t.Fatalf("after refunding 5: %+v", d)
	}
	if d := take(5); !d.Allowed {
		t.Fatalf("take refunded units: %+v", d)
	}
	if _, err := q.Take(ctx, "mbx", 31); !errors.Is(err, ErrExceedsCapacity) {
		t.Fatalf("take above max: %v", err)
	}
}

func TestQuotaSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	a, b := newRedis(t), newRedis(t)
	prefix := testPrefix(t, a)
	w := Window{Max: 30, Length: time.Minute}
	qa, err := NewQuota(a, prefix, w)
	if err != nil {
		t.Fatal(err)
	}
	qb, err := NewQuota(b, prefix, w)
	if err != nil {
		t.Fatal(err)
	}
	var taken atomic.Int64
	var wg sync.WaitGroup
	for _, q := range []*Quota{qa, qb, qa, qb} {
		wg.Go(func() {
			for range 15 {
				d, err := q.Take(t.Context(), "mbx", 1)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					taken.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := taken.Load(); n != 30 {
		t.Fatalf("took %d across replicas, want exactly 30", n)
	}
}

func TestQuotaFreesAfterWindow(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	const length = 300 * time.Millisecond
	q, err := NewQuota(rdb, testPrefix(t, rdb), Window{Max: 3, Length: length, Buckets: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	start := time.Now()
	if d, err := q.Take(ctx, "mbx", 3); err != nil || !d.Allowed {
		t.Fatalf("%+v %v", d, err)
	}
	deniedAt := time.Now()
	denied, err := q.Take(ctx, "mbx", 1)
	if err != nil || denied.Allowed {
		t.Fatalf("%+v %v", denied, err)
	}
	poll.Until(t, 5*time.Second, func() error {
		d, err := q.Take(ctx, "mbx", 1)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed {
			return fmt.Errorf("the quota has not freed: %+v", d)
		}
		return nil
	})
	elapsed := time.Since(start)
	if elapsed < length {
		t.Fatalf("freed after %s, inside the %s window", elapsed, length)
	}
	// RetryAfter is computed from Redis time truncated to milliseconds,
	// so it may overstate the wait by up to 1ms, never understate it.
	if waited := time.Since(deniedAt); waited < denied.RetryAfter-time.Millisecond {
		t.Fatalf("freed after %s, before the promised RetryAfter %s", waited, denied.RetryAfter)
	}
}

func TestNewQuotaRejectsInvalid(t *testing.T) {
	for _, w := range []Window{
		{Max: 0, Length: time.Minute},
		{Max: 1, Length: 0},
		{Max: 1, Length: time.Minute, Buckets: 5000},
		{Max: 1, Length: time.Minute, Buckets: -1},
	} {
		if _, err := NewQuota(nil, anyKeys, w); !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("NewQuota(%+v) = %v, want ErrInvalidLimit", w, err)
		}
	}
}

func BenchmarkQuotaTake(b *testing.B) {
	rdb := newRedis(b)
	q, err := NewQuota(rdb, testPrefix(b, rdb), Window{Max: 1 << 40, Length: 24 * time.Hour, Buckets: 96})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	for b.Loop() {
		if _, err := q.Take(ctx, "k", 1); err != nil {
			b.Fatal(err)
		}
	}
}
