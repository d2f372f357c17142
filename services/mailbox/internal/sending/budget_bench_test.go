package sending

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// BenchmarkBudgetUnderBacklog is how much of each mailbox's 30-a-minute
// budget the pipeline uses when every mailbox has more waiting than it may
// send: 10 mailboxes with 120 messages each, two replicas, Exchange's rate
// on both sides (ours and the simulator's), no minimum gap of the
// mailbox's own. Over a measured span it reports the smallest and the
// largest share of the budget a mailbox used (sent / (30 a minute x the
// span)), the most messages any mailbox sent in any 60 seconds (never
// over 30), and the simulator's count of sends over its limit and of 429s
// (both 0). One iteration takes the span plus the warm-up: run it once.
//
//	go test -run '^$' -bench BenchmarkBudgetUnderBacklog -benchtime 1x ./internal/sending/
func BenchmarkBudgetUnderBacklog(b *testing.B) {
	const mailboxes, backlog = 10, 120
	const span = 3 * time.Minute
	e := newEnv(b)
	ctx := e.ctx
	if _, err := e.ctl.SetGraphLimits(ctx, simclient.GraphLimits{MessagesPerMinute: MessagesPerMinute}); err != nil {
		b.Fatal(err)
	}
	// MinGap stays zero: the per-minute rate is the only limit in force.
	boxes := benchMailboxes(b, e, mailboxes, store.StatusChange{})
	startReplicas(b, e, 2, MessagesPerMinute)
	pipeline := New(e.st, e.jc, MessagesPerMinute, slog.New(slog.DiscardHandler))
	round := 0
	for b.Loop() {
		round++
		for i, mb := range boxes {
			for k := range backlog {
				if _, _, err := pipeline.Submit(ctx, Submission{OrgID: org, MailboxID: mb.ID, Caller: caller,
					To: []Recipient{{Address: fmt.Sprintf("cand%d@example.com", i)}}, Subject: "Bench", HTMLBody: "<p>x</p>",
					IdempotencyKey: fmt.Sprintf("budget-%d-%d-%d", round, i, k)}); err != nil {
					b.Fatal(err)
				}
			}
		}
		// The span starts at the first send and ends while every mailbox
		// still has messages waiting (120 > 30 x 3).
		var first time.Time
		if err := poll.Wait(ctx, time.Minute, func() error {
			var at *time.Time
			if err := e.pool.QueryRow(ctx, `SELECT min(sent_at) FROM messages WHERE state = 'sent'`).Scan(&at); err != nil {
				return err
			}
			if at == nil {
				return errors.New("nothing sent yet")
			}
			first = *at
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		// The measured span itself.
		<-time.After(time.Until(first.Add(span)))
		minShare, maxShare, maxWindow := 1.0e9, 0.0, 0
		for _, mb := range boxes {
			rows, err := e.pool.Query(ctx, `SELECT sent_at FROM messages WHERE mailbox_id = $1 AND state = 'sent' AND sent_at >= $2 AND sent_at < $3 ORDER BY sent_at`,
				mb.ID, first, first.Add(span))
			if err != nil {
				b.Fatal(err)
			}
			var times []time.Time
			for rows.Next() {
				var t time.Time
				if err := rows.Scan(&t); err != nil {
					b.Fatal(err)
				}
				times = append(times, t)
			}
			rows.Close()
			share := float64(len(times)) / (float64(MessagesPerMinute) * span.Minutes())
			minShare, maxShare = min(minShare, share), max(maxShare, share)
			// The most sends in any 60 seconds: a window ending at each send.
			for i, j := 0, 0; i < len(times); i++ {
				for times[i].Sub(times[j]) >= time.Minute {
					j++
				}
				maxWindow = max(maxWindow, i-j+1)
			}
		}
		over, err := e.ctl.Counters(ctx, "graph.overLimit.messagesPerMinute")
		if err != nil {
			b.Fatal(err)
		}
		throttled, err := e.ctl.Counters(ctx, "graph.throttled")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(minShare*100, "min-share-%")
		b.ReportMetric(maxShare*100, "max-share-%")
		b.ReportMetric(float64(maxWindow), "max-per-60s")
		b.ReportMetric(float64(sum(over)+sum(throttled)), "graph-refusals")
	}
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
