package inbound_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/sync/errgroup"

	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/inbound"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever/levertest"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// BenchmarkWebhookToStageChanged measures atsbridge's part of a stage
// moving in Lever: a signed delivery received (verified, stored, the apply
// job enqueued, one transaction) and applied (link and delivery locked,
// mapped, link moved, audit row and ats.stage_changed written, one
// transaction), against the real Postgres. River's pickup of the job and
// the event's delivery to outreach are not in it.
func BenchmarkWebhookToStageChanged(b *testing.B) {
	w := newWorld(b)
	_, opp := w.linked("New lead")
	token := w.hook(lever.EventCandidateStageChange).SignatureToken
	stages := []string{w.stages["Reached out"], w.stages["Responded"]}
	receive := make([]time.Duration, 0, b.N)
	total := make([]time.Duration, 0, b.N)
	at := time.Now().UnixMilli()
	b.ResetTimer()
	for i := range b.N {
		raw := signed(b, token, lever.EventCandidateStageChange, at+int64(i), map[string]any{"opportunityId": opp, "toStageId": stages[i%2]})
		start := time.Now()
		if _, err := w.receiver.Receive(w.ctx, w.connID, raw); err != nil {
			b.Fatal(err)
		}
		receive = append(receive, time.Since(start))
		a := w.jobs.applies()
		if err := w.worker.Work(w.ctx, &river.Job[inbound.ApplyArgs]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: a[len(a)-1]}); err != nil {
			b.Fatal(err)
		}
		total = append(total, time.Since(start))
	}
	b.StopTimer()
	if n := len(w.pub.all()); n != b.N {
		b.Fatalf("%d events for %d deliveries", n, b.N)
	}
	pct := func(d []time.Duration, p float64) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[int(float64(len(s)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(receive, 0.5), "receive-p50-ms")
	b.ReportMetric(pct(receive, 0.99), "receive-p99-ms")
	b.ReportMetric(pct(total, 0.5), "published-p50-ms")
	b.ReportMetric(pct(total, 0.99), "published-p99-ms")
}

// BenchmarkFullReconcile reads a Lever account holding 10,000
// opportunities (500 of them linked to Tandem candidates, at the stage
// their link has) in one full reconcile, as the first run after a connect
// or a lost cursor does, through the shared limiter at Lever's own rate
// (10 a second, burst 20; the client's burst atsbridge's default 15). It
// reports the share of Lever's budget the run used while it had work
// (calls over the burst plus 10 a second of the run), the 429s it caused
// and how long it took. The second case lifts both limits to 1,000 a
// second: its run time is the reconcile's own pace, the headroom under
// Lever's 10.
func BenchmarkFullReconcile(b *testing.B) {
	for _, rate := range []int{10, 1000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchmarkFullReconcile(b, rate) })
	}
}

func benchmarkFullReconcile(b *testing.B, rate int) {
	const (
		opportunities = 10_000
		linked        = 500
		leverBurst    = 20
		clientBurst   = 15
	)
	w := newWorld(b)
	ctl := w.sim.Client()
	if _, err := ctl.SetLeverSettings(w.ctx, simclient.LeverSettings{RateLimitPerSecond: float64(rate), RateLimitBurst: leverBurst}); err != nil {
		b.Fatal(err)
	}
	for range linked {
		w.linked("New lead")
	}
	var g errgroup.Group
	g.SetLimit(8)
	for i := range opportunities - linked {
		g.Go(func() error {
			_, err := ctl.AddLeverCandidate(w.ctx, providersim.DemoLeverAccount, simclient.LeverCandidate{Name: fmt.Sprintf("Bulk %d", i),
				Emails: []string{fmt.Sprintf("bulk%d@example.org", i)}, Stage: "New lead"})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	rdb := pgtest.NewRedis(b)
	limiter, err := ratelimit.NewLimiter(rdb, redisx.ServiceKeys(pgtest.RedisPrefixCleaned(b, rdb), "atsbridge", "ratelimit-lever"),
		ratelimit.Limit{Events: rate, Per: time.Second, Burst: clientBurst})
	if err != nil {
		b.Fatal(err)
	}
	api, err := lever.New(w.sim.LeverURL(), providerhttp.New(providerhttp.Options{Provider: "lever", Limiter: limiter, MaxRetryAfter: 5 * time.Second}))
	if err != nil {
		b.Fatal(err)
	}
	cursors := store.NewSyncCursors(rdb, redisx.ServiceKeys(pgtest.RedisPrefixCleaned(b, rdb), "atsbridge", "sync-cursor"))
	scopes := append([]string{"webhooks:write:admin", "opportunities:read:admin"}, levertest.Scopes...)
	rw := inbound.NewReconcileWorker(w.st, inbound.NewApplier(w.st, w.pub, nil, nil), tokens{token: levertest.AccessToken(b, w.sim, scopes...)}, api, cursors, w.jobs, nil)

	b.ResetTimer()
	for range b.N {
		// Lever's bucket and the client's refill between runs.
		b.StopTimer()
		time.Sleep(3 * time.Second) // a benchmark's pause, outside the timer
		before, err := ctl.Counters(w.ctx, "lever.")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := rw.Reconcile(w.ctx, w.connID, true)
		elapsed := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if res.Read < opportunities || res.Linked != linked || res.Applied != 0 {
			b.Fatalf("reconcile read %d, linked %d, applied %d", res.Read, res.Linked, res.Applied)
		}
		after, err := ctl.Counters(w.ctx, "lever.")
		if err != nil {
			b.Fatal(err)
		}
		calls := after["lever.requests"] - before["lever.requests"]
		budget := float64(leverBurst) + float64(rate)*elapsed.Seconds()
		b.ReportMetric(float64(calls)/budget*100, "budget-%")
		b.ReportMetric(float64(after["lever.throttled"]-before["lever.throttled"]), "429s")
		b.ReportMetric(float64(calls), "calls")
		b.ReportMetric(elapsed.Seconds(), "run-s")
	}
}
