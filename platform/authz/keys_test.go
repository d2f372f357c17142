package authz

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/poll"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(at time.Time) *fakeClock { return &fakeClock{now: at} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeIdentity serves its current public keys, as identity's key RPC would.
type fakeIdentity struct {
	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	err     error
	fetches atomic.Int32
}

func (f *fakeIdentity) set(keys ...SigningKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = map[string]ed25519.PublicKey{}
	for _, k := range keys {
		f.keys[k.ID] = k.Public()
	}
}

func (f *fakeIdentity) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeIdentity) Fetch(context.Context) (map[string]ed25519.PublicKey, error) {
	f.fetches.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return maps.Clone(f.keys), nil
}

// settle waits for a background refresh, if one is running.
func settle(c *CachedKeys) {
	c.mu.Lock()
	ch := c.inflight
	c.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

const (
	testTTL      = 5 * time.Minute
	testInterval = 5 * time.Second
	testMaxStale = time.Hour
)

func newCache(id *fakeIdentity, clk *fakeClock) *CachedKeys {
	return &CachedKeys{Fetch: id.Fetch, TTL: testTTL, MinInterval: testInterval, MaxStale: testMaxStale, Now: clk.Now}
}

func TestCachedKeysRotation(t *testing.T) {
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	id := &fakeIdentity{}
	id.set(k1)
	clk := newClock(t0)
	cache := newCache(id, clk)
	v := NewVerifier(cache, VerifierOptions{Now: clk.Now})
	verify := func(k SigningKey) error {
		t.Helper()
		tok, err := newSigner(t, k).Sign(alice, 10*time.Minute, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(t.Context(), tok)
		return err
	}

	if err := verify(k1); err != nil {
		t.Fatalf("first token: %v", err)
	}
	if err := verify(k1); err != nil || id.fetches.Load() != 1 {
		t.Fatalf("second token: %v after %d fetches, want served from cache", err, id.fetches.Load())
	}

	// Identity rotates to k2. A k2 token arriving within MinInterval of the
	// last fetch is refused rather than fetching again...
	id.set(k1, k2)
	clk.Advance(time.Second)
	if err := verify(k2); !errors.Is(err, ErrUnknownKey) || id.fetches.Load() != 1 {
		t.Fatalf("within MinInterval: %v after %d fetches, want ErrUnknownKey and no fetch", err, id.fetches.Load())
	}
	// ...and picked up on demand once the interval has passed, no restart.
	clk.Advance(testInterval)
	if err := verify(k2); err != nil || id.fetches.Load() != 2 {
		t.Fatalf("after MinInterval: %v after %d fetches", err, id.fetches.Load())
	}

	// Identity withdraws k1. Its tokens keep working from the cache until the
	// TTL, and the refresh after it drops them.
	id.set(k2)
	clk.Advance(testTTL)
	if err := verify(k1); err != nil {
		t.Fatalf("stale but known key should still be served while refreshing: %v", err)
	}
	settle(cache)
	if id.fetches.Load() != 3 {
		t.Fatalf("TTL did not trigger a refresh: %d fetches", id.fetches.Load())
	}
	if err := verify(k1); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("withdrawn key: %v, want ErrUnknownKey", err)
	}
	if err := verify(k2); err != nil {
		t.Fatalf("current key after refresh: %v", err)
	}
}

func TestCachedKeysUnknownKidFloodIsRateLimited(t *testing.T) {
	id := &fakeIdentity{}
	id.set(newKey(t, "k1"))
	clk := newClock(t0)
	cache := newCache(id, clk)
	for i := range 100 {
		if _, err := cache.VerificationKey(t.Context(), "made-up"); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := id.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for a flood within MinInterval, want 1", n)
	}
	clk.Advance(testInterval)
	for i := range 100 {
		if _, err := cache.VerificationKey(t.Context(), "made-up"); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("call %d after an interval: %v", i, err)
		}
	}
	if n := id.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after one more interval, want 2", n)
	}
}

func TestCachedKeysSingleFlight(t *testing.T) {
	k1 := newKey(t, "k1")
	entered := make(chan struct{})
	release := make(chan struct{})
	var fetches atomic.Int32
	cache := &CachedKeys{
		Now: newClock(t0).Now,
		Fetch: func(ctx context.Context) (map[string]ed25519.PublicKey, error) {
			fetches.Add(1)
			close(entered)
			<-release
			return map[string]ed25519.PublicKey{"k1": k1.Public()}, nil
		},
	}
	const followers = 8
	var waiting atomic.Int32
	cache.onWait = func() { waiting.Add(1) }

	type result struct {
		key ed25519.PublicKey
		err error
	}
	results := make(chan result, followers+1)
	get := func() {
		k, err := cache.VerificationKey(context.Background(), "k1")
		results <- result{k, err}
	}
	go get() // starts the fetch
	<-entered
	for range followers {
		go get()
	}
	poll.Until(t, 10*time.Second, func() error {
		if n := waiting.Load(); n < followers {
			return fmt.Errorf("only %d of %d callers wait for the fetch in flight", n, followers)
		}
		return nil
	})
	close(release)
	for range followers + 1 {
		r := <-results
		if r.err != nil || !r.key.Equal(k1.Public()) {
			t.Fatalf("caller got %v, %v", r.key, r.err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestCachedKeysWaiterLeavingDoesNotCancelTheFetch(t *testing.T) {
	k1 := newKey(t, "k1")
	release := make(chan struct{})
	cache := &CachedKeys{
		Now: newClock(t0).Now,
		Fetch: func(ctx context.Context) (map[string]ed25519.PublicKey, error) {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return map[string]ed25519.PublicKey{"k1": k1.Public()}, nil
		},
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := cache.VerificationKey(ctx, "k1"); !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(release)
	settle(cache)
	if k, err := cache.VerificationKey(t.Context(), "k1"); err != nil || !k.Equal(k1.Public()) {
		t.Fatalf("the fetch should have completed for later callers: %v", err)
	}
}

func TestCachedKeysOutage(t *testing.T) {
	k1 := newKey(t, "k1")
	down := errors.New("identity unreachable")

	t.Run("never fetched", func(t *testing.T) {
		id := &fakeIdentity{}
		id.fail(down)
		clk := newClock(t0)
		v := NewVerifier(newCache(id, clk), VerifierOptions{Now: clk.Now})
		tok, err := newSigner(t, k1).Sign(alice, time.Minute, t0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(t.Context(), tok)
		if !errors.Is(err, apperr.ErrUnavailable) || !errors.Is(err, down) {
			t.Fatalf("err = %v, want Unavailable wrapping the fetch error", err)
		}
		// Rate limited now, but the answer must stay "unavailable", not
		// "unknown key": nothing is known either way.
		_, err = v.Verify(t.Context(), tok)
		if !errors.Is(err, apperr.ErrUnavailable) {
			t.Fatalf("second call: %v", err)
		}
	})

	t.Run("stale keys serve until MaxStale", func(t *testing.T) {
		id := &fakeIdentity{}
		id.set(k1)
		clk := newClock(t0)
		cache := newCache(id, clk)
		if _, err := cache.VerificationKey(t.Context(), "k1"); err != nil {
			t.Fatal(err)
		}
		id.fail(down)
		clk.Advance(testTTL + testMaxStale - time.Second)
		if _, err := cache.VerificationKey(t.Context(), "k1"); err != nil {
			t.Fatalf("within MaxStale: %v", err)
		}
		settle(cache)
		clk.Advance(time.Second)
		_, err := cache.VerificationKey(t.Context(), "k1")
		if !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, down) {
			t.Fatalf("past MaxStale: %v, want ErrKeysUnavailable", err)
		}
		// Identity comes back: the next allowed fetch restores service.
		id.fail(nil)
		clk.Advance(testInterval)
		if _, err := cache.VerificationKey(t.Context(), "k1"); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	})
}

func TestCachedKeysRejectsMalformedKeys(t *testing.T) {
	cache := &CachedKeys{
		Now: newClock(t0).Now,
		Fetch: func(context.Context) (map[string]ed25519.PublicKey, error) {
			return map[string]ed25519.PublicKey{"k1": ed25519.PublicKey("short")}, nil
		},
	}
	if _, err := cache.VerificationKey(t.Context(), "k1"); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("err = %v", err)
	}
}

func TestCachedKeysSurvivesPanickingFetch(t *testing.T) {
	calls := 0
	clk := newClock(t0)
	cache := &CachedKeys{Now: clk.Now, Fetch: func(context.Context) (map[string]ed25519.PublicKey, error) {
		calls++
		if calls == 1 {
			panic("boom")
		}
		return map[string]ed25519.PublicKey{}, nil
	}}
	if _, err := cache.VerificationKey(t.Context(), "k1"); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("err = %v", err)
	}
	clk.Advance(DefaultKeysMinInterval)
	if _, err := cache.VerificationKey(t.Context(), "k1"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("after the panic the cache must still fetch: %v", err)
	}
}
