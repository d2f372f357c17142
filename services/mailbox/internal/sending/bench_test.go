package sending

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// BenchmarkSendAcrossMailboxes is the pipeline's throughput with the
// limits raised (simulator and ours): 200 mailboxes, two replicas (two
// River clients with their own workers, Graph clients and limit clients
// over one Postgres and one Redis), the simulator in process. Each
// iteration sends 5 messages from every mailbox and waits until all are
// sent; messages/s is the figure docs/benchmarks.md records.
//
//	go test -run '^$' -bench BenchmarkSendAcrossMailboxes -benchtime 3x ./internal/sending/
func BenchmarkSendAcrossMailboxes(b *testing.B) {
	const mailboxes, perMailbox, perMinute = 200, 5, 1_000_000
	e := newEnv(b)
	ctx := e.ctx
	if _, err := e.ctl.SetGraphLimits(ctx, simclient.GraphLimits{MessagesPerMinute: perMinute, RequestsPerWindow: 1_000_000_000}); err != nil {
		b.Fatal(err)
	}
	boxes := benchMailboxes(b, e, mailboxes, store.StatusChange{})
	startReplicas(b, e, 2, perMinute)
	log := slog.New(slog.DiscardHandler)
	pipeline := New(e.st, e.jc, perMinute, log)
	round := 0
	var sent time.Duration
	total := 0
	goCPU0, pgCPU0 := processCPU(b), postgresCPU(b, e)
	for b.Loop() {
		round++
		start := time.Now()
		var wg sync.WaitGroup
		for i, mb := range boxes {
			wg.Go(func() {
				for k := range perMailbox {
					if _, _, err := pipeline.Submit(ctx, Submission{OrgID: org, MailboxID: mb.ID, Caller: caller,
						To: []Recipient{{Address: fmt.Sprintf("cand%d@example.com", i)}}, Subject: "Bench", HTMLBody: "<p>x</p>",
						IdempotencyKey: fmt.Sprintf("r%d-%d-%d", round, i, k)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		want := round * mailboxes * perMailbox
		if err := poll.Wait(ctx, 5*time.Minute, func() error {
			var n int
			if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE state = 'sent'`).Scan(&n); err != nil {
				return err
			}
			if n < want {
				return fmt.Errorf("%d of %d sent", n, want)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		sent += time.Since(start)
		total += mailboxes * perMailbox
	}
	b.ReportMetric(float64(total)/sent.Seconds(), "messages/s")
	// CPU per message, which the other work on a shared machine changes
	// less than the rate: this process (both replicas, the submitters and
	// the simulator) and the Postgres backends of the test database.
	b.ReportMetric(float64((processCPU(b)-goCPU0).Microseconds())/1000/float64(total), "go-cpu-ms/msg")
	pgCPU := 0.0
	for pid, ticks := range postgresCPU(b, e) {
		pgCPU += float64(ticks - pgCPU0[pid])
	}
	b.ReportMetric(pgCPU*1000/clockTicks/float64(total), "pg-cpu-ms/msg")
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times.
const clockTicks = 100

// processCPU is the CPU time this process used so far.
func processCPU(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time (user and system, in clock ticks) used so
// far by each Postgres backend connected to e's database, by pid: Postgres
// is local, on the same machine.
func postgresCPU(b testing.TB, e *env) map[int]int64 {
	rows, err := e.pool.Query(e.ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		b.Fatal(err)
	}
	out := make(map[int]int64, len(pids))
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone, or not on this machine
		}
		// Fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th.
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, uerr := strconv.ParseInt(f[11], 10, 64)
		st, serr := strconv.ParseInt(f[12], 10, 64)
		if uerr != nil || serr != nil {
			continue
		}
		out[pid] = u + st
	}
	return out
}

// benchMailboxes creates n users in the simulator's Contoso tenant and
// connects their mailboxes with the settings of s.
func benchMailboxes(b testing.TB, e *env, n int, s store.StatusChange) []store.Mailbox {
	b.Helper()
	tenant, err := e.ctl.Tenant(e.ctx, providersim.DemoContosoDomain)
	if err != nil {
		b.Fatal(err)
	}
	var boxes []store.Mailbox
	for i := range n {
		upn := fmt.Sprintf("bench%03d@%s", i, providersim.DemoContosoDomain)
		if _, err := e.ctl.CreateUser(e.ctx, tenant.ID, simclient.User{UserPrincipalName: upn, DisplayName: upn}); err != nil {
			b.Fatal(err)
		}
		boxes = append(boxes, e.connect(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), org, upn, s))
	}
	return boxes
}

// startReplicas runs n sending replicas (each its own pool, River client
// with 50 workers, Graph client and limit clients) over e's Postgres and
// one Redis, stopped when the benchmark ends.
func startReplicas(b testing.TB, e *env, n, perMinute int) {
	b.Helper()
	ctx := e.ctx
	rdb := pgtest.NewRedis(b)
	prefix := pgtest.RedisPrefixCleaned(b, rdb)
	log := slog.New(slog.DiscardHandler)
	for range n {
		limits, err := graph.NewSharedLimits(rdb, redisx.ServiceKeys(prefix, "mailbox", "graph-concurrency"), redisx.ServiceKeys(prefix, "mailbox", "graph-requests"), log)
		if err != nil {
			b.Fatal(err)
		}
		mail, err := graph.New(graph.Options{BaseURL: e.sim.GraphURL(), Tokens: e.tokens, HTTP: limits.HTTP(log, 5*time.Second), SendHTTP: limits.HTTP(log, time.Nanosecond)})
		if err != nil {
			b.Fatal(err)
		}
		q, err := ratelimit.NewQuota(rdb, redisx.ServiceKeys(prefix, "mailbox", "sent-per-minute"), MinuteWindow(perMinute))
		if err != nil {
			b.Fatal(err)
		}
		// Each replica its own pool, as each mailbox process has.
		pool := e.openPool()
		st := store.New(pool)
		ref := &jobsRef{}
		workers := river.NewWorkers()
		river.AddWorker(workers, NewReleaseWorker(st, ref))
		river.AddWorker(workers, NewSendWorker(SendWorkerOptions{Store: st, Jobs: ref, Mail: mail, Limits: NewLimits(st, q, perMinute), Publisher: e.pub, Logger: log}))
		jc, err := jobs.New(pool, jobs.Options{Schema: "mailbox", Workers: workers, Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 50, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}}})
		if err != nil {
			b.Fatal(err)
		}
		ref.c = jc
		if err := jc.Start(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := jc.Stop(stop); err != nil {
				b.Errorf("stop a replica: %v", err)
			}
		})
	}
}

// jobsRef is the River client of a replica, set once it exists.
type jobsRef struct{ c *jobs.Client }

func (r *jobsRef) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return r.c.InsertTx(ctx, tx, args, opts)
}

func (r *jobsRef) JobRetryTx(ctx context.Context, tx pgx.Tx, id int64) (*rivertype.JobRow, error) {
	return r.c.JobRetryTx(ctx, tx, id)
}
