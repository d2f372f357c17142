// Package rest is Tandem's REST gateway: grpc-gateway handlers that call each
// service over the network (so every interceptor runs), plain HTTP routes for
// OAuth redirects and webhooks, health and readiness, and the merged OpenAPI
// document.
package rest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/rs/cors"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tandemhq/tandem/platform/grpcclient"
)

// Upstream is one service the gateway talks to.
type Upstream struct {
	// Name is the service's name, as /readyz reports it.
	Name string
	// Addr is its gRPC host:port.
	Addr string
	// Register installs the service's generated REST handlers on mux, calling
	// conn. Nil for a service that has no REST routes yet.
	Register func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error
}

// ForwardedHeaders are the only request headers passed to services, as gRPC
// metadata, besides Authorization, which grpc-gateway always forwards.
// Everything else a client sends stays at the gateway.
var ForwardedHeaders = []string{"X-Request-Id", "Idempotency-Key", "Accept-Language"}

// ReturnedMetadata are the only response metadata keys passed back to clients.
var ReturnedMetadata = []string{"x-request-id"}

// Options configures the gateway.
type Options struct {
	Upstreams []Upstream
	// OpenAPI is the merged OpenAPI document served at /openapi.json.
	OpenAPI []byte
	Logger  *slog.Logger
	// ReadyTimeout bounds each upstream's health check in /readyz.
	ReadyTimeout time.Duration
	// CORSOrigins are the browser origins (scheme://host[:port]) whose
	// pages may call the API; empty allows none but the gateway's own.
	CORSOrigins []string
	// MaxBodyBytes caps every request body (DefaultMaxBodyBytes); a plain
	// route may set its own with BodyLimit.
	MaxBodyBytes int64
	// BodyTimeout bounds reading a request's body (DefaultBodyTimeout); a
	// plain route may set its own with BodyTimeout.
	BodyTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its response; IdleTimeout bounds a kept-alive connection between
	// requests. Both are Server's (DefaultWriteTimeout, DefaultIdleTimeout).
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// RequestTimeout is every route's deadline once its body has arrived
	// (DefaultRequestTimeout); it travels with the gRPC calls, so a hung
	// dependency answers 504 then. A plain route may set its own with
	// RequestTimeout. Keep it below WriteTimeout, or the 504 cannot be
	// written.
	RequestTimeout time.Duration
}

// Gateway is the REST front of Tandem.
type Gateway struct {
	opts  Options
	log   *slog.Logger
	conns map[string]*grpc.ClientConn
	grpc  *runtime.ServeMux
	plain *http.ServeMux
	// limits are the default body limits; routes, a plain route's own.
	limits routeLimits
	routes map[string]routeLimits
	once   sync.Once
	h      http.Handler
	// draining is set when the process is stopping: /readyz answers 503 so
	// load balancers stop sending requests before the server closes.
	draining atomic.Bool
}

// New dials every upstream (lazily: a service that is down now is found when
// it comes up) and registers its REST handlers.
func New(ctx context.Context, opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = time.Second
	}
	opts.MaxBodyBytes = cmp.Or(opts.MaxBodyBytes, DefaultMaxBodyBytes)
	opts.BodyTimeout = cmp.Or(opts.BodyTimeout, DefaultBodyTimeout)
	opts.WriteTimeout = cmp.Or(opts.WriteTimeout, DefaultWriteTimeout)
	opts.IdleTimeout = cmp.Or(opts.IdleTimeout, DefaultIdleTimeout)
	opts.RequestTimeout = cmp.Or(opts.RequestTimeout, DefaultRequestTimeout)
	g := &Gateway{opts: opts, log: opts.Logger, conns: map[string]*grpc.ClientConn{}, plain: http.NewServeMux(),
		limits: routeLimits{maxBody: opts.MaxBodyBytes, bodyTimeout: opts.BodyTimeout, requestTimeout: opts.RequestTimeout},
		routes: map[string]routeLimits{}}
	g.grpc = runtime.NewServeMux(
		runtime.WithErrorHandler(g.handleError),
		runtime.WithRoutingErrorHandler(handleRoutingError),
		runtime.WithIncomingHeaderMatcher(allowHeaders(ForwardedHeaders)),
		runtime.WithOutgoingHeaderMatcher(allowMetadata(ReturnedMetadata)),
		runtime.WithOutgoingTrailerMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &jsonMarshaler{runtime.JSONPb{
			MarshalOptions:   responseJSON,
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		runtime.WithMiddlewares(validPathParams),
		// grpc-gateway keeps the query parser in a package variable.
		runtime.SetQueryParameterParser(queryParser{}),
	)
	for _, u := range opts.Upstreams {
		conn, err := grpc.NewClient(u.Addr, grpcclient.Options(
			grpc.WithChainUnaryInterceptor(markUnary),
			grpc.WithChainStreamInterceptor(markStream),
		)...)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("dial %s at %s: %w", u.Name, u.Addr, err)
		}
		g.conns[u.Name] = conn
		if u.Register != nil {
			if err := u.Register(ctx, g.grpc, conn); err != nil {
				g.Close()
				return nil, fmt.Errorf("register %s: %w", u.Name, err)
			}
		}
	}
	g.HandlePlain("GET /healthz", http.HandlerFunc(g.healthz))
	g.HandlePlain("GET /readyz", http.HandlerFunc(g.readyz))
	g.HandlePlain("GET /openapi.json", http.HandlerFunc(g.openapi))
	return g, nil
}

// Conn returns the connection to a named upstream, for plain routes that call
// services themselves (OAuth callbacks, webhook ingress).
func (g *Gateway) Conn(name string) *grpc.ClientConn { return g.conns[name] }

// responseJSON is how the REST API writes messages: every field, set or not.
var responseJSON = protojson.MarshalOptions{EmitUnpopulated: true}

// MarshalJSON writes a response message as the REST API writes them, for
// plain routes that answer with one.
func MarshalJSON(m proto.Message) ([]byte, error) { return responseJSON.Marshal(m) }

// OutgoingContext is the context of a plain route's call to a service on
// behalf of the caller: the caller's Authorization and the allow-listed
// headers (ForwardedHeaders) as gRPC metadata, as grpc-gateway forwards
// them for the REST API.
func OutgoingContext(r *http.Request) context.Context {
	var pairs []string
	for _, h := range append([]string{"Authorization"}, ForwardedHeaders...) {
		for _, v := range r.Header.Values(h) {
			pairs = append(pairs, strings.ToLower(h), v)
		}
	}
	return metadata.AppendToOutgoingContext(r.Context(), pairs...)
}

// HandlePlain adds a plain HTTP route (an OAuth redirect, a webhook) beside
// the REST API. Patterns follow net/http's ServeMux ("POST /webhooks/ashby").
// Call before Handler.
func (g *Gateway) HandlePlain(pattern string, h http.Handler, opts ...RouteOption) {
	l := g.limits
	for _, o := range opts {
		o(&l)
	}
	g.routes[pattern] = l
	g.plain.Handle(pattern, h)
}

// Handler is the gateway's whole HTTP surface, traced with otelhttp.
func (g *Gateway) Handler() http.Handler {
	g.once.Do(func() {
		var h http.Handler = dispatch{plain: g.plain, api: g.grpc, limits: g.limits, routes: g.routes}
		if len(g.opts.CORSOrigins) > 0 {
			h = cors.New(cors.Options{
				AllowedOrigins: g.opts.CORSOrigins,
				AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
				// Bearer tokens, not cookies: no credentials mode.
				AllowedHeaders: append([]string{"Authorization", "Content-Type"}, ForwardedHeaders...),
				// A download's name and checksum are for the page too.
				ExposedHeaders: []string{"X-Request-Id", "Content-Disposition", "Repr-Digest"},
				MaxAge:         600,
			}).Handler(h)
		}
		g.h = otelhttp.NewHandler(h, "gateway",
			otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" }),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
		)
	})
	return g.h
}

// dispatch reads the request's body within the route's limits, then sends
// the request to a plain route when one matches, else to the REST API.
type dispatch struct {
	plain  *http.ServeMux
	api    http.Handler
	limits routeLimits
	routes map[string]routeLimits
}

func (d dispatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, limits := d.api, d.limits
	if _, pattern := d.plain.Handler(r); pattern != "" {
		l, ok := d.routes[pattern]
		if !ok || l.when == nil || l.when(r) {
			h = d.plain
			if ok {
				limits = l
			}
		}
	}
	if limits.stream {
		if !streamBody(w, r, limits) {
			return
		}
	} else if !readBody(w, r, limits) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), limits.requestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if h == d.api {
		r = withUpstreamMark(r)
	}
	h.ServeHTTP(w, r)
}

// Close closes the upstream connections.
func (g *Gateway) Close() {
	for _, c := range g.conns {
		_ = c.Close()
	}
}

func (g *Gateway) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Readiness is /readyz's body.
type Readiness struct {
	Status     string            `json:"status"`
	Services   map[string]string `json:"services"`
	NotServing []string          `json:"not_serving,omitempty"`
}

// Drain makes /readyz answer 503 from now on; call it when the process is
// told to stop, then wait the drain delay before shutting the server down.
func (g *Gateway) Drain() { g.draining.Store(true) }

func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, Readiness{Status: "draining", Services: map[string]string{}})
		return
	}
	res := Readiness{Status: "ready", Services: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx := r.Context()
	for name, conn := range g.conns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, g.opts.ReadyTimeout)
			defer cancel()
			st := "UNREACHABLE"
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err == nil {
				st = resp.GetStatus().String()
			}
			mu.Lock()
			defer mu.Unlock()
			res.Services[name] = st
			if st != healthpb.HealthCheckResponse_SERVING.String() {
				res.NotServing = append(res.NotServing, name)
			}
		})
	}
	wg.Wait()
	code := http.StatusOK
	if len(res.NotServing) > 0 {
		sort.Strings(res.NotServing)
		res.Status = "not_ready"
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, res)
}

func (g *Gateway) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(g.opts.OpenAPI)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) //nolint:errcheck // its values (Readiness, a string map) always encode; a failed write means the client has gone
}

func allowHeaders(allowed []string) runtime.HeaderMatcherFunc {
	canon := make([]string, len(allowed))
	for i, h := range allowed {
		canon[i] = textproto.CanonicalMIMEHeaderKey(h)
	}
	return func(key string) (string, bool) {
		if slices.Contains(canon, textproto.CanonicalMIMEHeaderKey(key)) {
			return strings.ToLower(key), true
		}
		return "", false
	}
}

func allowMetadata(allowed []string) runtime.HeaderMatcherFunc {
	return func(key string) (string, bool) {
		if slices.Contains(allowed, strings.ToLower(key)) {
			return key, true
		}
		return "", false
	}
}
