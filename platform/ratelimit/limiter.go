package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/redisx"
)

// Limit is a steady rate with a burst: Events per Per on average, and at
// most Burst back to back. Lever's "10 requests/second, burst 20" is
// Limit{Events: 10, Per: time.Second, Burst: 20}.
type Limit struct {
	Events int
	Per    time.Duration
	Burst  int
}

// interval is the emission interval of the limit in microseconds: the
// steady-state gap between two requests.
func (l Limit) interval() (int64, error) {
	if l.Events <= 0 || l.Per <= 0 || l.Burst <= 0 {
		return 0, fmt.Errorf("%w: %d per %s, burst %d", ErrInvalidLimit, l.Events, l.Per, l.Burst)
	}
	us := l.Per.Microseconds() / int64(l.Events)
	if us < 1 {
		return 0, fmt.Errorf("%w: more than one event per microsecond", ErrInvalidLimit)
	}
	return us, nil
}

// gcraScript implements the generic cell rate algorithm. The key holds the
// theoretical arrival time (TAT) in microseconds of Redis time; a request
// of cost n is admitted when TAT + n*T - B*T <= now. One integer per key,
// no refill bookkeeping, and the denial tells exactly when to come back.
//
// Numbers are written with %d: Lua would otherwise format a 16-digit
// microsecond timestamp in exponent notation and lose precision.
//
// KEYS[1] bucket; ARGV[1] interval T (µs); ARGV[2] burst B; ARGV[3] cost n.
// Returns {allowed 0|1, retry after (µs), remaining}.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local tolerance = burst * interval
local new_tat = tat + cost * interval
local allow_at = new_tat - tolerance
if allow_at > now then
  local remaining = math.floor((now - tat + tolerance) / interval)
  if remaining < 0 then remaining = 0 end
  return {0, allow_at - now, remaining}
end
if cost > 0 then
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
end
return {1, 0, math.floor((now - allow_at) / interval)}
`)

// pauseScript pushes the TAT forward so that nobody is admitted for delay
// microseconds, after which requests resume one interval apart (not as a
// full burst, which would likely be throttled again).
//
// KEYS[1] bucket; ARGV[1] interval T (µs); ARGV[2] burst B; ARGV[3] delay (µs).
var pauseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local target = now + tonumber(ARGV[3]) + (burst - 1) * interval
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat and tat >= target then return 0 end
redis.call('SET', KEYS[1], string.format('%d', target), 'PX', math.ceil((target - now) / 1000) + 1)
return 1
`)

// Limiter is a rate limiter shared by all replicas. Each key (a connection
// id, a mailbox id, an API key's id) has its own bucket with the same
// Limit.
type Limiter struct {
	rdb      redis.UniversalClient
	keys     redisx.Keys
	limit    Limit
	interval int64 // µs
}

// NewLimiter returns a limiter whose buckets are the members of keys, one
// per limited key: redisx.ServiceKeys(prefix, "mailbox", "ratelimit-graph").
// Different limits must use different key families.
func NewLimiter(rdb redis.UniversalClient, keys redisx.Keys, limit Limit) (*Limiter, error) {
	interval, err := limit.interval()
	if err != nil {
		return nil, err
	}
	return &Limiter{rdb: rdb, keys: keys, limit: limit, interval: interval}, nil
}

// Allow admits one request for key if the limit allows it now.
func (l *Limiter) Allow(ctx context.Context, key string) (Decision, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN admits a request that costs n units (n events). Cost 0 only
// reports the state. A cost above the burst fails with ErrExceedsCapacity.
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	if n < 0 || n > l.limit.Burst {
		return Decision{}, fmt.Errorf("%w: cost %d, burst %d", ErrExceedsCapacity, n, l.limit.Burst)
	}
	res, err := gcraScript.Run(ctx, l.rdb, []string{l.keys.Key(key)}, l.interval, l.limit.Burst, n).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: allow: %w", err)
	}
	if len(res) != 3 {
		return Decision{}, fmt.Errorf("ratelimit: allow: unexpected reply of %d values", len(res))
	}
	return Decision{
		Allowed:    res[0] == 1,
		RetryAfter: time.Duration(res[1]) * time.Microsecond,
		Remaining:  res[2],
	}, nil
}

// Budget is how much of a key's burst is in use at one moment.
type Budget struct {
	// Burst is the most requests the limit admits back to back.
	Burst int64
	// Available is how many requests would be admitted right now; Used is
	// the rest of the burst, spent recently or held by a Pause.
	Available, Used int64
}

// Peek reports key's budget now, for every replica, without spending any
// of it: a health record reads it, and a request after it is admitted as
// if it had not looked.
func (l *Limiter) Peek(ctx context.Context, key string) (Budget, error) {
	d, err := l.AllowN(ctx, key, 0)
	if err != nil {
		return Budget{}, err
	}
	burst := int64(l.limit.Burst)
	available := min(max(d.Remaining, 0), burst)
	if !d.Allowed {
		available = 0
	}
	return Budget{Burst: burst, Available: available, Used: burst - available}, nil
}

// Wait blocks until one request for key is admitted or ctx ends.
func (l *Limiter) Wait(ctx context.Context, key string) error {
	for {
		d, err := l.Allow(ctx, key)
		if err != nil {
			return err
		}
		if d.Allowed {
			return nil
		}
		// Waiters that were denied together would otherwise all come
		// back at the same instant and all but one be denied again.
		jitter := time.Duration(rand.Int64N(min(l.interval, 10_000)+1)) * time.Microsecond
		if err := sleep(ctx, d.RetryAfter+jitter); err != nil {
			return err
		}
	}
}

// Pause stops admitting requests for key for d, for every replica. The
// provider client calls it when a provider answers 429 with Retry-After, so
// that other requests for the same connection stop hitting the provider
// instead of each collecting their own 429. A shorter pause than one
// already in force changes nothing.
func (l *Limiter) Pause(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := pauseScript.Run(ctx, l.rdb, []string{l.keys.Key(key)}, l.interval, l.limit.Burst, d.Microseconds()).Err(); err != nil {
		return fmt.Errorf("ratelimit: pause: %w", err)
	}
	return nil
}

// sleep waits for d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
