package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/redisx"
)

// Window is a rolling quota: at most Max units in any span of Length, e.g.
// 30 messages a minute or 10,000 recipients a day per mailbox.
//
// Usage is counted in Buckets slices of Length/Buckets each (default 60).
// A unit stays counted until its whole slice is older than Length, so the
// quota is never exceeded over any rolling Length and errs on the strict
// side by at most one slice. Exchange blocks a mailbox for up to a day when
// its limits are crossed, so strict is the right side to err on.
type Window struct {
	Max     int64
	Length  time.Duration
	Buckets int
}

// takeScript counts usage in a hash of slice number -> units, dropping
// slices that left the window, and takes n units only if all of them fit.
// On refusal it returns when enough old slices will have left the window
// for n to fit, assuming no one else takes any.
//
// KEYS[1] hash; ARGV[1] max; ARGV[2] slice width (ms); ARGV[3] live slices
// (Buckets+1: the current partial slice plus Buckets full ones); ARGV[4] n.
// Returns {taken 0|1, retry after (ms), remaining}.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local width = tonumber(ARGV[2])
local slices = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local cur = math.floor(now / width)
local oldest = cur - slices + 1
local fields = redis.call('HGETALL', KEYS[1])
local used = 0
local live = {}
for i = 1, #fields, 2 do
  local s = tonumber(fields[i])
  local c = tonumber(fields[i + 1])
  if s < oldest then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    used = used + c
    live[#live + 1] = {s, c}
  end
end
if used + n <= max then
  if n > 0 then
    redis.call('HINCRBY', KEYS[1], string.format('%d', cur), n)
    redis.call('PEXPIRE', KEYS[1], slices * width)
  end
  return {1, 0, max - used - n}
end
table.sort(live, function(a, b) return a[1] < b[1] end)
local need = used + n - max
local freed = 0
for _, e in ipairs(live) do
  freed = freed + e[2]
  if freed >= need then
    return {0, (e[1] + slices) * width - now, max - used}
  end
end
return {0, slices * width, max - used}
`)

// refundScript gives back up to n units, newest slices first, never below
// zero.
//
// KEYS[1] hash; ARGV[1] n.
var refundScript = redis.NewScript(`
local n = tonumber(ARGV[1])
local fields = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #fields, 2 do
  live[#live + 1] = {tonumber(fields[i]), tonumber(fields[i + 1]), fields[i]}
end
table.sort(live, function(a, b) return a[1] > b[1] end)
for _, e in ipairs(live) do
  if n <= 0 then break end
  local back = math.min(n, e[2])
  if back == e[2] then
    redis.call('HDEL', KEYS[1], e[3])
  else
    redis.call('HINCRBY', KEYS[1], e[3], -back)
  end
  n = n - back
end
return 0
`)

// Quota enforces a Window per key for all replicas.
type Quota struct {
	rdb   redis.UniversalClient
	keys  redisx.Keys
	w     Window
	width int64 // ms per slice
}

// NewQuota returns a quota whose counters are members of the family keys.
func NewQuota(rdb redis.UniversalClient, keys redisx.Keys, w Window) (*Quota, error) {
	if w.Buckets == 0 {
		w.Buckets = 60
	}
	if w.Max <= 0 || w.Buckets < 0 || w.Buckets > 1000 {
		return nil, fmt.Errorf("%w: max %d, %d buckets (1..1000)", ErrInvalidLimit, w.Max, w.Buckets)
	}
	width := (w.Length.Milliseconds() + int64(w.Buckets) - 1) / int64(w.Buckets)
	if w.Length <= 0 || width < 1 {
		return nil, fmt.Errorf("%w: window %s over %d buckets", ErrInvalidLimit, w.Length, w.Buckets)
	}
	return &Quota{rdb: rdb, keys: keys, w: w, width: width}, nil
}

// Take takes n units of key's quota if all n fit now, and otherwise takes
// nothing and says when they would fit. n = 0 only reports the state. An n
// above Max fails with ErrExceedsCapacity.
func (q *Quota) Take(ctx context.Context, key string, n int64) (Decision, error) {
	if n < 0 || n > q.w.Max {
		return Decision{}, fmt.Errorf("%w: %d units, max %d", ErrExceedsCapacity, n, q.w.Max)
	}
	res, err := takeScript.Run(ctx, q.rdb, []string{q.keys.Key(key)}, q.w.Max, q.width, q.w.Buckets+1, n).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("ratelimit: take: %w", err)
	}
	if len(res) != 3 {
		return Decision{}, fmt.Errorf("ratelimit: take: unexpected reply of %d values", len(res))
	}
	return Decision{
		Allowed:    res[0] == 1,
		RetryAfter: time.Duration(res[1]) * time.Millisecond,
		Remaining:  max(res[2], 0),
	}, nil
}

// Refund gives back n units taken earlier, for work that was taken from
// the quota but certainly did not happen (the send was refused before it
// reached the provider). Units are returned to the newest slices.
func (q *Quota) Refund(ctx context.Context, key string, n int64) error {
	if n <= 0 {
		return nil
	}
	if err := refundScript.Run(ctx, q.rdb, []string{q.keys.Key(key)}, n).Err(); err != nil {
		return fmt.Errorf("ratelimit: refund: %w", err)
	}
	return nil
}
