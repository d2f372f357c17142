package webhooks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/gateway/internal/rest"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
)

// Lever's webhook route and our limits (providers.md §2.5).
const (
	// LeverPattern receives a connection's deliveries; atsbridge registers
	// <base>/webhooks/lever/<connection id> at Lever.
	LeverPattern = "POST /webhooks/lever/{connection}"
	// MaxLeverBody caps a delivery: Lever's are well under a kilobyte.
	MaxLeverBody = 64 << 10
	// leverBudget bounds a delivery here: atsbridge stores it and answers,
	// the work is done by a job afterwards.
	leverBudget      = 5 * time.Second
	leverBodyTimeout = time.Second
)

// LeverDeliveries is what the route needs of atsbridge.
type LeverDeliveries interface {
	ReceiveLeverWebhook(ctx context.Context, in *atsbridgev1.ReceiveLeverWebhookRequest, opts ...grpc.CallOption) (*atsbridgev1.ReceiveLeverWebhookResponse, error)
}

// Lever serves Lever's webhook deliveries. The gateway checks nothing of
// the body but its size: atsbridge verifies the signature on these very
// bytes, with the webhook's token only it holds.
type Lever struct {
	AtsBridge LeverDeliveries
	// Internal is the call option that authenticates the gateway as a
	// Tandem service.
	Internal grpc.CallOption
	Log      *slog.Logger
}

// Register adds the route with its own body cap and deadline.
func (l *Lever) Register(gw *rest.Gateway) {
	gw.HandlePlain(LeverPattern, l, rest.BodyLimit(MaxLeverBody), rest.BodyTimeout(leverBodyTimeout), rest.RequestTimeout(leverBudget))
}

// ServeHTTP hands the raw delivery to atsbridge: 200 once stored (or
// recognised as a replay), 401 for a signature that does not hold, 404 for
// an unknown connection, 400 for a body that is not a delivery, 503 when
// atsbridge cannot take it now (Lever delivers again).
func (l *Lever) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	ctx := r.Context()
	start := time.Now()
	conn := r.PathValue("connection")
	var body []byte
	var err error
	if r.Body != nil {
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxLeverBody+1))
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || len(body) > MaxLeverBody {
		rest.WriteErrorAs(ctx, w, status.New(codes.InvalidArgument, "the delivery is too large"), http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil || len(body) == 0 {
		rest.WriteInvalid(ctx, w, "body", "could not be read")
		return
	}
	var opts []grpc.CallOption
	if l.Internal != nil {
		opts = append(opts, l.Internal)
	}
	resp, err := l.AtsBridge.ReceiveLeverWebhook(ctx, &atsbridgev1.ReceiveLeverWebhookRequest{ConnectionId: conn, Body: body}, opts...)
	if err != nil {
		st := status.Convert(err)
		switch st.Code() {
		case codes.NotFound, codes.Unauthenticated, codes.InvalidArgument:
			l.Log.WarnContext(ctx, "lever webhook: refused", slog.String("code", st.Code().String()), slog.Int("body_bytes", len(body)))
			rest.WriteError(ctx, w, status.New(st.Code(), st.Message()))
		default:
			l.Log.ErrorContext(ctx, "lever webhook: atsbridge did not take the delivery", slog.Any("error", err), slog.Duration("took", time.Since(start)))
			rest.WriteError(ctx, w, status.New(codes.Unavailable, "the delivery could not be taken now; deliver it again"))
		}
		return
	}
	l.Log.DebugContext(ctx, "lever webhook: taken", slog.String("outcome", resp.GetOutcome()), slog.Duration("took", time.Since(start)))
	w.WriteHeader(http.StatusOK)
}
