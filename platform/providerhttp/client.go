// Package providerhttp is the one HTTP client every service uses to call
// providers (Microsoft Graph and identity platform, Ashby, Lever).
//
// It retries what is safe to retry, waits as long as the provider asks
// (Retry-After in seconds, fractional seconds or an HTTP date), backs off
// with jitter otherwise, keeps to our own per-connection limits shared by
// all replicas, and hands durable jobs a *RetryAfterError when the wait is
// too long to block for.
//
// When a request is sent again:
//
//	                         GET HEAD OPTIONS PUT DELETE,   POST PATCH
//	                         or marked RetrySafe,
//	                         or with an Idempotency-Key
//	connection never made    yes                            yes
//	other transport error    yes                            no: it may have been processed
//	429                      yes                            yes: the provider refused it
//	503 with Retry-After     yes                            yes: the provider refused it
//	503 without, 502, 504    yes                            no: a proxy may have passed it on
//	anything else            no                             no
//
// A request whose body cannot be replayed (no GetBody and larger than
// Options.MaxReplayBody) is sent once.
//
// Telemetry: each Do is one span with a child span per attempt from
// otelhttp. Spans and logs carry the method, host and path; never the
// query, headers or bodies. Trace context is not propagated to providers:
// our trace ids and baggage are nobody else's business.
package providerhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemhq/tandem/platform/ratelimit"
)

// RateLimiter is the shared per-key rate limit checked before every
// attempt; *ratelimit.Limiter implements it. If it also has
// Pause(ctx, key, d) error (as *ratelimit.Limiter does), a provider's
// Retry-After pauses the key for every replica. Without one it still
// pauses the key for every later call of this client.
type RateLimiter interface {
	Allow(ctx context.Context, key string) (ratelimit.Decision, error)
}

type pauser interface {
	Pause(ctx context.Context, key string, d time.Duration) error
}

// Semaphore bounds concurrent requests per key (Graph allows 4 per
// mailbox); *ratelimit.Semaphore implements it.
type Semaphore interface {
	Acquire(ctx context.Context, key string) (release func(), err error)
}

// Clock is the time source; tests replace it.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, or returns ctx's error when it ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

// Options configure a Client. Zero values take the defaults shown.
type Options struct {
	// Provider names the provider in spans, metrics and logs ("graph",
	// "ashby", "lever", "msidentity").
	Provider string
	// Transport sends the requests; default a clone of
	// http.DefaultTransport with a one-minute ResponseHeaderTimeout. It is
	// wrapped with otelhttp.
	Transport http.RoundTripper
	// Limiter and Concurrency apply to requests that carry a key (see
	// WithKey). Both are optional. Both fail open: if Redis is down the
	// request goes ahead (the provider's own 429s, which we honour, are
	// the backstop), and a warning is logged.
	Limiter     RateLimiter
	Concurrency Semaphore
	// MaxAttempts counts the first request. Default 4.
	MaxAttempts int
	// Backoff applies when there is no Retry-After. Default 500ms base,
	// 30s cap.
	Backoff Backoff
	// MaxRetryAfter is the longest the client blocks waiting to retry;
	// beyond it Do returns a *RetryAfterError at once. Default 30s.
	MaxRetryAfter time.Duration
	// MaxReplayBody is the largest request body without GetBody that is
	// buffered so it can be sent again. Default 8 MiB.
	MaxReplayBody int64
	// Logger gets a debug line per retry and a warning when a limiter
	// fails. Default: discard.
	Logger *slog.Logger
	// Clock and Jitter are for tests. Jitter(n) returns a random integer
	// in [0, n); default math/rand/v2.Int64N.
	Clock  Clock
	Jitter func(n int64) int64
	// Defaults: the global providers.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// Client sends requests to one provider. It is safe for concurrent use.
type Client struct {
	provider      string
	hc            *http.Client
	limiter       RateLimiter
	sem           Semaphore
	maxAttempts   int
	backoff       Backoff
	maxRetryAfter time.Duration
	maxReplayBody int64
	logger        *slog.Logger
	clock         Clock
	jitter        func(int64) int64
	tracer        trace.Tracer
	metrics       instruments
	attrProvider  attribute.KeyValue
	pauses        localPauses
}

// New returns a client configured by o.
func New(o Options) *Client {
	if o.Provider == "" {
		o.Provider = "provider"
	}
	// A program that replaced http.DefaultTransport with another type
	// keeps its own (a nil Transport sends through it).
	if base, ok := http.DefaultTransport.(*http.Transport); ok && o.Transport == nil {
		t := base.Clone()
		// A provider that accepts the request and never answers would
		// otherwise hold the caller until its context ends; callers
		// without a deadline get this safety net.
		t.ResponseHeaderTimeout = time.Minute
		o.Transport = t
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = Backoff{Base: 500 * time.Millisecond, Cap: 30 * time.Second}
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 30 * time.Second
	}
	if o.MaxReplayBody <= 0 {
		o.MaxReplayBody = 8 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Jitter == nil {
		o.Jitter = rand.Int64N
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	provider := o.Provider
	transport := otelhttp.NewTransport(o.Transport,
		otelhttp.WithTracerProvider(redactingTracerProvider{o.TracerProvider}),
		otelhttp.WithMeterProvider(o.MeterProvider),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return provider + " HTTP " + r.Method
		}),
	)
	return &Client{
		provider:      provider,
		hc:            &http.Client{Transport: transport},
		limiter:       o.Limiter,
		sem:           o.Concurrency,
		maxAttempts:   o.MaxAttempts,
		backoff:       o.Backoff,
		maxRetryAfter: o.MaxRetryAfter,
		maxReplayBody: o.MaxReplayBody,
		logger:        o.Logger,
		clock:         o.Clock,
		jitter:        o.Jitter,
		tracer:        o.TracerProvider.Tracer("github.com/tandemhq/tandem/platform/providerhttp"),
		metrics:       newInstruments(o.MeterProvider),
		attrProvider:  attribute.String("tandem.provider", provider),
	}
}

// Do sends req, retrying as the package documentation describes, and
// returns the first response that is not retried. As with http.Client,
// the caller closes the response body, and req.Body is closed by Do.
//
// Errors: a *RetryAfterError (ErrRateLimited, ErrUnavailable) when the
// client gave up waiting; the context's error when it ended; otherwise the
// transport error, with any URL query removed.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	ctx, span := c.tracer.Start(req.Context(), c.provider+" "+req.Method,
		trace.WithAttributes(c.attrProvider, attribute.String("http.request.method", req.Method)))
	defer span.End()

	resp, attempts, err := c.do(ctx, req)
	span.SetAttributes(attribute.Int("tandem.provider.attempts", attempts))
	var ra *RetryAfterError
	switch {
	case errors.As(err, &ra):
		span.SetStatus(codes.Error, "gave up waiting to retry")
		span.SetAttributes(attribute.Float64("tandem.provider.retry_after_s", ra.RetryAfter.Seconds()))
	case err != nil:
		// A fixed text: the error may name hosts and paths.
		span.SetStatus(codes.Error, "request failed")
	case resp.StatusCode >= 400:
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	}
	return resp, err
}

// replay makes a request body available for every attempt.
type replay struct {
	first      io.ReadCloser // the body of the first attempt
	getBody    func() (io.ReadCloser, error)
	length     int64
	replayable bool
}

func (c *Client) prepareBody(req *http.Request) (replay, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return replay{first: req.Body, length: req.ContentLength, replayable: true}, nil
	case req.GetBody != nil:
		return replay{first: req.Body, getBody: req.GetBody, length: req.ContentLength, replayable: true}, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, c.maxReplayBody+1))
	if err != nil {
		_ = req.Body.Close() // the read error is the one to report
		return replay{}, fmt.Errorf("providerhttp: reading request body: %w", err)
	}
	if int64(len(buf)) > c.maxReplayBody {
		// Too big to hold in memory: send what was read and the rest,
		// once.
		rest := struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return replay{first: rest, length: req.ContentLength}, nil
	}
	// Everything was read; a body that fails to close has nothing left to
	// lose, and the request goes out from the copy.
	_ = req.Body.Close()
	get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return replay{first: io.NopCloser(bytes.NewReader(buf)), getBody: get, length: int64(len(buf)), replayable: true}, nil
}

func (c *Client) do(ctx context.Context, req *http.Request) (_ *http.Response, attempts int, _ error) {
	body, err := c.prepareBody(req)
	if err != nil {
		return nil, 0, err
	}
	// Until the first attempt takes the body, an early return must close
	// it, as http.Client would.
	defer func() {
		if attempts == 0 && body.first != nil {
			_ = body.first.Close() // unsent; the error that stopped it is returned
		}
	}()
	unknownOutcomeOK := body.replayable && retryableOnUnknownOutcome(req)
	key := keyFrom(ctx)

	for attempt := 1; ; attempt++ {
		if err := c.admit(ctx, key, attempt-1); err != nil {
			return nil, attempt - 1, err
		}
		release, err := c.acquire(ctx, key)
		if err != nil {
			return nil, attempt - 1, err
		}
		r := req.Clone(ctx)
		r.GetBody = body.getBody
		r.ContentLength = body.length
		if attempt == 1 {
			r.Body = body.first
		} else if body.getBody != nil {
			if r.Body, err = body.getBody(); err != nil {
				release()
				return nil, attempt - 1, fmt.Errorf("providerhttp: replaying request body: %w", err)
			}
		}
		attempts = attempt
		resp, err := c.hc.Do(r)
		// The concurrency slot is held until the response headers: that
		// is when the provider stops counting the request as running,
		// and holding it until the caller closes the body would let a
		// forgotten Close hold a slot forever.
		release()

		var (
			wait   time.Duration
			reason string
			status int
		)
		if err != nil {
			c.metrics.attempts.Add(ctx, 1, metric.WithAttributes(c.attrProvider, attribute.String("outcome", "error")))
			if ctx.Err() != nil {
				return nil, attempt, fmt.Errorf("providerhttp: %w", ctx.Err())
			}
			err = redactError(err)
			if !unknownOutcomeOK && (!body.replayable || !notSent(err)) {
				return nil, attempt, err
			}
			if attempt >= c.maxAttempts {
				return nil, attempt, fmt.Errorf("providerhttp: gave up after %d attempts: %w", attempt, err)
			}
			wait, reason = c.backoff.Delay(attempt-1, c.jitter), "transport_error"
			if c.pastDeadline(ctx, wait) {
				return nil, attempt, err
			}
			c.logger.DebugContext(ctx, "provider request failed, retrying",
				"provider", c.provider, "method", req.Method, "host", req.URL.Host,
				"attempt", attempt, "wait", wait, "error", err)
		} else {
			status = resp.StatusCode
			c.metrics.attempts.Add(ctx, 1, metric.WithAttributes(c.attrProvider, attribute.String("outcome", strconv.Itoa(status))))
			if !retryableStatus(status) {
				return resp, attempt, nil
			}
			ra, hasRA := ParseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
			// 429, and 503 with Retry-After, are deliberate refusals: the
			// provider did not process the request.
			refused := status == http.StatusTooManyRequests || (status == http.StatusServiceUnavailable && hasRA)
			if refused && hasRA && key != "" {
				c.pause(ctx, key, ra)
			}
			if !unknownOutcomeOK && (!body.replayable || !refused) {
				return resp, attempt, nil
			}
			if hasRA {
				// A little jitter on top of the provider's wait keeps the
				// requests it refused together from returning together.
				wait, reason = ra+time.Duration(c.jitter(int64(min(ra/10, c.backoff.Base))+1)), "retry_after"
			} else {
				wait, reason = c.backoff.Delay(attempt-1, c.jitter), "backoff"
			}
			if (hasRA && ra > c.maxRetryAfter) || attempt >= c.maxAttempts || c.pastDeadline(ctx, wait) {
				drain(resp)
				after := wait
				if hasRA {
					after = ra
				}
				return nil, attempt, &RetryAfterError{StatusCode: status, RetryAfter: after, Attempts: attempt}
			}
			drain(resp)
			c.logger.DebugContext(ctx, "provider asked to retry",
				"provider", c.provider, "method", req.Method, "host", req.URL.Host,
				"attempt", attempt, "status", status, "wait", wait, "retry_after_header", hasRA)
		}

		c.metrics.retries.Add(ctx, 1, metric.WithAttributes(c.attrProvider, attribute.String("reason", reason)))
		c.metrics.waits.Record(ctx, wait.Seconds(), metric.WithAttributes(c.attrProvider, attribute.String("reason", reason)))
		if err := c.clock.Sleep(ctx, wait); err != nil {
			return nil, attempt, fmt.Errorf("providerhttp: waiting to retry: %w", err)
		}
	}
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// pastDeadline reports whether waiting d would outlast ctx. The deadline
// is wall-clock time, so the real clock is used, not c.clock.
func (c *Client) pastDeadline(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < d
}

// admit waits out a pause of key (a provider's Retry-After) and then the
// shared rate limit of key. sent is how many requests went out so far, for
// the error.
func (c *Client) admit(ctx context.Context, key string, sent int) error {
	if key == "" {
		return nil
	}
	if d := c.pauses.remaining(key, c.clock.Now()); d > 0 {
		if d > c.maxRetryAfter || c.pastDeadline(ctx, d) {
			return &RetryAfterError{RetryAfter: d, Attempts: sent}
		}
		c.metrics.waits.Record(ctx, d.Seconds(), metric.WithAttributes(c.attrProvider, attribute.String("reason", "paused")))
		if err := c.clock.Sleep(ctx, d); err != nil {
			return fmt.Errorf("providerhttp: waiting out the provider's pause: %w", err)
		}
	}
	if c.limiter == nil {
		return nil
	}
	for {
		d, err := c.limiter.Allow(ctx, key)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("providerhttp: %w", ctx.Err())
			}
			c.logger.WarnContext(ctx, "rate limiter unavailable, sending without it",
				"provider", c.provider, "error", err)
			return nil
		}
		if d.Allowed {
			return nil
		}
		if d.RetryAfter > c.maxRetryAfter || c.pastDeadline(ctx, d.RetryAfter) {
			return &RetryAfterError{RetryAfter: d.RetryAfter, Attempts: sent}
		}
		c.metrics.waits.Record(ctx, d.RetryAfter.Seconds(), metric.WithAttributes(c.attrProvider, attribute.String("reason", "rate_limit")))
		if err := c.clock.Sleep(ctx, d.RetryAfter); err != nil {
			return fmt.Errorf("providerhttp: waiting for rate limit: %w", err)
		}
	}
}

func (c *Client) acquire(ctx context.Context, key string) (func(), error) {
	if c.sem == nil || key == "" {
		return func() {}, nil
	}
	release, err := c.sem.Acquire(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("providerhttp: waiting for a concurrency slot: %w", ctx.Err())
		}
		c.logger.WarnContext(ctx, "concurrency limiter unavailable, sending without it",
			"provider", c.provider, "error", err)
		return func() {}, nil
	}
	return release, nil
}

func (c *Client) pause(ctx context.Context, key string, d time.Duration) {
	c.pauses.pause(key, c.clock.Now(), d)
	p, ok := c.limiter.(pauser)
	if !ok {
		return
	}
	if err := p.Pause(ctx, key, d); err != nil && ctx.Err() == nil {
		c.logger.WarnContext(ctx, "could not share Retry-After with other replicas",
			"provider", c.provider, "error", err)
	}
}

// drain reads a little of a body we are discarding so the connection can
// be reused, then closes it.
// A failed read or close only costs the connection's reuse.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10) //nolint:errcheck // a failed read only costs the connection's reuse
	_ = resp.Body.Close()
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
