package providerhttp

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestTelemetryCarriesNoSecrets(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	var logs bytes.Buffer

	clock := newFakeClock()
	s := &script{clock: clock, responses: []func(http.ResponseWriter){
		status(429, "Retry-After", "1"),
		func(w http.ResponseWriter) { fmt.Fprint(w, `{"token":"SECRET-RESPONSE"}`) },
	}}
	c := newTestClient(clock, Options{Provider: "graph", TracerProvider: tp, MeterProvider: mp, Logger: slogTo(&logs)})

	ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
	base := serve(t, s)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1.0/me/sendMail?code=SECRET-QUERY#SECRET-FRAGMENT",
		strings.NewReader(`{"refresh_token":"SECRET-BODY"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer SECRET-TOKEN")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil { // ends the attempt's span
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	parent.End()

	var seen []string
	var urls []string
	for _, sp := range spans.Ended() {
		seen = append(seen, sp.Name(), sp.Status().Description)
		for _, a := range sp.Attributes() {
			seen = append(seen, string(a.Key)+"="+a.Value.String())
			if a.Key == "url.full" {
				urls = append(urls, a.Value.AsString())
			}
		}
		for _, e := range sp.Events() {
			seen = append(seen, e.Name, fmt.Sprint(e.Attributes))
		}
	}
	seen = append(seen, logs.String())
	for _, s := range seen {
		if strings.Contains(s, "SECRET") {
			t.Fatalf("secret in telemetry: %q", s)
		}
	}
	if want := base + "/v1.0/me/sendMail?"; len(urls) != 2 || urls[0] != want || urls[1] != want {
		t.Fatalf("attempt spans' url.full = %q, want 2 × %q", urls, want)
	}
	if n := len(spans.Ended()); n != 4 {
		t.Fatalf("%d spans, want parent + Do + 2 attempts", n)
	}
	for _, h := range s.headers {
		if h.Get("Traceparent") != "" || h.Get("Baggage") != "" {
			t.Fatalf("trace context sent to the provider: %v", h)
		}
	}
	if !strings.Contains(logs.String(), "provider asked to retry") {
		t.Fatalf("no retry logged: %s", logs.String())
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range d.DataPoints {
					sums[m.Name] += p.Value
				}
			}
		}
	}
	if sums["tandem.providerhttp.attempts"] != 2 || sums["tandem.providerhttp.retries"] != 1 {
		t.Fatalf("metrics %v, want 2 attempts and 1 retry", sums)
	}
}
