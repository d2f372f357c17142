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
// them and every service's authenticator reads them. An entry only has to outlive the access tokens of its session:
// after that the token's own expiry refuses it, so the set stays small.
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
