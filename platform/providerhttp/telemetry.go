package providerhttp

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// redactingTracerProvider hands otelhttp spans whose URL attributes lose
// their query string. otelhttp records the full URL, and a provider URL's
// query may hold personal data (Lever's ?email=) or, through a careless
// caller, a credential; otelhttp has no option to change that.
type redactingTracerProvider struct{ trace.TracerProvider }

func (p redactingTracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return redactingTracer{p.TracerProvider.Tracer(name, opts...)}
}

type redactingTracer struct{ trace.Tracer }

func (t redactingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, span := t.Tracer.Start(ctx, name, opts...)
	s := redactingSpan{span}
	return trace.ContextWithSpan(ctx, s), s
}

type redactingSpan struct{ trace.Span }

func (s redactingSpan) SetAttributes(kv ...attribute.KeyValue) {
	for i, a := range kv {
		// url.full is the current semantic convention, http.url the old
		// one otelhttp still emits when asked to.
		if a.Key == "url.full" || a.Key == "http.url" {
			kv[i] = attribute.String(string(a.Key), redactURL(a.Value.AsString()))
		}
	}
	s.Span.SetAttributes(kv...)
}

// instruments are the client's own metrics; otelhttp adds the standard
// per-request duration and size metrics.
type instruments struct {
	attempts metric.Int64Counter
	retries  metric.Int64Counter
	waits    metric.Float64Histogram
}

func newInstruments(mp metric.MeterProvider) instruments {
	m := mp.Meter("github.com/tandemhq/tandem/platform/providerhttp")
	// Instrument creation only fails on an invalid name; ours are
	// constants, and a usable no-op is what the API returns with the
	// error. The error still goes to OpenTelemetry's handler.
	attempts, errA := m.Int64Counter("tandem.providerhttp.attempts",
		metric.WithDescription("Requests sent to providers, each retry counted."),
		metric.WithUnit("{request}"))
	retries, errR := m.Int64Counter("tandem.providerhttp.retries",
		metric.WithDescription("Requests sent again, by reason."),
		metric.WithUnit("{request}"))
	waits, errW := m.Float64Histogram("tandem.providerhttp.wait.duration",
		metric.WithDescription("Time spent waiting before a request: Retry-After, backoff, or our own rate limit."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	if err := errors.Join(errA, errR, errW); err != nil {
		otel.Handle(err)
	}
	return instruments{attempts: attempts, retries: retries, waits: waits}
}
