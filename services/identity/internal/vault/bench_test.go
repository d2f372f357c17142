package vault_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// percentile of sorted durations, p in [0, 1].
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50_µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99_µs")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "calls/s")
}

// AccessToken of a valid token: one Redis round trip, no decryption once
// the sealed value has been opened.
func BenchmarkAccessTokenValid(b *testing.B) {
	e := newEnv(b)
	v := e.replica()
	e.put(v, "org-1", "conn-1", e.connect(adele))
	ctx := b.Context()
	if _, err := v.AccessToken(ctx, "org-1", "conn-1"); err != nil {
		b.Fatal(err)
	}

	b.Run("serial", func(b *testing.B) {
		lat := make([]time.Duration, 0, 1<<16)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			start := time.Now()
			if _, err := v.AccessToken(ctx, "org-1", "conn-1"); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		reportLatencies(b, lat)
	})

	b.Run("parallel", func(b *testing.B) {
		var mu sync.Mutex
		var all []time.Duration
		b.ReportAllocs()
		b.SetParallelism(8) // 16 goroutines on 2 cores, as a busy replica
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			lat := make([]time.Duration, 0, 1<<14)
			for pb.Next() {
				start := time.Now()
				if _, err := v.AccessToken(ctx, "org-1", "conn-1"); err != nil {
					b.Error(err)
					return
				}
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
		reportLatencies(b, all)
	})
}

// 1,000 callers on two replicas ask for a token that has just expired.
func BenchmarkRefreshStorm(b *testing.B) {
	const callers = 1000
	e := newEnv(b)
	replicas := []*vault.Vault{e.replica(), e.replica()}
	creds := atExpiry(e.connect(adele))
	ctx := b.Context()

	var refreshes int64
	var slowest time.Duration
	var all []time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		conn := fmt.Sprintf("conn-%d", i)
		i++
		creds.ExpiresAt = time.Now()
		e.put(replicas[0], "org-1", conn, creds)
		before := e.refreshGrants()
		lat := make([]time.Duration, callers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for c := range callers {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				if _, err := replicas[c%2].AccessToken(ctx, "org-1", conn); err != nil {
					b.Error(err)
				}
				lat[c] = time.Since(t0)
			})
		}
		b.StartTimer()
		close(start)
		wg.Wait()
		b.StopTimer()
		refreshes += e.refreshGrants() - before
		all = append(all, lat...)
		slowest = max(slowest, slices.Max(lat))
		b.StartTimer()
	}
	slices.Sort(all)
	b.ReportMetric(float64(refreshes)/float64(b.N), "refreshes/op")
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50_caller_ms")
	b.ReportMetric(float64(slowest.Microseconds())/1000, "slowest_caller_ms")
}
