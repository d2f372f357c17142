package rest

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorBody is the one JSON error shape every REST client sees, whatever went
// wrong: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes one error.
type ErrorDetail struct {
	// Code is the HTTP status.
	Code int `json:"code"`
	// Status is the gRPC code name, e.g. "NOT_FOUND".
	Status string `json:"status"`
	// Message is safe to show a user.
	Message string `json:"message"`
	// Reason is a stable machine-readable reason, when there is one.
	Reason string `json:"reason,omitempty"`
	// Metadata are the facts that come with Reason (candidate_id for
	// candidate_exists).
	Metadata map[string]string `json:"metadata,omitempty"`
	// Fields names the request fields that were wrong, and why.
	Fields []FieldViolation `json:"fields,omitempty"`
	// TraceID lets support find the request in traces and logs.
	TraceID string `json:"trace_id,omitempty"`
}

// FieldViolation is one bad request field.
type FieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// internalMessage is what a REST client learns of an unexpected error.
const internalMessage = "internal error"

// statusNames are the canonical upper-snake names of gRPC codes.
var statusNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// errorFromStatus builds the public error for a gRPC status. Codes that may
// carry internal text (Unknown, Internal, DataLoss) get a fixed message: the
// services mask their own errors already, and this guards against anything
// between them and the gateway (a proxy, a library) that does not.
func errorFromStatus(ctx context.Context, st *status.Status) ErrorBody {
	code := st.Code()
	d := ErrorDetail{Code: runtime.HTTPStatusFromCode(code), Status: statusNames[code], Message: st.Message()}
	switch code {
	case codes.Unknown, codes.Internal, codes.DataLoss:
		d.Code, d.Status, d.Message = http.StatusInternalServerError, statusNames[codes.Internal], internalMessage
	case codes.Unavailable:
		// Connection errors from the gateway's own client describe the network.
		d.Message = "service unavailable, try again"
	default:
		for _, det := range st.Details() {
			switch v := det.(type) {
			case *errdetails.BadRequest:
				for _, fv := range v.GetFieldViolations() {
					d.Fields = append(d.Fields, FieldViolation{Field: fv.GetField(), Description: fv.GetDescription()})
				}
			case *errdetails.ErrorInfo:
				d.Reason = v.GetReason()
				if len(v.GetMetadata()) > 0 {
					d.Metadata = v.GetMetadata()
				}
			}
		}
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		d.TraceID = sc.TraceID().String()
	}
	return ErrorBody{Error: d}
}

// WriteError writes the error shape for st.
func WriteError(ctx context.Context, w http.ResponseWriter, st *status.Status) {
	writeBody(w, errorFromStatus(ctx, st))
}

// WriteInvalid writes a 400 naming a bad request field, for plain routes.
func WriteInvalid(ctx context.Context, w http.ResponseWriter, field, description string) {
	writeDetail(ctx, w, requestError{Field: field, Description: description}.detail())
}

// writeDetail writes an error the gateway itself decided on, whose HTTP
// status need not follow from a gRPC code (413, 408).
func writeDetail(ctx context.Context, w http.ResponseWriter, d ErrorDetail) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		d.TraceID = sc.TraceID().String()
	}
	writeBody(w, ErrorBody{Error: d})
}

func writeBody(w http.ResponseWriter, body ErrorBody) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(body.Error.Code)
	_ = json.NewEncoder(w).Encode(body) //nolint:errcheck // ErrorBody always encodes; a failed write means the client has gone
}

// handleError is grpc-gateway's error hook. An InvalidArgument from a
// request no service saw is the gateway's own decoding failure: it is told
// in Tandem's words (decode.go), never the library's. A masked error's
// cause goes to the log.
func (g *Gateway) handleError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	if st.Code() == codes.InvalidArgument && decodedLocally(ctx) {
		e, ok := parseRequestError(st.Message())
		if !ok {
			e = requestError{Description: invalidRequest}
		}
		writeDetail(ctx, w, e.detail())
		return
	}
	switch st.Code() {
	case codes.Unknown, codes.Internal, codes.DataLoss:
		method, _ := runtime.RPCMethod(ctx)
		g.log.ErrorContext(ctx, "request failed", slog.String("path", r.URL.Path), slog.String("method", method),
			slog.String("code", st.Code().String()), slog.Any("error", err))
	}
	WriteError(ctx, w, st)
}

// handleRoutingError keeps 404 and 405 from the router in the same shape.
func handleRoutingError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, _ *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusNotFound:
		WriteError(ctx, w, status.New(codes.NotFound, "no such route"))
	case http.StatusMethodNotAllowed:
		writeDetail(ctx, w, ErrorDetail{Code: http.StatusMethodNotAllowed, Status: statusNames[codes.Unimplemented], Message: "method not allowed"})
	default:
		WriteError(ctx, w, status.New(codes.InvalidArgument, "bad request"))
	}
}
