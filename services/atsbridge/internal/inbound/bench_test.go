package inbound_test

import (
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/services/atsbridge/internal/inbound"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
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
