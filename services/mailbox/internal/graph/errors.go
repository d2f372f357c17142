package graph

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind says what a caller can do about a failed Graph call.
type Kind int

const (
	// Temporary: a network error, a 5xx or a timeout; try again later,
	// with backoff.
	Temporary Kind = iota + 1
	// Throttled: Graph (429, 503 with Retry-After) or our own shared limit
	// refused the call; it was not processed. Try again after RetryAfter,
	// for this mailbox only.
	Throttled
	// Permanent: retrying the same request cannot help (a bad recipient,
	// a missing draft, a refused permission).
	Permanent
)

func (k Kind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case Throttled:
		return "throttled"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

var (
	// ErrNotFound is a 404: the message (or mailbox) is not there. The
	// *Error is Permanent.
	ErrNotFound = errors.New("graph: not found")
	// ErrUnexpectedResponse is an answer that is not Graph's JSON.
	ErrUnexpectedResponse = errors.New("graph: unexpected response")
	// ErrNoToken wraps the TokenSource's failure: no access token for the
	// mailbox (the caller looks at the cause: a connection that needs
	// reconnecting, or identity not answering).
	ErrNoToken = errors.New("graph: no access token for the mailbox")
)

// Error is a Graph call that failed. Its text names the operation, the
// HTTP status, Graph's error code and request id; never Graph's message,
// which can quote addresses and subjects, and never a body.
type Error struct {
	// Op is the client method that failed ("createDraft", "send", ...).
	Op   string
	Kind Kind
	// StatusCode is the HTTP status, or 0 when none came back.
	StatusCode int
	// Code is Graph's error code (ErrorInvalidRecipients, TooManyRequests).
	Code string
	// RequestID finds the request in Microsoft's logs.
	RequestID string
	// RetryAfter is, when Throttled, how long Graph asked us to wait.
	RetryAfter time.Duration
	// OutcomeUnknown is true when the request may have been processed
	// although no success came back: a timeout, a reset connection, a 502
	// or 504 after a POST. A send in this state may have left.
	OutcomeUnknown bool
	// Err is the underlying cause, when there is one (a transport error
	// with the URL's query removed, ErrNotFound).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: %s: %s", e.Op, e.Kind)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.StatusCode)
		if e.Code != "" {
			fmt.Fprintf(&b, " %s", e.Code)
		}
		b.WriteString(")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	if e.OutcomeUnknown {
		b.WriteString(", outcome unknown")
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " request-id=%s", e.RequestID)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether retrying cannot help.
func (e *Error) Permanent() bool { return e.Kind == Permanent }

// Temporary reports whether a later retry may work.
func (e *Error) Temporary() bool { return e.Kind == Temporary || e.Kind == Throttled }

// Throttled reports whether Graph or our limits refused the call for now.
func (e *Error) Throttled() bool { return e.Kind == Throttled }

// Reason is a short, stable explanation for people; it never contains
// Graph's text.
func (e *Error) Reason() string {
	if r, ok := codeReasons[e.Code]; ok {
		return r
	}
	switch {
	case e.Kind == Throttled:
		return "Microsoft asked to slow down"
	case e.StatusCode == 401:
		return "Microsoft did not accept the mailbox's token"
	case e.StatusCode == 403:
		return "the mailbox did not grant the permission this needs"
	case e.StatusCode == 404:
		return "the message is not in the mailbox"
	case e.Kind == Temporary:
		return "Microsoft is temporarily unavailable"
	}
	return "Microsoft refused the request"
}

var codeReasons = map[string]string{
	"ErrorInvalidRecipients":            "a recipient's address is not valid",
	"ErrorInvalidInternetMessageHeader": "a message header is not valid",
	"ErrorMessageSizeExceeded":          "the message is too large",
	"ErrorAccessDenied":                 "the mailbox did not grant the permission this needs",
	"ErrorQuotaExceeded":                "the mailbox is full",
	"ErrorSendAsDenied":                 "the mailbox may not send as this address",
	"ErrorInvalidOperation":             "the message can no longer be sent",
	"ErrorItemNotFound":                 "the message is not in the mailbox",
}

// AsError returns err's *Error, if it has one.
func AsError(err error) (*Error, bool) {
	var ge *Error
	ok := errors.As(err, &ge)
	return ge, ok
}
