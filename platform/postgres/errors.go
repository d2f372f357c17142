package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnavailable is Postgres being out of reach: a connection refused,
// lost or terminated, the server shutting down or out of connections, a
// statement or connection timing out. Retrying later may succeed, so the
// edge answers Unavailable (503 over REST), never Internal.
var ErrUnavailable = errors.New("database unavailable")

// UnavailableMessage is what a client learns of it.
const UnavailableMessage = "the database is unavailable, try again"

// Unavailable reports whether err is Postgres being out of reach (see
// ErrUnavailable). A cancelled context is not: the caller left.
func Unavailable(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return unavailableState(pe.Code)
	}
	return deadConnection(err) || pgconn.SafeToRetry(err)
}

// unavailableState reports the SQLSTATEs of a server that cannot serve now.
func unavailableState(code string) bool {
	switch code {
	case "57P01", // admin_shutdown: the backend was terminated
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now: starting or shutting down
		"53300", // too_many_connections
		"57014": // query_canceled: statement_timeout
		return true
	}
	return len(code) == 5 && code[:2] == "08" // connection_exception
}

// deadConnection reports whether err says the connection was found dead:
// the server terminated it, or the socket was closed or reset. A statement
// that failed so was not executed, unless the server had run it already
// (which matters only for writes).
func deadConnection(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "57P01" || pe.Code == "57P02" || (len(pe.Code) == 5 && pe.Code[:2] == "08")
	}
	var ne *net.OpError
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne)
}
