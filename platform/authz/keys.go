package authz

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// KeySource gives the public key that verifies tokens signed under kid.
type KeySource interface {
	VerificationKey(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

var (
	// ErrUnknownKey means no key has this id: the token was signed by a key
	// we do not trust (or one retired long ago).
	ErrUnknownKey = errors.New("authz: unknown signing key")
	// ErrKeysUnavailable means the keys could not be fetched, so a token
	// cannot be judged either way; the caller may retry.
	ErrKeysUnavailable = errors.New("authz: verification keys unavailable")
)

// StaticKeys is a fixed set of public keys by kid. Identity uses it for its
// own tokens (current and previous key); tests use it everywhere.
type StaticKeys map[string]ed25519.PublicKey

// VerificationKey implements KeySource.
func (s StaticKeys) VerificationKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	k, ok := s[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	return k, nil
}

// Defaults for CachedKeys.
const (
	DefaultKeysTTL          = 5 * time.Minute
	DefaultKeysMinInterval  = 5 * time.Second
	DefaultKeysMaxStale     = time.Hour
	DefaultKeysFetchTimeout = 5 * time.Second
)

// CachedKeys is the KeySource of services other than identity: it fetches
// identity's public keys (over gRPC, through Fetch) and keeps them.
//
// It refetches when the set is older than TTL and when a token names a kid
// it does not know, so a new key is picked up the first time a token signed
// with it arrives, without a restart. Fetches are single-flight and at most
// one per MinInterval: a stream of tokens with made-up kids costs identity
// one call every few seconds, not one per request.
//
// A known key is answered from the cache even while a refresh runs or after
// a refresh failed, so a short identity outage does not log everyone out.
// After MaxStale without a successful fetch the cache stops answering: a
// key identity has withdrawn (because it leaked) must stop working some
// time.
//
// Use a *CachedKeys; the zero value of every field but Fetch means its
// default.
type CachedKeys struct {
	// Fetch returns every key identity currently verifies with, by kid.
	Fetch        func(ctx context.Context) (map[string]ed25519.PublicKey, error)
	TTL          time.Duration // age after which the set is refreshed
	MinInterval  time.Duration // least time between two fetches
	MaxStale     time.Duration // how long past TTL a set is used while fetches fail
	FetchTimeout time.Duration // bound on one fetch, which outlives the caller that started it
	Now          func() time.Time

	mu          sync.Mutex
	keys        map[string]ed25519.PublicKey
	fetchedAt   time.Time // of the last successful fetch
	attemptedAt time.Time // of the last fetch started
	lastErr     error     // of the last fetch, nil after a success
	inflight    chan struct{}
	onWait      func() // test hook: a caller starts waiting for a fetch
}

// VerificationKey implements KeySource.
func (c *CachedKeys) VerificationKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	c.mu.Lock()
	now := c.now()
	key, known := c.keys[kid]
	fresh := !c.fetchedAt.IsZero() && now.Sub(c.fetchedAt) < c.ttl()
	if known && fresh {
		c.mu.Unlock()
		return key, nil
	}
	started := c.startFetchLocked(ctx, now)
	wait := c.inflight
	if known {
		// Stale but known: answer now and let the refresh run in the
		// background, unless the set has been stale for too long.
		usable := now.Sub(c.fetchedAt) < c.ttl()+c.maxStale()
		c.mu.Unlock()
		if usable {
			return key, nil
		}
	} else {
		c.mu.Unlock()
	}
	if wait != nil {
		if !started && c.onWait != nil {
			c.onWait()
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	key, known = c.keys[kid]
	if known && c.now().Sub(c.fetchedAt) < c.ttl()+c.maxStale() {
		return key, nil
	}
	if c.lastErr != nil {
		// We could not ask identity, so we cannot say the key is unknown.
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, c.lastErr)
	}
	if known {
		return nil, fmt.Errorf("%w: keys are stale", ErrKeysUnavailable)
	}
	return nil, ErrUnknownKey
}

// startFetchLocked starts a fetch unless one is running or the last began
// less than MinInterval ago. It reports whether it started one.
func (c *CachedKeys) startFetchLocked(ctx context.Context, now time.Time) bool {
	if c.inflight != nil {
		return false
	}
	if !c.attemptedAt.IsZero() && now.Sub(c.attemptedAt) < c.minInterval() {
		return false
	}
	c.attemptedAt = now
	done := make(chan struct{})
	c.inflight = done
	// The fetch serves every waiting caller, so the one that happened to
	// start it must not cancel it by going away.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fetchTimeout())
	go func() {
		defer cancel()
		keys, err := c.fetch(fctx)
		c.mu.Lock()
		if err != nil {
			c.lastErr = err
		} else {
			c.keys, c.fetchedAt, c.lastErr = keys, c.now(), nil
		}
		c.inflight = nil
		c.mu.Unlock()
		close(done)
	}()
	return true
}

func (c *CachedKeys) fetch(ctx context.Context) (keys map[string]ed25519.PublicKey, err error) {
	if c.Fetch == nil {
		return nil, errors.New("authz: CachedKeys has no Fetch")
	}
	defer func() {
		// A panicking Fetch would otherwise leave inflight set for ever.
		if p := recover(); p != nil {
			keys, err = nil, fmt.Errorf("authz: fetching keys panicked: %v", p)
		}
	}()
	keys, err = c.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	for kid, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("authz: fetched key %q is not an Ed25519 public key", kid)
		}
	}
	return maps.Clone(keys), nil
}

func (c *CachedKeys) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *CachedKeys) ttl() time.Duration { return orDefault(c.TTL, DefaultKeysTTL) }
func (c *CachedKeys) minInterval() time.Duration {
	return orDefault(c.MinInterval, DefaultKeysMinInterval)
}
func (c *CachedKeys) maxStale() time.Duration { return orDefault(c.MaxStale, DefaultKeysMaxStale) }
func (c *CachedKeys) fetchTimeout() time.Duration {
	return orDefault(c.FetchTimeout, DefaultKeysFetchTimeout)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
