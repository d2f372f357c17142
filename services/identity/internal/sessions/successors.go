package sessions

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/redisx"
)

// DefaultRetryWindow is how long a refresh can be asked again and get the
// same answer: long enough for a client to retry after a lost response, or
// for two tabs that refresh at once, short enough that a stolen token
// cannot wait for its moment.
const DefaultRetryWindow = 30 * time.Second

// Successors decides, once per refresh token, which token it is rotated
// into, and remembers that for the retry window. Every replica asking for
// the same token gets the same successor.
type Successors interface {
	// Claim records proposed as the successor of the token whose hash is
	// key, unless one is recorded already, and returns the recorded one.
	Claim(ctx context.Context, key, proposed string, ttl time.Duration) (string, error)
}

// SuccessorKeys is the Redis key family of refresh-token successors
// (ADR 13): <prefix>identity:session-successor:<hash>.
func SuccessorKeys(prefix string) redisx.Keys {
	return redisx.ServiceKeys(prefix, "identity", "session-successor")
}

// RedisSuccessors keeps successors in Redis, in SuccessorKeys(Prefix). Values are sealed
// by the caller. If they are lost, a retry brings another successor and
// counts as a reuse, as it would without the retry window.
type RedisSuccessors struct {
	Client redis.UniversalClient
	Prefix string
}

// Claim implements Successors with SET NX, then GET when another request
// got there first.
func (r RedisSuccessors) Claim(ctx context.Context, key, proposed string, ttl time.Duration) (string, error) {
	k := SuccessorKeys(r.Prefix).Key(key)
	set, err := r.Client.SetNX(ctx, k, proposed, ttl).Result()
	if err != nil {
		return "", err
	}
	if set {
		return proposed, nil
	}
	got, err := r.Client.Get(ctx, k).Result()
	if errors.Is(err, redis.Nil) {
		// Expired in between: nobody holds it any more.
		return proposed, nil
	}
	return got, err
}

// successor is the token oldHash is rotated into: the one already claimed
// for it, else next. Any failure falls back to next. That is safe: it only
// costs a retry its grace (a second refresh within the window then counts
// as a reuse and ends the session), never lets a token in. It is logged,
// because a window that never works means something is broken.
func (s *Sessions) successor(ctx context.Context, oldHash []byte, next string) string {
	if s.o.Successors == nil {
		return next
	}
	key := hex.EncodeToString(oldHash)
	fallBack := func(step string, err error) string {
		s.o.Logger.WarnContext(ctx, "refresh successor not shared; a retry of this refresh will end the session",
			slog.String("step", step), slog.Any("error", err))
		return next
	}
	sealed, err := s.o.Sealer.Seal(ctx, systemOrg, []byte(next), "refresh-successor", key)
	if err != nil {
		return fallBack("seal", err)
	}
	claimed, err := s.o.Successors.Claim(ctx, key, sealed, s.o.RetryWindow)
	if err != nil {
		return fallBack("claim", err)
	}
	if claimed == sealed {
		return next
	}
	plain, err := s.o.Sealer.Open(ctx, systemOrg, claimed, "refresh-successor", key)
	if err != nil {
		return fallBack("open", err)
	}
	return string(plain)
}
