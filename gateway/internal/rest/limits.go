package rest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
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
}

// BodyLimit sets the route's own cap on a request body (a webhook whose
// provider sends larger payloads).
func BodyLimit(n int64) RouteOption { return func(l *routeLimits) { l.maxBody = n } }

// BodyTimeout sets how long the route waits for a request's body.
func BodyTimeout(d time.Duration) RouteOption { return func(l *routeLimits) { l.bodyTimeout = d } }

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

func writeTooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	w.Header().Set("Connection", "close")
	writeDetail(r.Context(), w, ErrorDetail{Code: http.StatusRequestEntityTooLarge, Status: statusNames[codes.InvalidArgument],
		Reason: "body_too_large", Message: fmt.Sprintf("the request body is larger than %d bytes", limit)})
}
