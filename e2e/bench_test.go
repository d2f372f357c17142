package e2e

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/tandemhq/tandem/e2e/stack"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// BenchmarkReadRPC compares one read RPC (GetMe) through the REST gateway
// with the same call made directly over gRPC, in the same run, and reports
// both latencies and their ratio.
func BenchmarkReadRPC(b *testing.B) {
	s := stack.Start(b, binDir, stack.Options{Env: []string{"TANDEM_LOG_LEVEL=warn"}})
	res, userAPI := signedIn(b, s, newBrowser(b, s), as{email: contosoUser})
	client := identityClientTB(b, s, "identity")
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+res.GetSession().GetAccessToken())
	req, err := http.NewRequest(http.MethodGet, s.GatewayURL+"/v1/me", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+userAPI.token)
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	direct := make([]time.Duration, 0, b.N)
	gateway := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := client.GetMe(ctx, &identityv1.GetMeRequest{}); err != nil {
			b.Fatal(err)
		}
		direct = append(direct, time.Since(start))
		start = time.Now()
		resp, err := httpClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("gateway: %d", resp.StatusCode)
		}
		gateway = append(gateway, time.Since(start))
	}
	b.StopTimer()
	d50, d99 := percentiles(direct)
	g50, g99 := percentiles(gateway)
	b.ReportMetric(float64(d50.Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(d99.Microseconds()), "direct-p99-µs")
	b.ReportMetric(float64(g50.Microseconds()), "gateway-p50-µs")
	b.ReportMetric(float64(g99.Microseconds()), "gateway-p99-µs")
	b.ReportMetric(float64(g50)/float64(d50), "gateway/direct-p50")
}

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	sorted := append([]time.Duration(nil), ds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return sorted[len(sorted)*50/100], sorted[min(len(sorted)-1, len(sorted)*99/100)]
}
