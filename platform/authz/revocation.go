package authz

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/redisx"
)

// RevocationChecker says whether a login session has been ended (logout,
// "sign out everywhere", a user removed or demoted) before its access
// tokens expire.
type RevocationChecker interface {
	SessionRevoked(ctx context.Context, sessionID string) (bool, error)
}

// RedisRevocations keeps revoked session ids in the Redis every service
// shares, under the shared key family RevokedSessionKeys: identity writes
// them and every service's authenticator reads them. An entry only has to
// outlive the access tokens of its session: after that the token's own
// expiry refuses it, so the set stays small.
//
// Redis is only the fast copy: identity's Postgres is the record of every
// ended session. The set is trusted only while its marker (RevocationSetKeys,
// member "complete") is there; identity writes the marker after it has
// written the whole set from Postgres, so a Redis that lost its keys has
// lost the marker too, and DurableRevocations asks the record until identity
// has written both again.
type RedisRevocations struct {
	Client redis.UniversalClient
	Prefix string // deployment prefix, e.g. "tandem:"; tests use a random one
}

// RevokedSessionKeys is the shared key family of revoked sessions (ADR 13):
// <prefix>shared:revoked-session:<session id>.
func RevokedSessionKeys(prefix string) redisx.Keys {
	return redisx.SharedKeys(prefix, "revoked-session")
}

func (r RedisRevocations) key(sessionID string) string {
	return RevokedSessionKeys(r.Prefix).Key(sessionID)
}

// Revoke refuses every token of the session from now on. until is the
// latest expiry of any access token issued for it (identity may simply
// pass now plus the access token lifetime). The entry is kept MaxLeeway
// longer, because verifiers still accept a token that long after its
// expiry.
func (r RedisRevocations) Revoke(ctx context.Context, sessionID string, until time.Time) error {
	if sessionID == "" {
		return errors.New("authz: revoke: empty session id")
	}
	if until.IsZero() {
		// A zero time would send no expiry and keep the entry for ever.
		return errors.New("authz: revoke: no expiry given")
	}
	// EXAT lets Redis's clock decide when the entry goes; a token past
	// until+MaxLeeway is refused by every verifier anyway, and if that
	// moment has passed Redis drops the entry at once, which is right.
	err := r.Client.SetArgs(ctx, r.key(sessionID), "1", redis.SetArgs{ExpireAt: until.Add(MaxLeeway)}).Err()
	if err != nil {
		return fmt.Errorf("authz: revoking session: %w", err)
	}
	return nil
}

// SessionRevoked implements RevocationChecker.
func (r RedisRevocations) SessionRevoked(ctx context.Context, sessionID string) (bool, error) {
	n, err := r.Client.Exists(ctx, r.key(sessionID)).Result()
	if err != nil {
		return false, fmt.Errorf("authz: checking session revocation: %w", err)
	}
	return n > 0, nil
}

// RevocationSetKeys is the shared key family of the revocation set's
// bookkeeping (ADR 13): <prefix>shared:revocation-set:complete is the
// marker that says the set holds every session ended within an access
// token's lifetime.
func RevocationSetKeys(prefix string) redisx.Keys {
	return redisx.SharedKeys(prefix, "revocation-set")
}

func (r RedisRevocations) markerKey() string { return RevocationSetKeys(r.Prefix).Key("complete") }

// Lookup says whether the session is in the set and whether the set is
// complete (its marker is there), in one round trip. A session not in an
// incomplete set may still have been revoked: ask the record.
func (r RedisRevocations) Lookup(ctx context.Context, sessionID string) (revoked, complete bool, err error) {
	var inSet, marker *redis.IntCmd
	_, err = r.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
		inSet = p.Exists(ctx, r.key(sessionID))
		marker = p.Exists(ctx, r.markerKey())
		return nil
	})
	if err != nil {
		return false, false, fmt.Errorf("authz: checking session revocation: %w", err)
	}
	return inSet.Val() > 0, marker.Val() > 0, nil
}

// Revocation is one ended session, for Restore.
type Revocation struct {
	SessionID string
	// Until is the latest expiry of the session's access tokens, as for
	// Revoke.
	Until time.Time
}

// Restore writes every revocation and then the marker, with epoch (who
// wrote it and when, for operators) as its value, in one MULTI/EXEC: a
// Redis that loses its keys meanwhile cannot keep a marker over a partial
// set. revs must hold every session ended since the oldest access token
// still accepted was issued; identity passes its record of them.
func (r RedisRevocations) Restore(ctx context.Context, revs []Revocation, epoch string) error {
	for _, rev := range revs {
		if rev.SessionID == "" || rev.Until.IsZero() {
			return errors.New("authz: restore: a revocation without a session or an expiry")
		}
	}
	_, err := r.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, rev := range revs {
			p.SetArgs(ctx, r.key(rev.SessionID), "1", redis.SetArgs{ExpireAt: rev.Until.Add(MaxLeeway)})
		}
		p.Set(ctx, r.markerKey(), epoch, 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("authz: restoring revocations: %w", err)
	}
	return nil
}

// Complete reports whether the marker is there.
func (r RedisRevocations) Complete(ctx context.Context) (bool, error) {
	n, err := r.Client.Exists(ctx, r.markerKey()).Result()
	if err != nil {
		return false, fmt.Errorf("authz: checking the revocation set: %w", err)
	}
	return n > 0, nil
}

// DurableRevocations is the RevocationChecker every service uses: Redis
// answers while its set is complete, and Record (identity's durable record:
// Postgres in identity, its CheckSession RPC elsewhere) while it is not, so
// losing Redis never lets an ended session back in. Either failing fails
// the check, which the Authenticator turns into Unavailable.
type DurableRevocations struct {
	Redis  RedisRevocations
	Record RevocationChecker
}

// SessionRevoked implements RevocationChecker.
func (d DurableRevocations) SessionRevoked(ctx context.Context, sessionID string) (bool, error) {
	revoked, complete, err := d.Redis.Lookup(ctx, sessionID)
	switch {
	case err != nil:
		return false, err
	case revoked:
		return true, nil
	case complete:
		return false, nil
	case d.Record == nil:
		return false, errors.New("authz: the revocation set is incomplete and there is no record to ask")
	}
	revoked, err = d.Record.SessionRevoked(ctx, sessionID)
	if err != nil {
		return false, fmt.Errorf("authz: the revocation set is incomplete and the record cannot answer: %w", err)
	}
	return revoked, nil
}
