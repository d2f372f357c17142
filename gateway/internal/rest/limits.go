package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Defaults of the gateway's limits (ADR 11).
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultBodyTimeout  = 30 * time.Second
	DefaultWriteTimeout = 60 * time.Second
	DefaultIdleTimeout  = 120 * time.Second
	// DefaultRequestTimeout is below DefaultWriteTimeout, so the 504 a
	// request that ran out of time gets can still be written.
	DefaultRequestTimeout = 30 * time.Second
	// readHeaderTimeout bounds reading a request's line and headers.
	readHeaderTimeout = 10 * time.Second
	maxHeaderBytes    = 64 << 10
)

// RouteOption sets a plain route's own limits.
type RouteOption func(*routeLimits)

type routeLimits struct {
	maxBody        int64
	bodyTimeout    time.Duration
	requestTimeout time.Duration
	// stream: the handler reads the body itself, as it arrives (an
	// upload), instead of it being read into memory first.
	stream bool
	// when, if set, says which requests matching the pattern are the
	// route's; the others go on to the REST API.
	when func(*http.Request) bool
}

// BodyLimit sets the route's own cap on a request body (a webhook whose
// provider sends larger payloads).
func BodyLimit(n int64) RouteOption { return func(l *routeLimits) { l.maxBody = n } }

// BodyTimeout sets how long the route waits for a request's body.
func BodyTimeout(d time.Duration) RouteOption { return func(l *routeLimits) { l.bodyTimeout = d } }

// StreamBody lets the route's handler read the body as it arrives, for an
// upload too large to hold before the handler starts: the body is still
// capped at the route's limit (reading past it fails with
// *http.MaxBytesError, and a Content-Length over it is 413 before the
// handler runs) and must arrive within its body timeout. The route's
// request timeout then counts from the end of the headers, body included,
// and the response may be written until it has passed.
func StreamBody() RouteOption { return func(l *routeLimits) { l.stream = true } }

// When makes the route take only the requests match accepts; the others
// matching its pattern go on to the REST API. Go's patterns match whole
// path segments, so this is how a route serves a custom method
// ("/v1/files/{file}:download") beside an RPC's "/v1/files/{file}".
func When(match func(*http.Request) bool) RouteOption {
	return func(l *routeLimits) { l.when = match }
}

// RequestTimeout sets the route's own deadline, counted once its body has
// arrived.
func RequestTimeout(d time.Duration) RouteOption {
	return func(l *routeLimits) { l.requestTimeout = d }
}

// Server is the HTTP server for Handler, with its timeouts. Bodies are read
// under a per-route deadline (readBody) rather than the server's
// ReadTimeout, so a route can allow itself longer.
func (g *Gateway) Server() *http.Server {
	return &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      g.opts.WriteTimeout,
		IdleTimeout:       g.opts.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// readBody reads the whole request body, at most l.maxBody bytes within
// l.bodyTimeout, and puts it back in memory for the handler. It answers 413
// or 408 itself and then returns false. Reading it here, before any handler,
// keeps a slow or endless body from holding a handler and lets the read
// deadline be lifted once the body is in, since a read deadline still set
// while the handler runs would cancel its context.
func readBody(w http.ResponseWriter, r *http.Request, l routeLimits) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.ContentLength > l.maxBody {
		writeTooLarge(w, r, l.maxBody)
		return false
	}
	rc := http.NewResponseController(w)
	deadline := rc.SetReadDeadline(time.Now().Add(l.bodyTimeout)) == nil
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, l.maxBody))
	if deadline {
		_ = rc.SetReadDeadline(time.Time{}) //nolint:errcheck // cannot fail where setting it did not
	}
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		writeTooLarge(w, r, l.maxBody)
		return false
	case errors.As(err, &netErr) && netErr.Timeout():
		w.Header().Set("Connection", "close")
		writeDetail(r.Context(), w, ErrorDetail{Code: http.StatusRequestTimeout, Status: statusNames[codes.DeadlineExceeded],
			Message: "the request body did not arrive in time"})
		return false
	case err != nil:
		writeDetail(r.Context(), w, ErrorDetail{Code: http.StatusBadRequest, Status: statusNames[codes.InvalidArgument],
			Message: "the request body could not be read"})
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return true
}

// streamBody prepares a streamed route's body: the Content-Length check,
// the cap, a read deadline lifted once the body has been read to its end
// (a deadline left set would cancel the handler's context), and a write
// deadline that lets the response follow a long upload.
func streamBody(w http.ResponseWriter, r *http.Request, l routeLimits) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.ContentLength > l.maxBody {
		writeTooLarge(w, r, l.maxBody)
		return false
	}
	rc := http.NewResponseController(w)
	//nolint:errcheck // a ResponseWriter without deadlines (a test recorder) has no connection to hold
	_ = rc.SetWriteDeadline(time.Now().Add(l.requestTimeout + writeGrace))
	r.Body = &deadlineBody{ReadCloser: http.MaxBytesReader(w, r.Body, l.maxBody), rc: rc, set: rc.SetReadDeadline(time.Now().Add(l.bodyTimeout)) == nil}
	return true
}

// writeGrace is the time a streamed route's answer gets to be written
// after its request timeout, so a 504 can still go out.
const writeGrace = 5 * time.Second

// deadlineBody lifts the read deadline when the body ends.
type deadlineBody struct {
	io.ReadCloser
	rc  *http.ResponseController
	set bool
}

func (d *deadlineBody) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	if err != nil && d.set {
		d.set = false
		_ = d.rc.SetReadDeadline(time.Time{}) //nolint:errcheck // cannot fail where setting it did not
	}
	return n, err
}

// WriteErrorAs writes the error shape for st with an HTTP status other
// than its code's: 413 for a file over an upload's limit, which is the
// service's INVALID_ARGUMENT.
func WriteErrorAs(ctx context.Context, w http.ResponseWriter, st *status.Status, httpStatus int) {
	body := errorFromStatus(ctx, st)
	body.Error.Code = httpStatus
	if httpStatus == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close")
	}
	writeBody(w, body)
}

func writeTooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	w.Header().Set("Connection", "close")
	writeDetail(r.Context(), w, ErrorDetail{Code: http.StatusRequestEntityTooLarge, Status: statusNames[codes.InvalidArgument],
		Reason: "body_too_large", Message: fmt.Sprintf("the request body is larger than %d bytes", limit)})
}
