package providerhttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

var (
	// ErrRateLimited means a provider (429) or our own shared limiter
	// refused the request for now. The error is a *RetryAfterError.
	ErrRateLimited = errors.New("providerhttp: rate limited")
	// ErrUnavailable means the provider kept answering 502, 503 or 504.
	// The error is a *RetryAfterError.
	ErrUnavailable = errors.New("providerhttp: provider unavailable")
)

// RetryAfterError is returned instead of waiting when the wait is longer
// than the client will block for (Options.MaxRetryAfter, or the context's
// deadline), or when the attempts ran out on a retryable status. A durable
// job reschedules itself RetryAfter from now:
//
//	var ra *providerhttp.RetryAfterError
//	if errors.As(err, &ra) { return river.JobSnooze(ra.RetryAfter) }
//
// The provider's response has been read and closed.
type RetryAfterError struct {
	// StatusCode is the provider's last status, or 0 when our own limiter
	// refused before anything was sent.
	StatusCode int
	// RetryAfter is the provider's Retry-After when it sent one, otherwise
	// the backoff the client would have waited.
	RetryAfter time.Duration
	// Attempts is how many requests were sent.
	Attempts int
}

func (e *RetryAfterError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("providerhttp: rate limit for this connection reached, retry after %s", e.RetryAfter)
	}
	return fmt.Sprintf("providerhttp: provider answered %d after %d attempts, retry after %s", e.StatusCode, e.Attempts, e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrRateLimited) or ErrUnavailable work.
func (e *RetryAfterError) Unwrap() error {
	if e.StatusCode == 0 || e.StatusCode == http.StatusTooManyRequests {
		return ErrRateLimited
	}
	return ErrUnavailable
}

type ctxKey int

const (
	keyLimitKey ctxKey = iota
	keyRetrySafe
)

// WithKey names what the provider limits this request by (a connection
// id, a mailbox id): the shared rate limiter and concurrency semaphore are
// per key. A provider client for one mailbox sets it once on the context
// it passes down. Requests without a key are not limited on our side.
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyLimitKey, key)
}

func keyFrom(ctx context.Context) string {
	k, _ := ctx.Value(keyLimitKey).(string)
	return k
}

// RetrySafe marks a non-idempotent request (POST, PATCH) as safe to send
// again after a failure whose outcome is unknown (a timeout, a 502, a
// reset connection): the caller knows a duplicate is harmless, e.g.
// because the provider de-duplicates it, or because it is a search that
// Ashby happens to expose as POST. Never mark a send or a create that
// would be duplicated.
//
// A request with an Idempotency-Key or X-Idempotency-Key header is safe
// without this mark.
func RetrySafe(req *http.Request) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), keyRetrySafe, true))
}

// retryableOnUnknownOutcome reports whether req may be sent again when we
// cannot tell whether the provider processed it.
func retryableOnUnknownOutcome(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if safe, _ := req.Context().Value(keyRetrySafe).(bool); safe {
		return true
	}
	// The same convention as net/http's Transport.
	_, ok := req.Header["Idempotency-Key"]
	if !ok {
		_, ok = req.Header["X-Idempotency-Key"]
	}
	return ok
}

// notSent reports whether a transport error proves the request never left:
// the connection was never made, so even a POST may be sent again.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// redactURL drops credentials, query and fragment, which may carry
// tokens, codes or personal data, before a URL goes into an error, a log
// line or a span.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	u.User = nil
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery = ""
		u.ForceQuery = true // keep the "?" so readers see something was cut
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// redactError rewrites the URL inside the *url.Error that http.Client
// returns, keeping the chain (errors.Is still sees context.Canceled or a
// *net.OpError).
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
	}
	return err
}

// HTTPClient is c as an *http.Client, for libraries that take one (go-oidc's
// key set): every request, and every redirect it follows, goes through Do
// with its retries, limits and telemetry.
func (c *Client) HTTPClient() *http.Client { return &http.Client{Transport: roundTripper{c}} }

type roundTripper struct{ c *Client }

// RoundTrip implements http.RoundTripper. Do closes the request body, as a
// RoundTripper must, and clones the request for each attempt rather than
// changing it.
func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return t.c.Do(req) }
