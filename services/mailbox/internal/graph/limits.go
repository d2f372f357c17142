package graph

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
)

// Graph's limits per app and mailbox (providers.md §3.9), which every call
// for a mailbox shares, sending and reading alike, on every replica.
const (
	// ConcurrentRequests is Graph's "4 concurrent requests" per mailbox.
	ConcurrentRequests = 4
	// RequestsPer10Minutes is Graph's 10,000 requests per 10 minutes.
	RequestsPer10Minutes = 10_000
	// requestBurst is how many requests may go back to back. The GCRA
	// admits at most burst + rate×window in any window, so the rate is
	// what is left of the 10,000 after the burst.
	requestBurst = 100
	// concurrencyLease is how long a dead holder keeps a slot.
	concurrencyLease = 15 * time.Second
)

// SharedLimits are the per-mailbox limits of every Graph call.
type SharedLimits struct {
	// Concurrency holds Graph's 4 concurrent requests per mailbox; the
	// inbound side's calls take their slots from it too.
	Concurrency *ratelimit.Semaphore
	// Requests holds the 10,000 requests per 10 minutes; a 429's
	// Retry-After pauses it for the mailbox on every replica.
	Requests *ratelimit.Limiter
}

// NewSharedLimits returns the limits with their counters in Redis:
// concurrencyKeys and requestKeys are the families of the two
// (Runtime.Keys("graph-concurrency"), Runtime.Keys("graph-requests")).
func NewSharedLimits(rdb redis.UniversalClient, concurrencyKeys, requestKeys redisx.Keys, log *slog.Logger) (SharedLimits, error) {
	sem, err := ratelimit.NewSemaphore(rdb, concurrencyKeys, ConcurrentRequests, concurrencyLease, ratelimit.WithLogger(log))
	if err != nil {
		return SharedLimits{}, err
	}
	lim, err := ratelimit.NewLimiter(rdb, requestKeys, ratelimit.Limit{
		Events: RequestsPer10Minutes - requestBurst, Per: 10 * time.Minute, Burst: requestBurst,
	})
	if err != nil {
		return SharedLimits{}, err
	}
	return SharedLimits{Concurrency: sem, Requests: lim}, nil
}

// HTTP returns the provider client every Graph call of the service goes
// through, keyed by mailbox. Waits longer than maxWait are handed back as
// *Error{Kind: Throttled} so a job snoozes instead of holding a worker.
func (l SharedLimits) HTTP(log *slog.Logger, maxWait time.Duration) *providerhttp.Client {
	return providerhttp.New(providerhttp.Options{
		Provider:      "graph",
		Limiter:       l.Requests,
		Concurrency:   l.Concurrency,
		MaxRetryAfter: maxWait,
		Logger:        log,
	})
}
