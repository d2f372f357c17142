package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/logging/logtest"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/poll"
)

// testService answers UnaryCall according to the request,
// whose payload body each test uses as a small command.
type testService struct {
	testpb.UnimplementedTestServiceServer
	release chan struct{}
	calls   atomic.Int32
}

func (t *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	t.calls.Add(1)
	switch string(req.GetPayload().GetBody()) {
	case "leak":
		return nil, errors.New("pq: connection to 10.0.0.7 failed: password authentication failed for user svc")
	case "bad-field":
		return nil, apperr.InvalidArgument("candidate.email", "must be an email address")
	case "precondition":
		return nil, apperr.FailedPrecondition("admin_approval_required", "an administrator must approve")
	case "panic":
		panic("boom: secret-in-panic")
	case "slow":
		select {
		case <-t.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "deadline":
		d, ok := ctx.Deadline()
		if !ok {
			return &testpb.SimpleResponse{Username: "none"}, nil
		}
		return &testpb.SimpleResponse{Username: time.Until(d).String()}, nil
	case "whoami":
		return &testpb.SimpleResponse{Username: ctx.Value(callerKey{}).(string)}, nil
	}
	return &testpb.SimpleResponse{Username: "ok"}, nil
}

type callerKey struct{}

var allowAll = AuthFunc(func(ctx context.Context, _ string) (context.Context, error) {
	return context.WithValue(ctx, callerKey{}, "tester"), nil
})

type harness struct {
	srv    *Server
	conn   *grpc.ClientConn
	client testpb.TestServiceClient
	health healthpb.HealthClient
	svc    *testService
	cancel context.CancelFunc
	done   chan error
	logs   *logtest.Buffer
}

func start(t *testing.T, opts Options, hook func(string)) *harness {
	t.Helper()
	logs := &logtest.Buffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	if opts.HealthInterval == 0 {
		opts.HealthInterval = 10 * time.Millisecond
	}
	srv := New(opts)
	srv.events = hook
	svc := &testService{release: make(chan struct{})}
	testpb.RegisterTestServiceServer(srv.GRPC(), svc)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		close(svc.release)
		if err := <-done; err != nil {
			t.Error(err)
		}
		conn.Close()
	})
	return &harness{srv: srv, conn: conn, client: testpb.NewTestServiceClient(conn), health: healthpb.NewHealthClient(conn), svc: svc, cancel: cancel, done: done, logs: logs}
}

func call(t *testing.T, h *harness, cmd string) (*testpb.SimpleResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return h.client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(cmd)}})
}

func TestUnknownErrorIsMaskedAndLogged(t *testing.T) {
	h := start(t, Options{Auth: allowAll}, nil)
	_, err := call(t, h, "leak")
	st := status.Convert(err)
	if st.Code() != codes.Internal || st.Message() != InternalMessage {
		t.Fatalf("want Internal %q, got %v %q", InternalMessage, st.Code(), st.Message())
	}
	if strings.Contains(err.Error(), "password") || strings.Contains(err.Error(), "10.0.0.7") {
		t.Fatalf("internal text reached the client: %v", err)
	}
	if !strings.Contains(h.logs.String(), "password authentication failed") {
		t.Fatalf("cause missing from the log: %s", h.logs.String())
	}
}

func TestDomainErrorsKeepPublicMessageAndDetails(t *testing.T) {
	h := start(t, Options{Auth: allowAll}, nil)
	_, err := call(t, h, "bad-field")
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || st.Message() != "must be an email address" {
		t.Fatalf("got %v %q", st.Code(), st.Message())
	}
	var field string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			field = br.GetFieldViolations()[0].GetField()
		}
	}
	if field != "candidate.email" {
		t.Fatalf("field violation missing: %v", st.Details())
	}
	_, err = call(t, h, "precondition")
	st = status.Convert(err)
	var reason string
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			reason = ei.GetReason()
		}
	}
	if st.Code() != codes.FailedPrecondition || reason != "admin_approval_required" {
		t.Fatalf("got %v reason %q", st.Code(), reason)
	}
}

func TestPanicIsRecovered(t *testing.T) {
	h := start(t, Options{Auth: allowAll}, nil)
	_, err := call(t, h, "panic")
	if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "secret-in-panic") {
		t.Fatalf("got %v", err)
	}
	if _, err := call(t, h, "fine"); err != nil {
		t.Fatalf("server should survive a panic: %v", err)
	}
}

func TestDenyAllByDefaultButHealthIsOpen(t *testing.T) {
	h := start(t, Options{}, nil)
	_, err := call(t, h, "fine")
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("want Unauthenticated, got %v", err)
	}
	if h.svc.calls.Load() != 0 {
		t.Fatal("handler ran without authentication")
	}
	if _, err := h.health.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health must not need authentication: %v", err)
	}
	resp, err := New(Options{Auth: allowAll}).opts.Auth.Authenticate(t.Context(), "/x")
	if err != nil || resp.Value(callerKey{}) != "tester" {
		t.Fatal("custom authenticator not used")
	}
}

func TestAuthenticatedContextReachesHandler(t *testing.T) {
	h := start(t, Options{Auth: allowAll}, nil)
	resp, err := call(t, h, "whoami")
	if err != nil || resp.GetUsername() != "tester" {
		t.Fatalf("got %v %v", resp, err)
	}
}

func TestValidatorRunsBeforeHandler(t *testing.T) {
	v := map[string]Validator{
		testpb.TestService_UnaryCall_FullMethodName: func(req any) error {
			if len(req.(*testpb.SimpleRequest).GetPayload().GetBody()) == 0 {
				return apperr.InvalidArgument("username", "is required")
			}
			return nil
		},
	}
	h := start(t, Options{Auth: allowAll, Validators: v}, nil)
	_, err := call(t, h, "")
	if status.Code(err) != codes.InvalidArgument || h.svc.calls.Load() != 0 {
		t.Fatalf("want InvalidArgument before the handler, got %v (calls %d)", err, h.svc.calls.Load())
	}
}

func waitHealth(t *testing.T, h *harness, service string, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	poll.Until(t, 10*time.Second, func() error {
		resp, err := h.health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != want {
			return fmt.Errorf("health of %q is %v (%w), want %v", service, resp.GetStatus(), err, want)
		}
		return nil
	})
}

// waitCallStarted waits until the test service's handler has been entered.
func waitCallStarted(t *testing.T, h *harness) {
	t.Helper()
	poll.Until(t, 10*time.Second, func() error {
		if h.svc.calls.Load() == 0 {
			return errors.New("the slow call has not reached the handler")
		}
		return nil
	})
}

func TestHealthFollowsDependencies(t *testing.T) {
	var dbUp atomic.Bool
	checks := []Check{
		{Name: "postgres", Check: func(context.Context) error {
			if !dbUp.Load() {
				return errors.New("connection refused")
			}
			return nil
		}},
		{Name: "redis", Check: func(context.Context) error { return nil }},
	}
	h := start(t, Options{Auth: allowAll, Checks: checks}, nil)
	waitHealth(t, h, "", healthpb.HealthCheckResponse_NOT_SERVING)
	// Liveness does not follow the dependencies.
	waitHealth(t, h, LivenessService, healthpb.HealthCheckResponse_SERVING)
	dbUp.Store(true)
	waitHealth(t, h, "", healthpb.HealthCheckResponse_SERVING)
	waitHealth(t, h, "grpc.testing.TestService", healthpb.HealthCheckResponse_SERVING)
	dbUp.Store(false)
	waitHealth(t, h, "", healthpb.HealthCheckResponse_NOT_SERVING)
	waitHealth(t, h, LivenessService, healthpb.HealthCheckResponse_SERVING)
}

func TestShutdownOrder(t *testing.T) {
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	h := start(t, Options{Auth: allowAll, Checks: []Check{{Name: "ok", Check: func(context.Context) error { return nil }}}, ShutdownTimeout: 10 * time.Second}, record)
	h.srv.Closers().Add("telemetry", func(context.Context) error { record("close:telemetry"); return nil })
	h.srv.Closers().Add("postgres", func(context.Context) error { record("close:postgres"); return nil })
	waitHealth(t, h, "", healthpb.HealthCheckResponse_SERVING)

	// A call in flight when shutdown starts completes.
	inflight := make(chan error, 1)
	go func() {
		_, err := call(t, h, "slow")
		inflight <- err
	}()
	waitCallStarted(t, h)
	h.cancel()
	// Health goes NOT_SERVING while the call is still held.
	poll.Until(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Contains(events, "health:not_serving") {
			return fmt.Errorf("health has not gone NOT_SERVING; events so far %v", events)
		}
		return nil
	})
	h.svc.release <- struct{}{}
	if err := <-inflight; err != nil {
		t.Fatalf("in-flight call should complete during graceful stop: %v", err)
	}
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil // for cleanup
	want := []string{"health:not_serving", "drained", "grpc:graceful_stop", "close:postgres", "close:telemetry", "closed"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(events, want) {
		t.Fatalf("shutdown order\n got %v\nwant %v", events, want)
	}
}

func TestShutdownHardStopsAfterTimeout(t *testing.T) {
	var mu sync.Mutex
	var events []string
	h := start(t, Options{Auth: allowAll, ShutdownTimeout: 50 * time.Millisecond}, func(e string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	})
	inflight := make(chan error, 1)
	go func() {
		_, err := call(t, h, "slow")
		inflight <- err
	}()
	waitCallStarted(t, h)
	h.cancel()
	if err := <-inflight; status.Code(err) != codes.Unavailable {
		t.Fatalf("a call cut off by the hard stop should fail Unavailable, got %v", err)
	}
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
	h.done <- nil
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(events, "grpc:hard_stop") {
		t.Fatalf("want a hard stop, got %v", events)
	}
}
