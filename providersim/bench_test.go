package providersim_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// benchEnv starts a simulator with limits out of the way.
func benchEnv(b *testing.B) (*env, string) {
	e := start(b)
	if _, err := e.c.SetGraphLimits(e.ctx, simclient.GraphLimits{
		ConcurrentRequests: 64, RequestsPerWindow: 1 << 30, MessagesPerMinute: 1 << 30, RecipientsPerDay: 1 << 30,
	}); err != nil {
		b.Fatal(err)
	}
	return e, e.graphToken(providersim.DemoContosoUser)
}

func sendMailRequest(e *env, token string) (*http.Request, error) {
	body := `{"message":{"subject":"Senior Go engineer at Contoso","body":{"contentType":"Text","content":"Hi, would you like to talk?"},` +
		`"toRecipients":[{"emailAddress":{"address":"jordan.lee@gmail.example"}}],` +
		`"internetMessageHeaders":[{"name":"x-tandem-send-id","value":"bench"}]}}`
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.sim.GraphURL()+"/v1.0/me/sendMail", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// BenchmarkGraphSendMail measures POST /v1.0/me/sendMail over HTTP, one
// client at a time.
func BenchmarkGraphSendMail(b *testing.B) {
	e, token := benchEnv(b)
	client := &http.Client{Transport: &http.Transport{}}
	b.Cleanup(client.CloseIdleConnections)
	for b.Loop() {
		req, err := sendMailRequest(e, token)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}

// BenchmarkGraphSendMailParallel is the same with four concurrent clients,
// the mailbox concurrency Graph allows.
func BenchmarkGraphSendMailParallel(b *testing.B) {
	e, token := benchEnv(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Cleanup(client.CloseIdleConnections)
	b.SetParallelism(2) // 2 x GOMAXPROCS(2) = 4 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := sendMailRequest(e, token)
			if err != nil {
				b.Error(err)
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}

// BenchmarkGraphDeltaPages measures delta pages of 50 messages with $select,
// walking a 1,000-message Inbox round after round (initial sync each time).
func BenchmarkGraphDeltaPages(b *testing.B) {
	e, token := benchEnv(b)
	sender := e.graphToken(providersim.DemoContosoAdmin)
	for i := range 1000 {
		status, _, raw := e.graphCall("POST", "/v1.0/me/sendMail", sender, map[string]any{"message": map[string]any{
			"subject": "Application " + strconv.Itoa(i), "body": map[string]any{"contentType": "Text", "content": "Hello"},
			"toRecipients": []any{map[string]any{"emailAddress": map[string]any{"address": providersim.DemoContosoUser}}},
		}})
		if status != http.StatusAccepted {
			b.Fatalf("seed: %d %s", status, raw)
		}
	}
	first := e.sim.GraphURL() + "/v1.0/me/mailFolders('inbox')/messages/delta?$select=subject,from,receivedDateTime,internetMessageId"
	link, items := first, 0
	for b.Loop() {
		page := e.graphJSON("GET", link, token, nil, http.StatusOK, "Prefer", "odata.maxpagesize=50")
		items += len(page["value"].([]any))
		if next, ok := page["@odata.nextLink"].(string); ok {
			link = next
		} else {
			link = first
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "messages/s")
}
