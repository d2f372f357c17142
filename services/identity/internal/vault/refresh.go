package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/apperr"
)

// How often a caller looks again while another replica holds the lock:
// from pollMin, doubling to pollMax, with jitter.
const (
	pollMin = 10 * time.Millisecond
	pollMax = 200 * time.Millisecond
)

// aheadRetry is how long this replica waits, after starting a background
// refresh of a connection, before it starts another: a provider that keeps
// failing is not asked again on every call.
const aheadRetry = 10 * time.Second

// sharedRefresh runs one refresh per connection in this process and lets
// every caller wait for it within its own context. The refresh itself runs
// on a context detached from any one caller (but bounded by
// RefreshTimeout): the first caller giving up must not fail the others, and
// a refresh cut off half-way could lose a rotated refresh token.
func (v *Vault) sharedRefresh(ctx context.Context, orgID, connID, seen string, force bool) (Token, error) {
	ch := v.flight.DoChan(flightKey(orgID, connID, force), v.refreshFunc(ctx, orgID, connID, seen, force))
	select {
	case r := <-ch:
		if r.Err != nil {
			return Token{}, r.Err
		}
		tok, _ := r.Val.(Token) // what coordinate returned
		return tok, nil
	case <-ctx.Done():
		return Token{}, fmt.Errorf("vault: waiting for a token refresh: %w", ctx.Err())
	}
}

// refreshAhead starts the shared refresh of a token that is due but still
// valid, and does not wait for it: callers keep the valid token meanwhile.
// It joins a refresh already in flight (a caller with an expired token
// joins it too), and starts at most one per connection and aheadRetry on
// this replica; the Redis lock keeps it to one across replicas.
func (v *Vault) refreshAhead(ctx context.Context, orgID, connID, seen string, now time.Time) {
	if !v.ahead.due(orgID, connID, now) {
		return
	}
	// The result channel is buffered: nobody needs to read it.
	v.flight.DoChan(flightKey(orgID, connID, false), v.refreshFunc(ctx, orgID, connID, seen, false))
}

// flightKey names a connection's refresh in the single flight. The
// organization is part of it: a caller of another organization must not
// receive this connection's token from a shared flight.
func flightKey(orgID, connID string, force bool) string {
	key := orgID + "\x00" + connID
	if force {
		key = "force\x00" + key
	}
	return key
}

func (v *Vault) refreshFunc(ctx context.Context, orgID, connID, seen string, force bool) func() (any, error) {
	return func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.refreshTimeout)
		defer cancel()
		return v.coordinate(fctx, orgID, connID, seen, force)
	}
}

// coordinate takes the connection's Redis lock and refreshes, or, while
// another replica holds it, returns a token that is still valid or waits
// for the other's result. seen is the sealed value the caller found due.
func (v *Vault) coordinate(ctx context.Context, orgID, connID, seen string, force bool) (Token, error) {
	owner := newOwner()
	wait := pollMin
	for {
		took, err := v.rdb.SetNX(ctx, v.lockKey(connID), owner, v.lockTTL).Result()
		if err != nil {
			return Token{}, v.fail(ctx, orgID, connID, &storeError{"taking the refresh lock", err})
		}
		if took {
			return v.refreshLocked(ctx, orgID, connID, seen, force, owner)
		}
		rec, err := v.load(ctx, orgID, connID)
		if err != nil {
			return Token{}, v.fail(ctx, orgID, connID, err)
		}
		// Another replica is refreshing. A token that has not expired
		// serves meanwhile, whether it is the one we found due or the
		// other's fresh one (even if that is already inside
		// RefreshBefore: refreshing again would only make a storm).
		if usable(rec.creds, v.now()) {
			return rec.token(), nil
		}
		t := time.NewTimer(wait/2 + mrand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return Token{}, apperr.Unavailable("timed out waiting for the token refresh, try again", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, pollMax)
	}
}

// refreshLocked runs while this caller holds the lock: it reads the
// credentials again (another replica may have refreshed since we looked),
// from the DurableStore too, then refreshes at the provider if they still
// need it. A refresh starts only when the DurableStore has just answered,
// so that its result can be kept there.
func (v *Vault) refreshLocked(ctx context.Context, orgID, connID, seen string, force bool, owner string) (Token, error) {
	lock := v.lockKey(connID)
	stop := v.keepLock(ctx, lock, owner)
	defer func() {
		stop()
		v.unlock(ctx, lock, owner)
	}()

	rec, err := v.load(ctx, orgID, connID)
	if err != nil {
		return Token{}, v.fail(ctx, orgID, connID, err)
	}
	latest, err := v.reference(ctx, orgID, connID, rec)
	var se *storeError
	switch {
	case errors.As(err, &se) && !force && usable(rec.creds, v.now()):
		v.log.WarnContext(ctx, "token refresh put off: the system of record cannot keep its result now",
			"org_id", orgID, "connection_id", connID, "error", err)
		return rec.token(), nil
	case err != nil:
		return Token{}, v.fail(ctx, orgID, connID, err)
	}
	rec = latest
	now := v.now()
	switch {
	case rec.sealed != seen && usable(rec.creds, now):
		return rec.token(), nil // refreshed (or reconnected) by someone else
	case !force && !v.due(rec.creds, now):
		return rec.token(), nil
	}
	return v.refreshAt(ctx, orgID, connID, rec, force)
}

// reference reads the DurableStore's copy and returns it, restored to
// Redis, when Redis was behind it; rec when they agree.
func (v *Vault) reference(ctx context.Context, orgID, connID string, rec record) (record, error) {
	k, err := v.durable.Get(ctx, connID)
	switch {
	case errors.Is(err, ErrNotKept) && rec.version == 0:
		return rec, nil // stored before the DurableStore was: the commit keeps it
	case errors.Is(err, ErrNotKept):
		return record{}, errLost // deleted meanwhile
	case err != nil:
		return record{}, &storeError{"reading kept credentials", err}
	case k.OrgID == orgID && k.Version == rec.version && k.Sealed == rec.sealed:
		return rec, nil
	}
	return v.restore(ctx, orgID, connID, k)
}

// latest reads what is kept for the connection now: the DurableStore's
// copy (restored to Redis), or Redis's for credentials stored before the
// DurableStore was.
func (v *Vault) latest(ctx context.Context, orgID, connID string) (record, error) {
	k, err := v.durable.Get(ctx, connID)
	switch {
	case errors.Is(err, ErrNotKept):
		return v.load(ctx, orgID, connID)
	case err != nil:
		return record{}, &storeError{"reading kept credentials", err}
	}
	return v.restore(ctx, orgID, connID, k)
}

// refreshAt asks the provider, under the lock, and stores the result.
func (v *Vault) refreshAt(ctx context.Context, orgID, connID string, cur record, force bool) (Token, error) {
	retried := false
	for {
		refresher := v.refresherFor(cur.creds.Provider)
		if refresher == nil {
			return Token{}, apperr.Unavailable("this provider's tokens cannot be refreshed here",
				fmt.Errorf("vault: no refresher for provider %q", cur.creds.Provider))
		}
		fresh, err := refresher.Refresh(ctx, cur.creds.RefreshToken, cur.creds.Scopes)
		if err == nil {
			return v.commit(ctx, orgID, connID, cur, fresh)
		}
		reason, permanent := classify(err)
		if !permanent {
			v.log.WarnContext(ctx, "token refresh failed; connection kept, will retry",
				"org_id", orgID, "connection_id", connID, "error", err)
			if !force && usable(cur.creds, v.now()) {
				return cur.token(), nil
			}
			return Token{}, apperr.Unavailable("the provider could not refresh the token, try again later", err)
		}
		if !retried {
			// Before giving the connection up, read again: if another
			// replica rotated the refresh token (its lock expired under
			// it, or a reconnect happened), ours may simply be old.
			latest, lerr := v.latest(ctx, orgID, connID)
			if lerr != nil {
				return Token{}, v.fail(ctx, orgID, connID, lerr)
			}
			if latest.creds.RefreshToken != cur.creds.RefreshToken {
				if usable(latest.creds, v.now()) {
					return latest.token(), nil
				}
				v.log.InfoContext(ctx, "refresh token was rotated meanwhile; retrying with the new one",
					"org_id", orgID, "connection_id", connID)
				cur, retried = latest, true
				continue
			}
		}
		return Token{}, v.refuse(ctx, orgID, connID, cur, reason, err)
	}
}

// commit stores refreshed credentials, keeping the newest refresh token,
// before the lock is released.
func (v *Vault) commit(ctx context.Context, orgID, connID string, cur record, fresh Credentials) (Token, error) {
	if fresh.AccessToken == "" || fresh.ExpiresAt.IsZero() {
		return Token{}, apperr.Unavailable("the provider returned an unusable token", errors.New("vault: refresher returned no access token or expiry"))
	}
	if fresh.RefreshToken == "" {
		fresh.RefreshToken = cur.creds.RefreshToken
	}
	if len(fresh.Scopes) == 0 {
		fresh.Scopes = cur.creds.Scopes
	}
	// The provider is the connection's, whatever the Refresher says.
	fresh.Provider = cur.creds.Provider
	if fresh.RefreshedAt.IsZero() {
		fresh.RefreshedAt = v.now()
	}
	sealed, err := v.seal(ctx, orgID, connID, fresh)
	if err != nil {
		v.log.ErrorContext(ctx, "could not encrypt refreshed credentials; they are dropped",
			"org_id", orgID, "connection_id", connID, "error", err)
		return Token{}, storeUnavailable(err)
	}
	// A rotated refresh token exists only in this process until kept: a
	// blip of the DurableStore here gets a few more tries.
	version, err := v.keep(ctx, orgID, connID, cur.version, sealed)
	switch {
	case errors.Is(err, ErrVersionChanged):
		// Reconnected, refused or deleted while we refreshed: what is kept
		// now wins over a refresh of what was.
		latest, err := v.latest(ctx, orgID, connID)
		if err != nil {
			return Token{}, v.fail(ctx, orgID, connID, err)
		}
		return latest.token(), nil
	case err != nil:
		v.log.ErrorContext(ctx, "could not keep refreshed credentials; they are dropped and the previous ones stay",
			"org_id", orgID, "connection_id", connID, "error", err)
		return Token{}, storeUnavailable(err)
	}
	switch n, err := v.writeRecord(ctx, orgID, connID, sealed, "", version); {
	case err != nil:
		// Kept durably: the next refresh, or a reload, finds them.
		v.log.WarnContext(ctx, "could not write refreshed credentials to Redis; the system of record has them",
			"org_id", orgID, "connection_id", connID, "error", err)
	case n != writeDone:
		// Someone wrote a newer version (a reconnect) since.
		if latest, err := v.load(ctx, orgID, connID); err == nil {
			return latest.token(), nil
		}
	}
	v.cache.put(connID, orgID, sealed, fresh)
	if err := v.sink.MarkRefreshed(ctx, orgID, connID, fresh.RefreshedAt); err != nil {
		v.log.WarnContext(ctx, "could not record a token refresh", "org_id", orgID, "connection_id", connID, "error", err)
	}
	v.log.DebugContext(ctx, "token refreshed", "org_id", orgID, "connection_id", connID, "expires_at", fresh.ExpiresAt)
	return Token{Value: fresh.AccessToken, ExpiresAt: fresh.ExpiresAt}, nil
}

// keep writes refreshed credentials to the DurableStore, compared and
// swapped on the version they were refreshed from, trying again on errors
// other than ErrVersionChanged while ctx lasts (a retry after a write whose
// answer was lost sees ErrVersionChanged, and then finds the write).
func (v *Vault) keep(ctx context.Context, orgID, connID string, from int64, sealed string) (int64, error) {
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		version, err := v.durable.Swap(ctx, orgID, connID, from, sealed)
		if err == nil || errors.Is(err, ErrVersionChanged) || attempt == 4 || ctx.Err() != nil {
			return version, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait *= 2
	}
}

// refuse gives a connection up after the provider refused its grant for
// good: the sink is told, then the DurableStore and Redis remember it so
// later calls do not ask the provider again. If the sink or the
// DurableStore cannot be told, nothing is remembered, so the next call
// tries (and tells) again.
func (v *Vault) refuse(ctx context.Context, orgID, connID string, cur record, reason string, cause error) error {
	v.log.WarnContext(ctx, "provider refused the grant; reconnect required",
		"org_id", orgID, "connection_id", connID, "reason", reason, "error", cause)
	if err := v.sink.MarkReconnectRequired(ctx, orgID, connID, reason); err != nil {
		v.log.ErrorContext(ctx, "could not record that a connection must be reconnected",
			"org_id", orgID, "connection_id", connID, "error", err)
		return reconnectRequired(reason, cause)
	}
	switch err := v.durable.Refuse(ctx, orgID, connID, cur.version, reason); {
	case errors.Is(err, ErrVersionChanged):
		// Reconnected meanwhile, or stored before the DurableStore was:
		// nothing to remember the refusal on.
	case err != nil:
		v.log.WarnContext(ctx, "could not remember a refused grant", "org_id", orgID, "connection_id", connID, "error", err)
	default:
		v.mirror(ctx, orgID, connID, "", reason, cur.version+1)
	}
	v.cache.drop(connID)
	return reconnectRequired(reason, cause)
}

// classify reads a Refresher error: permanent, and the reason to show.
func classify(err error) (reason string, permanent bool) {
	var p interface{ Permanent() bool }
	if !errors.As(err, &p) || !p.Permanent() {
		return "", false
	}
	var r interface{ Reason() string }
	if errors.As(err, &r) && r.Reason() != "" {
		return r.Reason(), true
	}
	return ReasonRevoked, true
}

// The lock is a random owner value under a TTL; only the owner extends or
// deletes it.
var (
	extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`)
)

// keepLock extends the lock every third of its TTL until stop is called,
// so a slow provider cannot make it expire under a live holder; a holder
// that dies lets it expire within LockTTL.
func (v *Vault) keepLock(ctx context.Context, key, owner string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(v.lockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n, err := extendScript.Run(ctx, v.rdb, []string{key}, owner, v.lockTTL.Milliseconds()).Int()
			if err == nil && n == 0 {
				v.log.WarnContext(ctx, "refresh lock lost while refreshing", "lock", key)
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func (v *Vault) unlock(ctx context.Context, key, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := releaseScript.Run(ctx, v.rdb, []string{key}, owner).Err(); err != nil {
		// It expires within LockTTL anyway.
		v.log.WarnContext(ctx, "could not release the refresh lock", "lock", key, "error", err)
	}
}

func newOwner() string {
	var b [16]byte
	// crypto/rand.Read never returns an error: it crashes the program instead.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
