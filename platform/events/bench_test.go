package events_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkDelivery measures events delivered per second from one
// service's outbox to another's receiver: committed in transactions of
// 100, worked by the events queue (20 workers), sent over gRPC with the
// service token, deduplicated, version-checked and applied in the
// receiver's Postgres. docs/benchmarks.md has the results.
func BenchmarkDelivery(b *testing.B) {
	s := newStack(b)
	s.startReceiver()
	const batch = 100
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += batch {
		err := pgx.BeginFunc(b.Context(), s.pubDB, func(tx pgx.Tx) error {
			for j := i; j < min(i+batch, b.N); j++ {
				if _, err := s.pub.Publish(b.Context(), tx, stageEvent(fmt.Sprintf("cand-%d", j), 1, "bench")); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	eventually(b, "every event applied", func() bool {
		var n int
		if err := s.recvDB.QueryRow(b.Context(), "SELECT count(*) FROM applied").Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n == b.N
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
