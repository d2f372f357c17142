package providersim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// BenchmarkAshbyApplicationListPages measures application.list pages of 100
// over HTTP, walking 1,000 applications to the last page round after round
// (a full sync each time), with a plain net/http client that decodes the
// envelope as Tandem does.
func BenchmarkAshbyApplicationListPages(b *testing.B) {
	e := ashbyStart(b)
	o, err := e.c.CreateAshbyOrg(e.ctx, simclient.AshbyOrg{
		Name: "bench", Jobs: []simclient.AshbyJob{{Title: "Engineer"}}, APIKeys: []simclient.AshbyAPIKey{{Title: "bench"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	cands := make([]simclient.AshbyCandidate, 1000)
	for i := range cands {
		cands[i] = simclient.AshbyCandidate{
			Name: fmt.Sprintf("Candidate %04d", i), Emails: []string{fmt.Sprintf("c%04d@example.org", i)},
			Applications: []simclient.AshbyApplication{{Job: "Engineer"}},
		}
	}
	if _, err := e.c.AddToAshbyOrg(e.ctx, o.ID, simclient.AshbyOrg{Candidates: cands}); err != nil {
		b.Fatal(err)
	}
	key := o.APIKeys[0].Key
	client := &http.Client{Transport: &http.Transport{}}
	b.Cleanup(client.CloseIdleConnections)
	cursor, items := "", 0
	for b.Loop() {
		body := []byte(`{"limit":100}`)
		if cursor != "" {
			body = []byte(`{"limit":100,"cursor":"` + cursor + `"}`)
		}
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.sim.AshbyURL()+"/application.list", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(key, "")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var page struct {
			Success           bool              `json:"success"`
			Results           []json.RawMessage `json:"results"`
			MoreDataAvailable bool              `json:"moreDataAvailable"`
			NextCursor        string            `json:"nextCursor"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || !page.Success {
			b.Fatalf("page: %v %+v", err, page.Success)
		}
		items += len(page.Results)
		cursor = ""
		if page.MoreDataAvailable {
			cursor = page.NextCursor
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "applications/s")
}
