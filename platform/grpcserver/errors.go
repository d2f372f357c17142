package grpcserver

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// SQLSTATEs of text Postgres refuses to store.
const (
	pgInvalidByteSequence     = "22021" // character_not_in_repertoire: a NUL, or bytes not of the encoding
	pgUntranslatableCharacter = "22P05" // untranslatable_character
)

// InternalMessage is all a client learns of an unexpected error.
const InternalMessage = "internal error"

// UnavailableMessage is what a client learns of a dependency out of reach
// whose error was not mapped before it reached the edge.
const UnavailableMessage = "temporarily unavailable, try again"

// ErrorDomain names this system in google.rpc.ErrorInfo details.
const ErrorDomain = "tandem"

var kindCodes = map[apperr.Kind]codes.Code{
	apperr.KindInvalidArgument:    codes.InvalidArgument,
	apperr.KindNotFound:           codes.NotFound,
	apperr.KindAlreadyExists:      codes.AlreadyExists,
	apperr.KindPermissionDenied:   codes.PermissionDenied,
	apperr.KindUnauthenticated:    codes.Unauthenticated,
	apperr.KindFailedPrecondition: codes.FailedPrecondition,
	apperr.KindUnavailable:        codes.Unavailable,
	apperr.KindResourceExhausted:  codes.ResourceExhausted,
	apperr.KindAborted:            codes.Aborted,
}

// ToStatus maps an error from a handler to the status a client sees. The
// second result says whether the error was unexpected, i.e. masked as
// Internal, so its cause must go to the log.
func ToStatus(err error) (*status.Status, bool) {
	if err == nil {
		return status.New(codes.OK, ""), false
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		code, ok := kindCodes[ae.Kind]
		if !ok {
			return status.New(codes.Internal, InternalMessage), true
		}
		st := status.New(code, ae.Public)
		var details []protoadapt.MessageV1
		if ae.Field != "" {
			details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: ae.Field, Description: ae.Public}}})
		}
		if ae.Reason != "" {
			details = append(details, &errdetails.ErrorInfo{Reason: ae.Reason, Domain: ErrorDomain, Metadata: ae.Metadata})
		}
		if len(details) > 0 {
			if withDetails, derr := st.WithDetails(details...); derr == nil {
				st = withDetails
			}
		}
		return st, code == codes.Unavailable && ae.Cause != nil
	}
	// A second line behind the request checks: text Postgres cannot store
	// (a NUL, bytes that are not UTF-8) is the client's, not ours. The
	// driver's message quotes the input, so it is not passed on.
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == pgInvalidByteSequence || pgErr.Code == pgUntranslatableCharacter) {
		return status.New(codes.InvalidArgument, "the request contains text that cannot be stored (a NUL character or invalid UTF-8)"), false
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "request canceled"), false
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, "deadline exceeded"), false
	}
	// Postgres (or the network) out of reach, from code that returned the
	// driver's error as it was: retryable, never Internal.
	if postgres.Unavailable(err) {
		return status.New(codes.Unavailable, UnavailableMessage), true
	}
	// A status from a library (grpc itself, a client of another Tandem service)
	// keeps its code unless it is one that could carry internal text.
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unknown, codes.Internal, codes.DataLoss:
		default:
			return st, false
		}
	}
	return status.New(codes.Internal, InternalMessage), true
}

// logError records the cause of an unexpected error; it never reaches the
// client.
func logError(ctx context.Context, log *slog.Logger, method string, err error) {
	log.ErrorContext(ctx, "request failed", slog.String("method", method), slog.Any("error", err))
}
