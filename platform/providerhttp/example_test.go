package providerhttp_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
)

// A Graph client for mailboxes: 10,000 requests per 10 minutes and 4
// concurrent requests per mailbox, shared by every replica.
func Example() {
	var rdb redis.UniversalClient // from platform's Redis setup
	var logger *slog.Logger
	prefix := "tandem:" // -redis-prefix

	limiter, err := ratelimit.NewLimiter(rdb, redisx.ServiceKeys(prefix, "mailbox", "ratelimit-graph"), ratelimit.Limit{Events: 10_000, Per: 10 * time.Minute, Burst: 50})
	if err != nil {
		panic(err) // a limit that is not positive: a programming error
	}
	slots, err := ratelimit.NewSemaphore(rdb, redisx.ServiceKeys(prefix, "mailbox", "concurrency-graph"), 4, 30*time.Second)
	if err != nil {
		panic(err)
	}
	graph := providerhttp.New(providerhttp.Options{
		Provider:    "graph",
		Limiter:     limiter,
		Concurrency: slots,
		Logger:      logger,
	})

	sendStep := func(ctx context.Context, mailboxID string, req *http.Request) error {
		ctx = providerhttp.WithKey(ctx, mailboxID)
		resp, err := graph.Do(req.WithContext(ctx))
		var later *providerhttp.RetryAfterError
		if errors.As(err, &later) {
			// A durable job snoozes for later.RetryAfter instead of
			// blocking a worker.
			return err
		}
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return nil
	}
	_ = sendStep
}
