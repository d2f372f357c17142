package pushes_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	riverjobs "github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/pushes"
)

// BenchmarkPushBacklog enrolls candidates all at once in a flow linked to
// a Lever posting and lets River's push workers drain the backlog through
// the shared limiter, then moves linked candidates one at a time. It
// reports the share of the connection's rate limit the backlog used, the
// 429s it caused, and the delay from a stage change's event to Lever
// having the move. The simulator's limit and the client's are set alike,
// higher than Lever's 10 a second, so the run stays short.
func BenchmarkPushBacklog(b *testing.B) {
	const (
		rate  = 50
		burst = 20
		// The client's burst is below Lever's, as atsbridge's default
		// (-lever-burst 15): requests timed to the client's bucket reach
		// Lever's a little early or late.
		clientBurst = 15
		candidates  = 400
		moves       = 100
	)
	for range b.N {
		w := newWorld(b)
		ctx := b.Context()
		ctl := w.sim.Client()
		if _, err := ctl.SetLeverSettings(ctx, simclient.LeverSettings{RateLimitPerSecond: rate, RateLimitBurst: burst}); err != nil {
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
		ps := pushes.New(w.st, w.tokens, api, w.cands, w.users, w.pub, pushes.Options{Claim: time.Minute, Logger: logging.Discard()})
		workers := river.NewWorkers()
		river.AddWorker(workers, ps.Worker())
		rc, err := riverjobs.New(w.pool, riverjobs.Options{Schema: "atsbridge", Workers: workers, Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 1}, pushes.Queue: pushes.QueueConfig(20)}, Logger: logging.Discard()})
		if err != nil {
			b.Fatal(err)
		}
		ps.SetJobs(rc)
		if err := rc.Start(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := rc.Stop(stopCtx); err != nil {
				b.Error(err)
			}
		})

		ids := make([]string, candidates)
		for i := range ids {
			ids[i] = w.candidate(fmt.Sprintf("bench%d@example.org", i))
			c := w.cands[ids[i]]
			c.Notes = nil
			w.cands[ids[i]] = c
		}
		before, err := ctl.Counters(ctx, "lever.")
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for _, id := range ids {
			enrollWith(b, w, ps, id)
		}
		linked := func() int {
			var n int
			if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM ats_pushes WHERE state = 'succeeded'`).Scan(&n); err != nil {
				b.Fatal(err)
			}
			return n
		}
		for linked() < candidates {
			time.Sleep(20 * time.Millisecond) // a benchmark's wait, measured to the 20 ms
		}
		elapsed := time.Since(start)
		after, err := ctl.Counters(ctx, "lever.")
		if err != nil {
			b.Fatal(err)
		}
		calls := after["lever.requests"] - before["lever.requests"]
		throttled := after["lever.throttled"] - before["lever.throttled"]
		// The budget over the run: the burst plus rate a second.
		budget := float64(burst) + rate*elapsed.Seconds()
		b.ReportMetric(float64(calls)/budget*100, "budget-%")
		b.ReportMetric(float64(throttled), "429s")
		b.ReportMetric(elapsed.Seconds(), "backlog-s")

		// One move at a time, nothing holding it back.
		var delays []time.Duration
		for i := range moves {
			id := ids[i]
			var opp string
			if err := w.pool.QueryRow(ctx, `SELECT remote_opportunity_id FROM candidate_links WHERE candidate_id = $1`, id).Scan(&opp); err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			moveWith(b, w, ps, id, "t-contacted")
			for !movedTo(b, w, opp, w.stages[1].ID) {
				time.Sleep(2 * time.Millisecond)
			}
			delays = append(delays, time.Since(t0))
		}
		slices.Sort(delays)
		b.ReportMetric(float64(delays[len(delays)/2].Milliseconds()), "move-p50-ms")
		b.ReportMetric(float64(delays[len(delays)*99/100].Milliseconds()), "move-p99-ms")
	}
}

func enrollWith(b *testing.B, w *world, ps *pushes.Pushes, candidateID string) {
	b.Helper()
	w.deliver(pushes.EventEnrollmentCreated, &outreachv1.EnrollmentCreated{EnrollmentId: uuid.NewString(), FlowId: "flow", CandidateId: candidateID,
		JobId: "job-1", ActorUserId: recruiter}, ps.ApplyEnrollmentCreated)
}

func moveWith(b *testing.B, w *world, ps *pushes.Pushes, candidateID, stage string) {
	b.Helper()
	w.clock = w.clock.Add(time.Second)
	w.deliver(pushes.EventStageChanged, &outreachv1.CandidateStageChanged{CandidateId: candidateID, ToStageId: stage, ToStageName: stage,
		Source: outreachv1.StageChangeSource_STAGE_CHANGE_SOURCE_USER, ActorUserId: recruiter}, ps.ApplyStageChanged)
}

func movedTo(b *testing.B, w *world, opportunityID, stage string) bool {
	b.Helper()
	o, err := w.sim.Client().LeverOpportunity(b.Context(), opportunityID)
	if err != nil {
		b.Fatal(err)
	}
	return o.StageID == stage
}
