// Package apperr holds the error kinds that domain code returns and that the
// gRPC edge turns into a status with a public message. Domain packages define
// their own sentinels and wrap them with these kinds, so the edge never has to
// know every package's errors, and no driver or provider text reaches a client.
package apperr

import "errors"

// Kind is the class of an error as a client sees it.
type Kind int

// The kinds, each mapped to one gRPC code at the edge. KindInternal, the
// zero value, is what an unclassified error is.
const (
	KindInternal Kind = iota
	KindInvalidArgument
	KindNotFound
	KindAlreadyExists
	KindPermissionDenied
	KindUnauthenticated
	KindFailedPrecondition
	KindUnavailable
	KindResourceExhausted
	KindAborted
)

func (k Kind) String() string {
	switch k {
	case KindInvalidArgument:
		return "invalid_argument"
	case KindNotFound:
		return "not_found"
	case KindAlreadyExists:
		return "already_exists"
	case KindPermissionDenied:
		return "permission_denied"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindFailedPrecondition:
		return "failed_precondition"
	case KindUnavailable:
		return "unavailable"
	case KindResourceExhausted:
		return "resource_exhausted"
	case KindAborted:
		return "aborted"
	default:
		return "internal"
	}
}

// Error is an error with a kind and a message that is safe to show a client.
// Cause, if any, is for logs only.
type Error struct {
	Kind   Kind
	Public string
	Field  string // for KindInvalidArgument: the offending request field
	Reason string // a stable machine-readable reason, e.g. "admin_approval_required"
	// Metadata are facts a client acts on, with a Reason: for
	// "candidate_exists", the existing candidate's id. Values are public.
	Metadata map[string]string
	Cause    error
}

func (e *Error) Error() string {
	msg := e.Kind.String() + ": " + e.Public
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Cause }

// Is lets errors.Is match on kind: errors.Is(err, apperr.NotFound) style checks
// through the package-level kind sentinels below.
func (e *Error) Is(target error) bool {
	var k *kindSentinel
	if errors.As(target, &k) {
		return k.kind == e.Kind
	}
	return false
}

type kindSentinel struct{ kind Kind }

func (k *kindSentinel) Error() string { return k.kind.String() }

// Sentinels for errors.Is checks against a kind.
var (
	ErrInvalidArgument    error = &kindSentinel{KindInvalidArgument}
	ErrNotFound           error = &kindSentinel{KindNotFound}
	ErrAlreadyExists      error = &kindSentinel{KindAlreadyExists}
	ErrPermissionDenied   error = &kindSentinel{KindPermissionDenied}
	ErrUnauthenticated    error = &kindSentinel{KindUnauthenticated}
	ErrFailedPrecondition error = &kindSentinel{KindFailedPrecondition}
	ErrUnavailable        error = &kindSentinel{KindUnavailable}
)

// InvalidArgument reports a bad request field and why.
func InvalidArgument(field, reason string) *Error {
	return &Error{Kind: KindInvalidArgument, Field: field, Public: reason}
}

// NotFound reports that what was asked for does not exist for this caller.
// Objects of another organization are reported the same way.
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Public: what + " not found"}
}

// AlreadyExists reports a conflict with an existing object.
func AlreadyExists(what string) *Error {
	return &Error{Kind: KindAlreadyExists, Public: what + " already exists"}
}

// PermissionDenied reports that the caller may not do this.
func PermissionDenied(msg string) *Error {
	return &Error{Kind: KindPermissionDenied, Public: msg}
}

// Unauthenticated reports a missing or invalid credential.
func Unauthenticated(msg string) *Error {
	return &Error{Kind: KindUnauthenticated, Public: msg}
}

// FailedPrecondition reports that the system is not in a state to do this,
// with a machine-readable reason.
func FailedPrecondition(reason, msg string) *Error {
	return &Error{Kind: KindFailedPrecondition, Reason: reason, Public: msg}
}

// Unavailable reports a transient failure the caller may retry.
func Unavailable(msg string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Public: msg, Cause: cause}
}

// Wrap attaches a cause (for logs) to e and returns it.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}
