package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/redisx"
)

// acquireScript admits a holder when fewer than the limit hold leases. The
// key is a sorted set of holder id -> lease expiry (ms of Redis time);
// expired leases (their holder died) are dropped before counting.
// Acquiring again with the same id renews it, so a retried call whose first
// reply was lost does not take two slots.
//
// KEYS[1] set; ARGV[1] holders; ARGV[2] lease (ms); ARGV[3] holder id.
// Returns {acquired 0|1, ms until the earliest lease expires}.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
  if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
  return {1, 0}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(first[2]) - now}
`)

// renewScript extends a live lease. A lease that already expired is not
// revived: its slot may have gone to someone else.
//
// KEYS[1] set; ARGV[1] lease (ms); ARGV[2] holder id. Returns 1 if renewed.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local exp = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[2]))
if not exp then return 0 end
if exp <= now then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
return 1
`)

// Semaphore lets at most N holders per key run at once across all
// replicas, e.g. Graph's 4 concurrent requests per mailbox. A holder keeps
// its lease alive while it runs; if its process dies the lease expires and
// the slot frees itself.
//
// It bounds concurrency for politeness, not for correctness: a holder that
// is cut off from Redis for longer than a lease may briefly overlap with
// the next one.
type Semaphore struct {
	rdb     redis.UniversalClient
	keys    redisx.Keys
	holders int
	lease   time.Duration
	log     *slog.Logger
}

// SemaphoreOption configures a Semaphore.
type SemaphoreOption func(*Semaphore)

// WithLogger reports releases that fail (the slot then stays taken until
// its lease runs out). Default: discarded.
func WithLogger(log *slog.Logger) SemaphoreOption {
	return func(s *Semaphore) { s.log = log }
}

// NewSemaphore returns a semaphore of holders slots per key, each key a
// member of the family keys.
// The lease is how long a slot outlives a holder that died; live holders
// renew it every lease/3.
func NewSemaphore(rdb redis.UniversalClient, keys redisx.Keys, holders int, lease time.Duration, opts ...SemaphoreOption) (*Semaphore, error) {
	if holders <= 0 || lease < 30*time.Millisecond {
		return nil, fmt.Errorf("%w: %d holders, lease %s (min 30ms)", ErrInvalidLimit, holders, lease)
	}
	s := &Semaphore{rdb: rdb, keys: keys, holders: holders, lease: lease, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Acquire waits for a slot for key. The returned release must be called
// exactly when the work is done; calling it again is harmless.
func (s *Semaphore) Acquire(ctx context.Context, key string) (release func(), err error) {
	// Releases are not announced, so waiters poll; the interval starts
	// small because Graph calls are short, and grows to bound load on
	// Redis when a key stays saturated.
	poll := 5 * time.Millisecond
	for {
		release, ok, wait, err := s.try(ctx, key)
		if err != nil {
			return nil, err
		}
		if ok {
			return release, nil
		}
		d := poll/2 + time.Duration(mrand.Int64N(int64(poll/2)+1))
		if wait > 0 && wait < d {
			d = wait
		}
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
		poll = min(poll*2, 100*time.Millisecond)
	}
}

// TryAcquire takes a slot for key if one is free now.
func (s *Semaphore) TryAcquire(ctx context.Context, key string) (release func(), ok bool, err error) {
	release, ok, _, err = s.try(ctx, key)
	return release, ok, err
}

func (s *Semaphore) try(ctx context.Context, key string) (func(), bool, time.Duration, error) {
	id, err := holderID()
	if err != nil {
		return nil, false, 0, err
	}
	res, err := acquireScript.Run(ctx, s.rdb, []string{s.keys.Key(key)}, s.holders, s.lease.Milliseconds(), id).Int64Slice()
	if err != nil {
		return nil, false, 0, fmt.Errorf("ratelimit: acquire: %w", err)
	}
	if len(res) != 2 {
		return nil, false, 0, fmt.Errorf("ratelimit: acquire: unexpected reply of %d values", len(res))
	}
	if res[0] != 1 {
		return nil, false, time.Duration(res[1]) * time.Millisecond, nil
	}
	h := &lease{s: s, key: s.keys.Key(key), id: id, stop: make(chan struct{}), done: make(chan struct{})}
	// The renewals and the final release must outlive a cancelled request
	// context, but keep its values (trace ids) for the Redis spans.
	bg := context.WithoutCancel(ctx)
	go h.keepAlive(bg)
	return func() { h.release(bg) }, true, 0, nil
}

// lease is one holder's slot.
type lease struct {
	s       *Semaphore
	key, id string
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func (l *lease) keepAlive(ctx context.Context) {
	defer close(l.done)
	every := l.s.lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, every)
			renewed, err := renewScript.Run(rctx, l.s.rdb, []string{l.key}, l.s.lease.Milliseconds(), l.id).Int64()
			cancel()
			// A failed renewal is retried on the next tick; the lease is
			// three ticks long. A lost lease is not coming back.
			if err == nil && renewed == 0 {
				return
			}
		}
	}
}

func (l *lease) release(ctx context.Context) {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := l.s.rdb.ZRem(ctx, l.key, l.id).Err(); err != nil {
			// Safe: the slot frees itself when its lease runs out, as
			// if this holder had died; until then the key has one
			// slot fewer.
			l.s.log.WarnContext(ctx, "ratelimit: semaphore release failed; the slot frees when its lease expires",
				slog.String("keys", l.s.keys.String()), slog.Duration("lease", l.s.lease), slog.Any("error", err))
		}
	})
}

func holderID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ratelimit: holder id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
