package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/logging/logtest"
	"github.com/tandemhq/tandem/platform/pgtest"
)

func TestSemaphoreSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	a, b := newRedis(t), newRedis(t)
	prefix := testPrefix(t, a)
	sa, err := NewSemaphore(a, prefix, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := NewSemaphore(b, prefix, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	r1, err := sa.Acquire(ctx, "mbx")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := sb.Acquire(ctx, "mbx")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sb.TryAcquire(ctx, "mbx"); err != nil || ok {
		t.Fatalf("third holder admitted (ok=%v, err=%v)", ok, err)
	}
	if r, ok, err := sa.TryAcquire(ctx, "other-mbx"); err != nil || !ok {
		t.Fatalf("another key is independent: ok=%v, err=%v", ok, err)
	} else {
		r()
	}
	r1()
	r1() // releasing twice must not free someone else's slot
	r3, ok, err := sb.TryAcquire(ctx, "mbx")
	if err != nil || !ok {
		t.Fatalf("slot not freed by release: ok=%v, err=%v", ok, err)
	}
	if _, ok, err := sa.TryAcquire(ctx, "mbx"); err != nil || ok {
		t.Fatalf("double release freed a second slot (err %v)", err)
	}
	r2()
	r3()
}

func TestSemaphoreBoundsConcurrentHolders(t *testing.T) {
	t.Parallel()
	a, b := newRedis(t), newRedis(t)
	prefix := testPrefix(t, a)
	sa, err := NewSemaphore(a, prefix, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := NewSemaphore(b, prefix, 2, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	var inFlight, peak, done atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		s := sa
		if i%2 == 1 {
			s = sb
		}
		wg.Go(func() {
			for range 3 {
				release, err := s.Acquire(t.Context(), "mbx")
				if err != nil {
					t.Error(err)
					return
				}
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				// Some real work while holding the slot.
				if err := a.Ping(t.Context()).Err(); err != nil {
					t.Error(err)
				}
				inFlight.Add(-1)
				release()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Fatalf("%d holders at once, limit is 2", p)
	}
	if done.Load() != 24 {
		t.Fatalf("%d of 24 acquisitions completed", done.Load())
	}
}

func TestSemaphoreLeaseExpiresWhenHolderDies(t *testing.T) {
	t.Parallel()
	a, b := newRedis(t), newRedis(t)
	prefix := testPrefix(t, a)
	const lease = 300 * time.Millisecond
	sb, err := NewSemaphore(b, prefix, 2, lease)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// Replica A takes both slots and "dies": it runs the acquire script
	// directly, so nothing ever renews or releases its leases.
	start := time.Now()
	for _, id := range []string{"dead-1", "dead-2"} {
		res, err := acquireScript.Run(ctx, a, []string{prefix.Key("mbx")}, 2, lease.Milliseconds(), id).Int64Slice()
		if err != nil || res[0] != 1 {
			t.Fatalf("dead holder %s: %v %v", id, res, err)
		}
	}
	if _, ok, err := sb.TryAcquire(ctx, "mbx"); err != nil || ok {
		t.Fatalf("admitted while both leases are live: ok=%v, err=%v", ok, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	release, err := sb.Acquire(waitCtx, "mbx")
	if err != nil {
		t.Fatalf("slot never freed after the holder died: %v", err)
	}
	defer release()
	if elapsed := time.Since(start); elapsed < lease-5*time.Millisecond {
		t.Fatalf("acquired after %s, before the dead holder's %s lease ran out", elapsed, lease)
	}
}

func TestSemaphoreLiveHolderKeepsLease(t *testing.T) {
	t.Parallel()
	a, b := newRedis(t), newRedis(t)
	prefix := testPrefix(t, a)
	// Renewals come every lease/3, so a lease this long leaves a loaded
	// machine (the race detector, parallel packages) 400 ms of slack per
	// renewal; a shorter one made the test fail for want of CPU, not of a
	// renewal.
	const lease = 600 * time.Millisecond
	sa, err := NewSemaphore(a, prefix, 1, lease)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := NewSemaphore(b, prefix, 1, lease)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	release, err := sa.Acquire(ctx, "mbx")
	if err != nil {
		t.Fatal(err)
	}
	// The holder is alive for several lease lengths; its renewals must keep
	// the slot taken the whole time.
	for deadline := time.Now().Add(3 * lease); time.Now().Before(deadline); {
		if r, ok, err := sb.TryAcquire(ctx, "mbx"); err != nil {
			t.Fatal(err)
		} else if ok {
			r()
			t.Fatal("a live holder's lease expired")
		}
	}
	release()
	r, ok, err := sb.TryAcquire(ctx, "mbx")
	if err != nil || !ok {
		t.Fatalf("slot not free after release: ok=%v, err=%v", ok, err)
	}
	r()
}

func TestSemaphoreReleaseAfterContextCancelled(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	prefix := testPrefix(t, rdb)
	s, err := NewSemaphore(rdb, prefix, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	release, err := s.Acquire(ctx, "mbx")
	if err != nil {
		t.Fatal(err)
	}
	cancel() // the request that held the slot ended
	release()
	if n, err := rdb.ZCard(t.Context(), prefix.Key("mbx")).Result(); err != nil || n != 0 {
		t.Fatalf("holders after release = %d (%v), want 0", n, err)
	}
}

func TestSemaphoreAcquireIsIdempotentPerHolder(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	prefix := testPrefix(t, rdb)
	for range 2 {
		if err := acquireScript.Run(t.Context(), rdb, []string{prefix.Key("k")}, 3, 1000, "same-id").Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := rdb.ZCard(t.Context(), prefix.Key("k")).Result(); err != nil || n != 1 {
		t.Fatalf("a retried acquire took %d slots (err %v)", n, err)
	}
}

func TestSemaphoreAcquireStopsOnContext(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	s, err := NewSemaphore(rdb, testPrefix(t, rdb), 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	release, err := s.Acquire(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Acquire(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on a full key past the deadline = %v", err)
	}
}

func TestNewSemaphoreRejectsInvalid(t *testing.T) {
	if _, err := NewSemaphore(nil, anyKeys, 0, time.Second); !errors.Is(err, ErrInvalidLimit) {
		t.Errorf("0 holders: %v", err)
	}
	if _, err := NewSemaphore(nil, anyKeys, 1, time.Millisecond); !errors.Is(err, ErrInvalidLimit) {
		t.Errorf("1ms lease: %v", err)
	}
}

// A release that cannot reach Redis is logged: the slot stays taken until
// its lease runs out.
func TestSemaphoreFailedReleaseIsLogged(t *testing.T) {
	t.Parallel()
	opt, err := redis.ParseURL(pgtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	logs := &logtest.Buffer{}
	s, err := NewSemaphore(rdb, testPrefix(t, newRedis(t)), 1, time.Minute, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	release, err := s.Acquire(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Close(); err != nil {
		t.Fatal(err)
	}
	release()
	if !strings.Contains(logs.String(), "semaphore release failed") {
		t.Fatalf("no log line for a failed release:\n%s", logs.String())
	}
}
