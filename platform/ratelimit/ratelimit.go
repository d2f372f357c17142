// Package ratelimit holds limits that every replica of every service shares
// through Redis: a GCRA rate limiter, a concurrency semaphore with leases, and
// rolling-window quotas.
//
// The limiter guards identity's calls to the Microsoft identity platform;
// the semaphore and the quotas are for the mailbox's per-mailbox Graph
// limits (4 concurrent requests, daily recipient caps).
//
// Time: every script reads the clock with Redis TIME, never the caller's
// clock. Replicas' clocks drift and a limit shared across them needs one
// clock; the Redis primary is the only one they all see. Scripts touch a
// single key each, so they work on Redis Cluster too. Redis 5 or newer is
// required (scripts that call TIME before writing rely on effect
// replication).
//
// Durability: these are limits, not records. If Redis loses a key the worst
// outcome is a burst that the provider answers with 429, which the provider
// client honours.
package ratelimit

import (
	"errors"
	"time"
)

var (
	// ErrInvalidLimit is returned by constructors for a limit that cannot
	// be enforced (zero rate, zero burst, zero holders, ...).
	ErrInvalidLimit = errors.New("ratelimit: invalid limit")
	// ErrExceedsCapacity means a request asks for more than the limit can
	// ever grant at once (cost above the burst, or above a quota's maximum);
	// waiting would never help.
	ErrExceedsCapacity = errors.New("ratelimit: request exceeds capacity")
)

// Decision is the answer to one admission check.
type Decision struct {
	// Allowed reports whether the request was admitted (and counted).
	Allowed bool
	// RetryAfter is, when not allowed, how long until the same request
	// would be admitted if nobody else takes capacity first. Zero when
	// allowed.
	RetryAfter time.Duration
	// Remaining is how many more unit requests would be admitted right
	// now after this one.
	Remaining int64
}
