package envelope

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DataKeyStore keeps each organization's wrapped data key. Services
// implement it over their own Postgres table; envelopetest has the contract
// tests every implementation must pass.
type DataKeyStore interface {
	// GetWrapped returns the organization's wrapped data key, or
	// ErrDataKeyNotFound.
	GetWrapped(ctx context.Context, orgID string) (string, error)
	// PutWrapped stores a wrapped data key only if the organization has
	// none (INSERT ... ON CONFLICT DO NOTHING), and returns
	// ErrDataKeyExists otherwise: two replicas may race to create the
	// first key, and both must end up using the same one.
	PutWrapped(ctx context.Context, orgID, wrapped string) error
}

// DataKeyReplacer is the extra a store needs for Vault.Rewrap.
type DataKeyReplacer interface {
	// ReplaceWrapped swaps old for new only if old is still stored
	// (compare-and-swap), and returns ErrDataKeyChanged otherwise.
	ReplaceWrapped(ctx context.Context, orgID, old, new string) error
}

// VaultOptions tune a Vault. The zero value is ready to use.
type VaultOptions struct {
	// CacheTTL is how long an unwrapped data key stays in memory: long
	// enough to spare the store a read per seal, short enough that a
	// removed KEK or a replaced data key takes effect quickly. Default 5
	// minutes; negative disables the cache.
	CacheTTL time.Duration
	// Now is the clock for the cache; tests replace it.
	Now func() time.Time
}

// Vault seals and opens an organization's secrets with its data key,
// creating the key on first use.
type Vault struct {
	ring  *KeyRing
	store DataKeyStore
	ttl   time.Duration
	now   func() time.Time

	mu    sync.Mutex
	cache map[string]cachedKey
}

type cachedKey struct {
	key     *DataKey
	expires time.Time
}

// NewVault returns a vault that wraps data keys with ring and keeps them
// in store.
func NewVault(ring *KeyRing, store DataKeyStore, opts VaultOptions) *Vault {
	if opts.CacheTTL == 0 {
		opts.CacheTTL = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Vault{ring: ring, store: store, ttl: opts.CacheTTL, now: opts.Now, cache: make(map[string]cachedKey)}
}

// Seal encrypts plaintext for orgID. The value is bound to orgID and to
// bind (e.g. the connection id and the field: "conn_123", "refresh_token"),
// so it opens only for the same organization and the same bindings.
func (v *Vault) Seal(ctx context.Context, orgID string, plaintext []byte, bind ...string) (string, error) {
	dk, err := v.dataKey(ctx, orgID, true, false)
	if err != nil {
		return "", err
	}
	return dk.Seal(plaintext, bindings(orgID, bind)...)
}

// Open decrypts a value sealed by Seal with the same orgID and bindings.
func (v *Vault) Open(ctx context.Context, orgID, sealed string, bind ...string) ([]byte, error) {
	sv, err := parseSealed(sealed)
	if err != nil {
		return nil, err
	}
	dk, err := v.dataKey(ctx, orgID, false, false)
	if err != nil {
		return nil, err
	}
	if dk.id != sv.dataKeyID {
		// The cached key may be stale (the data key was replaced since);
		// ask the store once before giving up.
		if dk, err = v.dataKey(ctx, orgID, false, true); err != nil {
			return nil, err
		}
	}
	return dk.Open(sealed, bindings(orgID, bind)...)
}

// Rewrap re-wraps orgID's data key under the ring's primary KEK, if it is
// not already, and stores it. The store must implement DataKeyReplacer.
// Sealed values are untouched: the data key inside stays the same.
func (v *Vault) Rewrap(ctx context.Context, orgID string) (changed bool, err error) {
	replacer, ok := v.store.(DataKeyReplacer)
	if !ok {
		return false, fmt.Errorf("envelope: rewrap: %T cannot replace data keys", v.store)
	}
	old, err := v.store.GetWrapped(ctx, orgID)
	if err != nil {
		return false, fmt.Errorf("envelope: rewrap: %w", err)
	}
	rewrapped, changed, err := v.ring.Rewrap(orgID, old)
	if err != nil || !changed {
		return false, err
	}
	if err := replacer.ReplaceWrapped(ctx, orgID, old, rewrapped); err != nil {
		return false, fmt.Errorf("envelope: rewrap: %w", err)
	}
	return true, nil
}

func bindings(orgID string, bind []string) []string {
	all := make([]string, 0, 1+len(bind))
	return append(append(all, orgID), bind...)
}

// dataKey returns orgID's data key from the cache or the store, creating
// it if create is set and the organization has none.
func (v *Vault) dataKey(ctx context.Context, orgID string, create, reload bool) (*DataKey, error) {
	now := v.now()
	if !reload && v.ttl > 0 {
		v.mu.Lock()
		c, ok := v.cache[orgID]
		v.mu.Unlock()
		if ok && now.Before(c.expires) {
			return c.key, nil
		}
	}

	wrapped, err := v.store.GetWrapped(ctx, orgID)
	switch {
	case errors.Is(err, ErrDataKeyNotFound) && create:
		wrapped, err = v.createDataKey(ctx, orgID)
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("envelope: loading data key: %w", err)
	}
	dk, err := v.ring.Unwrap(orgID, wrapped)
	if err != nil {
		return nil, err
	}
	if v.ttl > 0 {
		v.mu.Lock()
		// Expired entries of other organizations go when the map grows;
		// a service sees few organizations per TTL, so this stays small.
		if len(v.cache) >= 1024 {
			for id, c := range v.cache {
				if !now.Before(c.expires) {
					delete(v.cache, id)
				}
			}
		}
		v.cache[orgID] = cachedKey{key: dk, expires: now.Add(v.ttl)}
		v.mu.Unlock()
	}
	return dk, nil
}

// createDataKey makes a data key and stores it if the organization still
// has none; if another replica won the race it uses that one instead.
func (v *Vault) createDataKey(ctx context.Context, orgID string) (string, error) {
	dk, err := NewDataKey()
	if err != nil {
		return "", err
	}
	wrapped, err := v.ring.Wrap(orgID, dk)
	if err != nil {
		return "", err
	}
	err = v.store.PutWrapped(ctx, orgID, wrapped)
	if errors.Is(err, ErrDataKeyExists) {
		if wrapped, err = v.store.GetWrapped(ctx, orgID); err != nil {
			return "", fmt.Errorf("envelope: loading data key after losing the race to create it: %w", err)
		}
		return wrapped, nil
	}
	if err != nil {
		return "", fmt.Errorf("envelope: storing data key: %w", err)
	}
	return wrapped, nil
}
