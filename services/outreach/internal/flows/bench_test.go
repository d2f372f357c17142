package flows_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/migrations"
)

// BenchmarkDueStepsHandOff: the first steps of many enrollments fall due
// at once across many mailboxes (flows); River works them with the
// service's step queue and each is handed to a mailbox that answers at
// once. Reported: steps handed over per second, and the delay between a
// step's due time and its hand-off (p50, p99).
//
//	go test -run '^$' -bench DueStepsHandOff -benchtime 1x ./internal/flows/
func BenchmarkDueStepsHandOff(b *testing.B) {
	const mailboxes, perMailbox = 50, 200
	for range b.N {
		b.StopTimer()
		// A pool as large as the step workers: pgx's default (4 on this
		// machine) would make the connections the limit being measured.
		pool, err := postgres.Open(b.Context(), postgres.Options{URL: pgtest.NewDatabase(b), Schema: "outreach", MaxConns: 60})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		if err := postgres.Migrate(b.Context(), pool, "outreach", migrations.FS, logging.Discard()); err != nil {
			b.Fatal(err)
		}
		w := newWorldOn(b, pool)
		workers := river.NewWorkers()
		river.AddWorker(workers, flows.NewStepWorker(w.rules))
		jc, err := jobs.New(w.pool, jobs.Options{Schema: "outreach", Workers: workers, Logger: logging.Discard(),
			Queues: map[string]river.QueueConfig{flows.QueueSteps: flows.StepQueue()}})
		if err != nil {
			b.Fatal(err)
		}
		w.rules.SetJobs(jc)
		var rows []store.Candidate
		for i := range mailboxes * perMailbox {
			rows = append(rows, store.Candidate{OrgID: w.org, Name: fmt.Sprintf("Candidate %d", i), Emails: []string{fmt.Sprintf("c%d@example.com", i)}})
		}
		created, err := w.st.CreateCandidates(b.Context(), rows, "bench")
		if err != nil {
			b.Fatal(err)
		}
		var ids []string
		for _, r := range created {
			ids = append(ids, r.Candidate.ID)
		}
		var fs []store.Flow
		for m := range mailboxes {
			in := input(store.FlowStep{DelayUnit: "hours", Subject: "Hi {{ candidate.first_name }}", Body: "<p>Hello {{ candidate.name }}</p>"})
			in.Sender.MailboxConnectionID = fmt.Sprintf("conn-%d", m)
			in.TimeZone = "UTC"
			in.Window = &flows.WindowInput{Days: []int{1, 2, 3, 4, 5, 6, 7}, Start: "00:00", End: "24:00"}
			f := w.flow(in)
			w.enroll(f.ID, ids[m*perMailbox:(m+1)*perMailbox]...)
			fs = append(fs, f)
		}
		if err := jc.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		// Each flow's steps fall due when it is activated.
		start := time.Now()
		dueBy := map[string]time.Time{}
		for _, f := range fs {
			now := time.Now()
			w.clock.set(now)
			dueBy[f.Current.MailboxConnectionID] = now
			if _, err := w.rules.Activate(b.Context(), w.owner, f.ID); err != nil {
				b.Fatal(err)
			}
		}
		poll.Until(b, 5*time.Minute, func() error {
			if n := len(w.mail.messages()); n < mailboxes*perMailbox {
				return fmt.Errorf("%d handed over", n)
			}
			return nil
		})
		b.StopTimer()
		w.mail.mu.Lock()
		at := slices.Clone(w.mail.at)
		var delays []time.Duration
		for i, k := range w.mail.order {
			delays = append(delays, at[i].Sub(dueBy[w.mail.byKey[k].MailboxID]))
		}
		w.mail.mu.Unlock()
		slices.Sort(delays)
		total := slices.MaxFunc(at, time.Time.Compare).Sub(start)
		b.ReportMetric(float64(len(at))/total.Seconds(), "steps/s")
		b.ReportMetric(float64(delays[len(delays)/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(delays[len(delays)*99/100].Milliseconds()), "p99-ms")
		b.ReportMetric(total.Seconds(), "last-s")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := jc.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}
