// Package grpcserver is the one gRPC server builder every service uses
// (DESIGN §5): OpenTelemetry stats handler, panic recovery, slog logging with
// trace ids, authentication, request validation, error mapping to a public
// status, gRPC health that is NOT_SERVING until the service's dependencies
// answer, reflection when asked for, undecodable requests answered
// InvalidArgument (codec.go), and a graceful shutdown in a fixed order.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/tandemhq/tandem/platform/apperr"
)

// Authenticator checks the caller of a method and returns a context that
// carries who the caller is. It is called for every RPC except health and
// reflection.
type Authenticator interface {
	Authenticate(ctx context.Context, fullMethod string) (context.Context, error)
}

// AuthFunc adapts a function to Authenticator.
type AuthFunc func(ctx context.Context, fullMethod string) (context.Context, error)

// Authenticate implements Authenticator.
func (f AuthFunc) Authenticate(ctx context.Context, m string) (context.Context, error) {
	return f(ctx, m)
}

// DenyAll refuses every call. It is the default, so a service that forgets to
// configure authentication exposes nothing.
var DenyAll = AuthFunc(func(ctx context.Context, _ string) (context.Context, error) {
	return ctx, apperr.Unauthenticated("authentication required")
})

// Validator checks a request before the handler sees it. A failure should be
// an apperr.InvalidArgument naming the field.
type Validator func(req any) error

// Check is a dependency the service needs to serve, such as Postgres or Redis.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	Logger *slog.Logger
	// Auth authenticates every RPC; nil means DenyAll.
	Auth Authenticator
	// Validators maps full method names ("/pkg.Svc/Method") to request
	// checks; on a stream, the check runs on each message received.
	Validators map[string]Validator
	// Checks gate health: NOT_SERVING until every one passes.
	Checks []Check
	// HealthInterval is how often Checks run (default 2s).
	HealthInterval time.Duration
	// DrainDelay is how long health reports NOT_SERVING before the server stops
	// taking calls, so load balancers move traffic away first.
	DrainDelay time.Duration
	// ShutdownTimeout bounds the graceful stop; in-flight calls still running
	// then are cut off.
	ShutdownTimeout time.Duration
	// MaxDeadline bounds every call: a client's longer deadline, or none,
	// is cut to it (DefaultMaxDeadline). Health and reflection are exempt.
	MaxDeadline time.Duration
	// MethodMaxDeadlines overrides MaxDeadline for the methods named
	// ("/pkg.Svc/Method"): a stream that carries a file moves as fast as
	// its client sends, and a slow link is not a hung dependency.
	MethodMaxDeadlines map[string]time.Duration
	// ServerOptions are passed to grpc.NewServer after the builder's own.
	ServerOptions []grpc.ServerOption
	// Closers is released after the server stops; nil makes a new list.
	Closers *Closers
	// Reflection registers gRPC server reflection, which lists every
	// service and method (internal ones too) to anyone who asks: for
	// development (make run), off by default.
	Reflection bool
}

// Server is a gRPC server with Tandem's runtime around it.
type Server struct {
	opts    Options
	log     *slog.Logger
	grpc    *grpc.Server
	health  *health.Server
	closers *Closers
	codec   *requestCodec
	mu      sync.Mutex
	serving bool
	events  func(string) // test hook: names each shutdown step as it happens
}

// New builds the server. Register services on GRPC() before Serve.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Auth == nil {
		opts.Auth = DenyAll
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 2 * time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 20 * time.Second
	}
	if opts.Closers == nil {
		opts.Closers = &Closers{}
	}
	if opts.MaxDeadline <= 0 {
		opts.MaxDeadline = DefaultMaxDeadline
	}
	s := &Server{opts: opts, log: opts.Logger, health: health.NewServer(), closers: opts.Closers, codec: newRequestCodec()}
	serverOpts := append([]grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithFilter(filters.None(
			filters.ServicePrefix("grpc.health."), filters.ServicePrefix("grpc.reflection."))))),
		grpc.ForceServerCodecV2(s.codec),
		grpc.ChainUnaryInterceptor(s.unaryDeadline, s.unaryOutcome, s.unaryRecover, s.unaryDecoded, s.unaryAuth, s.unaryValidate),
		grpc.ChainStreamInterceptor(s.streamDeadline, s.streamOutcome, s.streamRecover, s.streamDecoded, s.streamAuth, s.streamValidate),
	}, opts.ServerOptions...)
	s.grpc = grpc.NewServer(serverOpts...)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	if opts.Reflection {
		reflection.Register(s.grpc)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.health.SetServingStatus(LivenessService, healthpb.HealthCheckResponse_SERVING)
	return s
}

// LivenessService is the health service name that is SERVING for as long
// as the process serves, whatever its dependencies say: the liveness probe
// asks for it, so a Postgres outage takes replicas out of rotation (the
// overall status, "") without restarting them all.
const LivenessService = "liveness"

// AddChecks adds dependencies that gate health. Call before Serve.
func (s *Server) AddChecks(checks ...Check) {
	s.opts.Checks = append(s.opts.Checks, checks...)
}

// GRPC is the underlying server, for registering services.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Closers is the list released after the server has stopped.
func (s *Server) Closers() *Closers { return s.closers }

func exempt(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.") || strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

func (s *Server) unaryOutcome(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	return resp, s.outcome(ctx, info.FullMethod, start, err)
}

func (s *Server) streamOutcome(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	return s.outcome(ss.Context(), info.FullMethod, start, err)
}

// outcome maps the handler's error to a public status and logs the call.
func (s *Server) outcome(ctx context.Context, method string, start time.Time, err error) error {
	st, unexpected := ToStatus(err)
	if unexpected {
		logError(ctx, s.log, method, err)
	}
	if !exempt(method) {
		level := slog.LevelInfo
		if st.Code() == codes.Internal || st.Code() == codes.Unavailable {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "rpc", slog.String("method", method), slog.String("code", st.Code().String()), slog.Duration("took", time.Since(start)))
	}
	if err == nil {
		return nil
	}
	return st.Err()
}

func (s *Server) recovered(ctx context.Context, method string, p any) error {
	s.log.ErrorContext(ctx, "panic in handler", slog.String("method", method), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
	return fmt.Errorf("panic: %v", p)
}

func (s *Server) unaryRecover(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.recovered(ctx, info.FullMethod, p)
		}
	}()
	return h(ctx, req)
}

func (s *Server) streamRecover(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.recovered(ss.Context(), info.FullMethod, p)
		}
	}()
	return h(srv, ss)
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if exempt(info.FullMethod) {
		return h(ctx, req)
	}
	ctx, err := s.opts.Auth.Authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a authedStream) Context() context.Context { return a.ctx }

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if exempt(info.FullMethod) {
		return h(srv, ss)
	}
	ctx, err := s.opts.Auth.Authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return h(srv, authedStream{ss, ctx})
}

func (s *Server) unaryValidate(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if v, ok := s.opts.Validators[info.FullMethod]; ok {
		if err := v(req); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}

// validatedStream runs a method's validator on every message the handler
// receives: the one request of a server stream, and each message of a
// client stream (a validator of a stream's messages sees them one at a
// time; what depends on their order is the handler's to check).
type validatedStream struct {
	grpc.ServerStream
	validate Validator
}

func (v validatedStream) RecvMsg(m any) error {
	if err := v.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return v.validate(m)
}

func (s *Server) streamValidate(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if v, ok := s.opts.Validators[info.FullMethod]; ok {
		return h(srv, validatedStream{ss, v})
	}
	return h(srv, ss)
}

// watchHealth runs the checks until ctx ends, flipping health between
// SERVING and NOT_SERVING.
func (s *Server) watchHealth(ctx context.Context) {
	t := time.NewTicker(s.opts.HealthInterval)
	defer t.Stop()
	for {
		s.runChecks(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) runChecks(ctx context.Context) {
	ok := true
	for _, c := range s.opts.Checks {
		cctx, cancel := context.WithTimeout(ctx, s.opts.HealthInterval)
		err := c.Check(cctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			ok = false
			s.log.WarnContext(ctx, "dependency not ready", slog.String("dependency", c.Name), slog.Any("error", err))
		}
	}
	s.mu.Lock()
	changed := s.serving != ok
	s.serving = ok
	s.mu.Unlock()
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for name := range s.grpc.GetServiceInfo() {
		if !exempt("/" + name + ".") {
			s.health.SetServingStatus(name, st)
		}
	}
	s.health.SetServingStatus("", st)
	if changed {
		s.log.InfoContext(ctx, "health changed", slog.String("status", st.String()))
	}
}

// Serve serves on lis until ctx ends, then shuts down in order: health to
// NOT_SERVING, wait DrainDelay, GracefulStop (hard Stop after
// ShutdownTimeout), then the closers, last added first.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	hctx, stopHealth := context.WithCancel(context.WithoutCancel(ctx))
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		s.watchHealth(hctx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.grpc.Serve(lis) }()
	s.log.InfoContext(ctx, "serving", slog.String("addr", lis.Addr().String()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, grpc.ErrServerStopped) {
			err = nil
		}
	}
	// ctx is done by now; the shutdown keeps its values (trace, logger
	// attributes) and runs on its own timeouts.
	s.shutdown(context.WithoutCancel(ctx), stopHealth, healthDone)
	return err
}

func (s *Server) event(name string) {
	if s.events != nil {
		s.events(name)
	}
}

func (s *Server) shutdown(ctx context.Context, stopHealth context.CancelFunc, healthDone <-chan struct{}) {
	s.log.InfoContext(ctx, "shutting down")
	stopHealth()
	<-healthDone
	s.health.Shutdown()
	s.mu.Lock()
	s.serving = false
	s.mu.Unlock()
	s.event("health:not_serving")
	if s.opts.DrainDelay > 0 {
		time.Sleep(s.opts.DrainDelay)
	}
	s.event("drained")
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
		s.event("grpc:graceful_stop")
	case <-time.After(s.opts.ShutdownTimeout):
		s.log.WarnContext(ctx, "graceful stop timed out; cutting off calls in flight")
		s.grpc.Stop()
		<-stopped
		s.event("grpc:hard_stop")
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.ShutdownTimeout)
	defer cancel()
	// Close logs each failure with what failed; at exit there is nothing
	// else to do about one, and Serve reports how serving ended.
	_ = s.closers.Close(cctx, s.log)
	s.event("closed")
	s.log.InfoContext(ctx, "stopped")
}
