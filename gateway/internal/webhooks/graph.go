// Package webhooks is the gateway's webhook ingress: provider callbacks
// that are read here, checked as far as the gateway can, and handed to the
// service that owns them over an internal RPC.
package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tandemhq/tandem/gateway/internal/rest"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
)

// Graph's limits and ours for /webhooks/graph.
const (
	// GraphPath receives change notifications; GraphLifecyclePath lifecycle
	// notifications. Mailbox builds its subscriptions' URLs from them.
	GraphPath          = "/webhooks/graph"
	GraphLifecyclePath = "/webhooks/graph/lifecycle"
	// MaxGraphBody caps a notification POST. Basic notifications are about
	// 600 bytes each and Graph batches a few hundred at most.
	MaxGraphBody = 1 << 20
	// MaxGraphNotifications caps the notifications of one POST.
	MaxGraphNotifications = 1000
	// MaxValidationToken caps the token echoed in a validation answer.
	// Graph's are about 120 characters.
	MaxValidationToken = 512
	// graphBudget is how long a notification POST may take here: Graph
	// wants 2xx within 3 s and throttles endpoints slower than 2.9 s, so
	// mailbox gets what is left after the body arrived, within this.
	graphBudget      = 2500 * time.Millisecond
	graphBodyTimeout = time.Second
)

// GraphNotifications is what the route needs of mailbox.
type GraphNotifications interface {
	AcceptNotifications(ctx context.Context, in *mailboxv1.AcceptNotificationsRequest, opts ...grpc.CallOption) (*mailboxv1.AcceptNotificationsResponse, error)
}

// Graph serves Microsoft Graph's change and lifecycle notifications.
type Graph struct {
	Mailbox GraphNotifications
	// Internal is the call option that authenticates the gateway as a
	// Tandem service.
	Internal grpc.CallOption
	Log      *slog.Logger
}

// Register adds the routes to the gateway, each with its own body cap and
// a deadline inside Graph's.
func (g *Graph) Register(gw *rest.Gateway) {
	opts := []rest.RouteOption{rest.BodyLimit(MaxGraphBody), rest.BodyTimeout(graphBodyTimeout), rest.RequestTimeout(graphBudget)}
	gw.HandlePlain("POST "+GraphPath, g, opts...)
	gw.HandlePlain("POST "+GraphLifecyclePath, g, opts...)
}

// ServeHTTP answers a validation handshake or takes a notification POST.
func (g *Graph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Nothing here is for browsers: never let one sniff an answer as HTML.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Query().Has("validationToken") {
		g.validate(w, r)
		return
	}
	g.notifications(w, r)
}

// validate echoes the handshake's token, URL-decoded (the query parser
// did that), as the whole text/plain body. Graph's request has no body; one
// that has a body, or a token that is not what Graph sends, is refused with
// nothing echoed, so the route cannot be used to reflect content.
func (g *Graph) validate(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("validationToken")
	body, err := readAll(r)
	if err != nil || len(body) != 0 || !saneToken(token) || len(r.URL.Query()["validationToken"]) != 1 {
		g.Log.WarnContext(r.Context(), "graph webhook: refused a validation request", slog.Int("body_bytes", len(body)), slog.Int("token_bytes", len(token)))
		rest.WriteInvalid(r.Context(), w, "validationToken", "is not a validation request")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(token))
}

// saneToken admits what Graph's tokens are made of: letters, digits,
// spaces and a little punctuation, at most MaxValidationToken bytes.
func saneToken(t string) bool {
	if t == "" || len(t) > MaxValidationToken {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case bytes.IndexByte([]byte(" :-._~+/=,()"), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// graphNotification is one item of a POST's value array: a change
// notification, or a lifecycle notification (lifecycleEvent set).
type graphNotification struct {
	SubscriptionID                 string `json:"subscriptionId"`
	SubscriptionExpirationDateTime string `json:"subscriptionExpirationDateTime"`
	ClientState                    string `json:"clientState"`
	ChangeType                     string `json:"changeType"`
	TenantID                       string `json:"tenantId"`
	LifecycleEvent                 string `json:"lifecycleEvent"`
	ResourceData                   struct {
		ID string `json:"id"`
	} `json:"resourceData"`
}

// notifications reads the collection, hands it to mailbox and answers 202
// once mailbox has stored it, or 503 so Graph delivers it again.
func (g *Graph) notifications(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := r.Context()
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		rest.WriteInvalid(ctx, w, "Content-Type", "must be application/json")
		return
	}
	body, err := readAll(r)
	if err != nil {
		rest.WriteInvalid(ctx, w, "body", "could not be read")
		return
	}
	var in struct {
		Value []graphNotification `json:"value"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Value == nil || len(in.Value) > MaxGraphNotifications {
		g.Log.WarnContext(ctx, "graph webhook: unreadable notification collection", slog.Int("body_bytes", len(body)))
		rest.WriteInvalid(ctx, w, "value", fmt.Sprintf("must be a JSON collection of at most %d notifications", MaxGraphNotifications))
		return
	}
	req := &mailboxv1.AcceptNotificationsRequest{}
	skipped := 0
	for _, n := range in.Value {
		if n.SubscriptionID == "" || len(n.SubscriptionID) > 128 || len(n.ClientState) > 256 || len(n.ResourceData.ID) > 512 ||
			(n.LifecycleEvent == "" && n.ResourceData.ID == "") {
			skipped++
			continue
		}
		pn := &mailboxv1.GraphNotification{
			SubscriptionId: n.SubscriptionID, ClientState: n.ClientState, ChangeType: n.ChangeType,
			ResourceId: n.ResourceData.ID, LifecycleEvent: n.LifecycleEvent, TenantId: n.TenantID,
		}
		if t, err := time.Parse(time.RFC3339Nano, n.SubscriptionExpirationDateTime); err == nil {
			pn.SubscriptionExpireTime = timestamppb.New(t)
		}
		req.Notifications = append(req.Notifications, pn)
	}
	accepted, rejected := 0, skipped
	if len(req.GetNotifications()) > 0 {
		var opts []grpc.CallOption
		if g.Internal != nil {
			opts = append(opts, g.Internal)
		}
		resp, err := g.Mailbox.AcceptNotifications(ctx, req, opts...)
		if err != nil {
			// Graph retries a 5xx for hours; nothing is lost.
			g.Log.ErrorContext(ctx, "graph webhook: mailbox did not take the notifications", slog.Any("error", err),
				slog.Int("notifications", len(req.GetNotifications())), slog.Duration("took", time.Since(start)))
			rest.WriteError(ctx, w, status.New(codes.Unavailable, "the notifications could not be taken now; deliver them again"))
			return
		}
		accepted, rejected = int(resp.GetAccepted()), rejected+int(resp.GetRejected())
	}
	if rejected > 0 {
		g.Log.WarnContext(ctx, "graph webhook: notifications ignored", slog.Int("ignored", rejected), slog.Int("accepted", accepted))
	}
	g.Log.DebugContext(ctx, "graph webhook: notifications accepted", slog.Int("accepted", accepted), slog.Duration("took", time.Since(start)))
	w.WriteHeader(http.StatusAccepted)
}

// readAll reads the body the gateway has already read into memory, within
// the route's cap.
func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(io.LimitReader(r.Body, MaxGraphBody+1))
}
