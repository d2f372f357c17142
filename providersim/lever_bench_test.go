package providersim_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tandemhq/tandem/providersim"
)

// BenchmarkLeverCreateOpportunity measures POST /v1/opportunities over HTTP
// (a new contact with an address, a posting, tags and a source each time),
// the rate limit out of the way.
func BenchmarkLeverCreateOpportunity(b *testing.B) {
	e := startLever(b)
	token := e.leverTokens(leverScopes).AccessToken
	target := e.sim.LeverURL() + "/v1/opportunities?perform_as=" + e.leverUserID(providersim.DemoLeverUser)
	posting := e.leverPostingID("Senior Go Engineer")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Cleanup(client.CloseIdleConnections)
	var n atomic.Int64
	create := func() error {
		i := strconv.FormatInt(n.Add(1), 10)
		body := `{"name":"Candidate ` + i + `","emails":["candidate` + i + `@example.org"],"postings":["` + posting +
			`"],"tags":["Go","Tandem"],"sources":["Tandem"],"origin":"sourced"}`
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, target, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return &statusError{resp.StatusCode}
		}
		return nil
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := create(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	})
	b.Run("parallel4", func(b *testing.B) {
		b.SetParallelism(2) // 2 x GOMAXPROCS(2) = 4 clients
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := create(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	})
}

type statusError struct{ status int }

func (s *statusError) Error() string { return "status " + strconv.Itoa(s.status) }
