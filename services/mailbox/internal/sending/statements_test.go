package sending

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// statementCounter counts the statements sent to Postgres while on, by
// kind: transaction control, River's (its tables are river_*) and the
// mailbox's own.
type statementCounter struct {
	on  atomic.Bool
	mu  sync.Mutex
	all map[string]int
}

// countSkip is the benchmark's own progress query, not the pipeline's.
const countSkip = `SELECT count(*) FROM messages WHERE state = 'sent'`

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if !c.on.Load() || d.SQL == countSkip {
		return ctx
	}
	sql := strings.Join(strings.Fields(d.SQL), " ")
	c.mu.Lock()
	c.all[sql]++
	c.mu.Unlock()
	return ctx
}

func (*statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func statementKind(sql string) string {
	switch low := strings.ToLower(sql); {
	case low == "begin" || low == "commit" || low == "rollback" || strings.HasPrefix(low, "begin "):
		return "begin/commit"
	case strings.Contains(low, "river_") || strings.HasPrefix(low, "-- name: "):
		return "river"
	default:
		return "mailbox"
	}
}

// The statements per message of the send pipeline, with the limits raised
// and two replicas (BenchmarkSendAcrossMailboxes at a tenth of its size):
// what docs/benchmarks.md counts. River's own statements (fetches,
// completions, its maintenance) are shared between many jobs and counted
// apart.
func TestStatementsPerMessage(t *testing.T) {
	const mailboxes, perMailbox, perMinute = 20, 5, 1_000_000
	c := &statementCounter{all: map[string]int{}}
	e := newTracedEnv(t, c)
	ctx := e.ctx
	if _, err := e.ctl.SetGraphLimits(ctx, simclient.GraphLimits{MessagesPerMinute: perMinute, RequestsPerWindow: 1_000_000_000}); err != nil {
		t.Fatal(err)
	}
	boxes := benchMailboxes(t, e, mailboxes, store.StatusChange{})
	startReplicas(t, e, 2, perMinute)
	pipeline := New(e.st, e.jc, perMinute, slog.New(slog.DiscardHandler))
	c.on.Store(true)
	for i, mb := range boxes {
		for k := range perMailbox {
			if _, _, err := pipeline.Submit(ctx, Submission{OrgID: org, MailboxID: mb.ID, Caller: caller,
				To: []Recipient{{Address: fmt.Sprintf("cand%d@example.com", i)}}, Subject: "Count", HTMLBody: "<p>x</p>",
				IdempotencyKey: fmt.Sprintf("c%d-%d", i, k)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	const want = mailboxes * perMailbox
	if err := poll.Wait(ctx, time.Minute, func() error {
		var n int
		if err := e.pool.QueryRow(ctx, countSkip).Scan(&n); err != nil {
			return err
		}
		if n < want {
			return fmt.Errorf("%d of %d sent", n, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.on.Store(false)

	c.mu.Lock()
	defer c.mu.Unlock()
	kinds := map[string]int{}
	type stmt struct {
		sql string
		n   int
	}
	var list []stmt
	for sql, n := range c.all {
		kinds[statementKind(sql)] += n
		list = append(list, stmt{sql, n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n > list[j].n })
	for _, s := range list {
		sql := s.sql
		if len(sql) > 110 {
			sql = sql[:110] + "…"
		}
		t.Logf("%6.2f  [%s] %s", float64(s.n)/want, statementKind(s.sql), sql)
	}
	total := 0
	for _, k := range []string{"mailbox", "begin/commit", "river"} {
		t.Logf("per message: %-12s %6.2f", k, float64(kinds[k])/want)
		total += kinds[k]
	}
	t.Logf("per message: %-12s %6.2f", "all", float64(total)/want)
}
