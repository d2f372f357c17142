package graph_test

import (
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
)

// Two replicas, each with its own clients over the same Redis, never have
// more than 4 requests of one mailbox at Graph at once: the simulator
// answers a fifth with 429 (graph.throttled), and none comes.
func TestTwoReplicasKeepToFourConcurrentRequestsPerMailbox(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	rdb := pgtest.NewRedis(t)
	prefix := pgtest.RedisPrefixCleaned(t, rdb)
	mb := f.mailbox(providersim.DemoContosoUser)
	d := f.draft(mb, "cand@example.com")
	var replicas []*graph.Client
	for range 2 {
		limits, err := graph.NewSharedLimits(rdb, redisx.ServiceKeys(prefix, "mailbox", "graph-concurrency"),
			redisx.ServiceKeys(prefix, "mailbox", "graph-requests"), nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := graph.New(graph.Options{BaseURL: f.sim.GraphURL(), Tokens: f.tokens, HTTP: limits.HTTP(nil, 5*time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, c)
	}
	if _, err := f.ctl.AddFault(ctx, simclient.Fault{Endpoint: "graph.getMessage", LatencyMs: 150}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			if _, err := replicas[i%2].GetMessage(ctx, mb, d.ID); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := f.ctl.Counter(ctx, "graph.throttled"); err != nil || n != 0 {
		t.Errorf("Graph saw more than 4 at once: %d throttled, %v", n, err)
	}
	// 16 requests of 150 ms, 4 at a time, take at least 4 rounds.
	if took := time.Since(start); took < 4*150*time.Millisecond {
		t.Errorf("16 requests took %s: more than 4 ran at once", took)
	}
}
