package flows_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
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

// benchWorld is a world whose steps River works with the service's step
// queue, each handed to a mailbox fake that answers at once: what is
// measured is outreach (the re-check, the render, the bookkeeping).
type benchWorld struct {
	*world
	jc *jobs.Client
}

func newBenchWorld(b *testing.B) *benchWorld {
	b.Helper()
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
	return &benchWorld{world: w, jc: jc}
}

// flows makes one flow per mailbox (sending at any hour, in UTC), with
// perMailbox candidates each, and returns the flows and, per flow, its
// candidates.
func (w *benchWorld) flows(mailboxes, perMailbox int, delay int) ([]store.Flow, [][]string) {
	w.t.Helper()
	var fs []store.Flow
	var ids [][]string
	for m := range mailboxes {
		rows := make([]store.Candidate, 0, perMailbox)
		for i := range perMailbox {
			rows = append(rows, store.Candidate{OrgID: w.org, Name: fmt.Sprintf("Candidate %d-%d", m, i), Emails: []string{fmt.Sprintf("c%d-%d@example.com", m, i)}})
		}
		created, err := w.st.CreateCandidates(w.t.Context(), rows, "bench")
		if err != nil {
			w.t.Fatal(err)
		}
		var mine []string
		for _, r := range created {
			mine = append(mine, r.Candidate.ID)
		}
		in := input(store.FlowStep{DelayUnit: "hours", Delay: delay, Subject: "Hi {{ candidate.first_name }}", Body: "<p>Hello {{ candidate.name }}</p>"})
		in.Sender.MailboxConnectionID = fmt.Sprintf("conn-%d", m)
		in.TimeZone = "UTC"
		in.Window = &flows.WindowInput{Days: []int{1, 2, 3, 4, 5, 6, 7}, Start: "00:00", End: "24:00"}
		fs = append(fs, w.flow(in))
		ids = append(ids, mine)
	}
	return fs, ids
}

func (w *benchWorld) start(b *testing.B) {
	b.Helper()
	if err := w.jc.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := w.jc.Stop(ctx); err != nil {
			b.Error(err)
		}
	})
}

// report waits for n hand-overs and reports them against due (each
// message's due time, by mailbox or by key) from start.
func (w *benchWorld) report(b *testing.B, n int, start time.Time, due func(flows.Message) time.Time) {
	b.Helper()
	poll.Until(b, 30*time.Minute, func() error {
		if got := w.mail.handed(); got < n {
			return fmt.Errorf("%d of %d handed over", got, n)
		}
		return nil
	})
	b.StopTimer()
	w.mail.mu.Lock()
	at := slices.Clone(w.mail.at)
	var delays []time.Duration
	for i, k := range w.mail.order {
		delays = append(delays, at[i].Sub(due(w.mail.byKey[k])))
	}
	w.mail.mu.Unlock()
	slices.Sort(delays)
	total := slices.MaxFunc(at, time.Time.Compare).Sub(start)
	b.ReportMetric(float64(len(at))/total.Seconds(), "steps/s")
	b.ReportMetric(float64(delays[len(delays)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(float64(delays[len(delays)-1].Milliseconds()), "max-ms")
	b.ReportMetric(total.Seconds(), "last-s")
}

// BenchmarkDueStepsHandOff: the first steps of many enrollments fall due
// as their flows are activated, one after the other, across many
// mailboxes (flows). The due time of a step is its flow's activation, so
// the delay includes the burst's queue.
//
//	go test -run '^$' -bench DueStepsHandOff -benchtime 1x ./internal/flows/
func BenchmarkDueStepsHandOff(b *testing.B) {
	const mailboxes, perMailbox = 50, 200
	for range b.N {
		b.StopTimer()
		w := newBenchWorld(b)
		fs, ids := w.flows(mailboxes, perMailbox, 0)
		for i, f := range fs {
			w.enroll(f.ID, ids[i]...)
		}
		w.start(b)
		b.StartTimer()
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
		w.report(b, mailboxes*perMailbox, start, func(m flows.Message) time.Time { return dueBy[m.MailboxID] })
	}
}

// envInt reads a benchmark's size from the environment.
func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// BenchmarkDueStepsAtOnce: the throughput run. Enrollments
// across many mailboxes (1,000 flows of 100 by default:
// BENCH_MAILBOXES, BENCH_PER_MAILBOX) whose first step falls due at one
// instant, set a few seconds after everything is enrolled (the flows'
// clock runs an hour behind while they enroll, their step waits an
// hour). Reported: steps handed over per second from that instant to the
// last one, and the delay due → hand-off.
//
//	go test -run '^$' -bench DueStepsAtOnce -benchtime 1x -timeout 60m ./internal/flows/
func BenchmarkDueStepsAtOnce(b *testing.B) {
	mailboxes, perMailbox := envInt(b, "BENCH_MAILBOXES", 1000), envInt(b, "BENCH_PER_MAILBOX", 100)
	for range b.N {
		b.StopTimer()
		w := newBenchWorld(b)
		fs, ids := w.flows(mailboxes, perMailbox, 1)
		setup := time.Now()
		for _, f := range fs {
			if _, err := w.rules.Activate(b.Context(), w.owner, f.ID); err != nil {
				b.Fatal(err)
			}
		}
		// Enrolled for a far-off time, then every step job is moved to
		// one instant a few seconds on (River's scheduler makes them
		// available before it, as it does for any step scheduled ahead).
		w.clock.set(setup.Add(24 * time.Hour))
		for i, f := range fs {
			w.enroll(f.ID, ids[i]...)
		}
		due := time.Now().Add(6 * time.Second)
		tag, err := w.pool.Exec(b.Context(), `UPDATE river_job SET scheduled_at = $2 WHERE kind = $1 AND state = 'scheduled'`, flows.StepKind, due)
		if err != nil {
			b.Fatal(err)
		}
		if int(tag.RowsAffected()) != mailboxes*perMailbox {
			b.Fatalf("%d step jobs scheduled, want %d", tag.RowsAffected(), mailboxes*perMailbox)
		}
		b.Logf("enrolled %d in %s", mailboxes*perMailbox, time.Since(setup).Round(time.Second))
		w.start(b)
		b.StartTimer()
		w.report(b, mailboxes*perMailbox, due, func(flows.Message) time.Time { return due })
	}
}

// BenchmarkDueStepsSpread: the delay due → hand-off when nothing holds a
// step back. 300 first steps across 10 mailboxes fall due one by one,
// 100 ms apart, over 30 s; each was scheduled ahead (the flows' clock
// runs an hour behind at each enrollment, the step waits an hour), as a
// step due days after the previous one is.
//
//	go test -run '^$' -bench DueStepsSpread -benchtime 1x ./internal/flows/
func BenchmarkDueStepsSpread(b *testing.B) {
	const mailboxes, perMailbox, gap = 10, 30, 100 * time.Millisecond
	for range b.N {
		b.StopTimer()
		w := newBenchWorld(b)
		fs, ids := w.flows(mailboxes, perMailbox, 1)
		for _, f := range fs {
			if _, err := w.rules.Activate(b.Context(), w.owner, f.ID); err != nil {
				b.Fatal(err)
			}
		}
		w.start(b)
		first := time.Now().Add(15 * time.Second)
		dueBy := map[string]time.Time{}
		n := 0
		for i := range perMailbox {
			for m, f := range fs {
				at := first.Add(time.Duration(n) * gap)
				w.clock.set(at.Add(-time.Hour))
				r := w.enroll(f.ID, ids[m][i])[0]
				e := w.enrollment(r.EnrollmentID)
				dueBy[flows.IdempotencyKey(e.ID, 0, e.FlowVersion)] = *e.NextSendAt
				n++
			}
		}
		if time.Now().After(first) {
			b.Fatalf("enrolling took past the first step's time")
		}
		b.StartTimer()
		w.report(b, n, first, func(m flows.Message) time.Time { return dueBy[m.IdempotencyKey] })
	}
}
