package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/platform/poll"
)

// echoService answers with the metadata keys it received, or fails as the
// payload asks.
type echoService struct {
	testpb.UnimplementedTestServiceServer
}

func (echoService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	switch string(req.GetPayload().GetBody()) {
	case "leak":
		return nil, errors.New("dial tcp 10.1.2.3:5432: pq: password authentication failed for user \"svc\"")
	case "bad-field":
		return nil, apperr.InvalidArgument("candidate.email", "must be an email address")
	case "precondition":
		return nil, apperr.FailedPrecondition("admin_approval_required", "an administrator must approve")
	case "exists":
		return nil, &apperr.Error{Kind: apperr.KindAlreadyExists, Reason: "candidate_exists", Field: "candidate.emails[0]",
			Public: "a candidate with this e-mail address exists already", Metadata: map[string]string{"candidate_id": "c-1"}}
	case "hang":
		// A dependency that accepts and never answers.
		<-ctx.Done()
		return nil, ctx.Err()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var keys []string
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return &testpb.SimpleResponse{Username: strings.Join(keys, ",")}, nil
}

var allowAll = grpcserver.AuthFunc(func(ctx context.Context, _ string) (context.Context, error) { return ctx, nil })

// startService runs a real Tandem gRPC server (every interceptor on) on addr
// ("127.0.0.1:0" for any port) and returns its address and a stop function.
func startService(t *testing.T, addr string) (string, func()) {
	t.Helper()
	srv := grpcserver.New(grpcserver.Options{Auth: allowAll, HealthInterval: 10 * time.Millisecond})
	testpb.RegisterTestServiceServer(srv.GRPC(), echoService{})
	var lis net.Listener
	poll.Until(t, 5*time.Second, func() error { // the old listener of a restarted service may linger
		var err error
		lis, err = net.Listen("tcp", addr)
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, lis); err != nil {
			t.Error(err)
		}
	}()
	var once bool
	stop := func() {
		if once {
			return
		}
		once = true
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// registerEcho is what a generated RegisterXHandler does: a route that calls
// the service through conn with the request's allowed headers as metadata.
func registerEcho(_ context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	client := testpb.NewTestServiceClient(conn)
	return mux.HandlePath("POST", "/v1/echo/{cmd}", func(w http.ResponseWriter, r *http.Request, p map[string]string) {
		ctx, err := runtime.AnnotateContext(r.Context(), mux, r, testpb.TestService_UnaryCall_FullMethodName)
		if err != nil {
			runtime.HTTPError(r.Context(), mux, &runtime.JSONPb{}, w, r, err)
			return
		}
		resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(p["cmd"])}})
		if err != nil {
			runtime.HTTPError(ctx, mux, &runtime.JSONPb{}, w, r, err)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"metadata": resp.GetUsername()}) //nolint:errcheck // a short body fails the test's decode
	})
}

func newGateway(t *testing.T, ups ...Upstream) *httptest.Server {
	t.Helper()
	g, err := New(t.Context(), Options{Upstreams: ups, OpenAPI: []byte(`{"swagger":"2.0"}`), ReadyTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// testClient is the tests' HTTP client: a gateway that hangs fails the
// test instead of holding it until the test binary's timeout.
var testClient = &http.Client{Timeout: 30 * time.Second}

func post(t *testing.T, url string, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func decodeError(t *testing.T, body []byte) ErrorDetail {
	t.Helper()
	var e ErrorBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body is not the stable shape: %v: %s", err, body)
	}
	return e.Error
}

func TestUnknownErrorReachesRESTClientMasked(t *testing.T) {
	addr, _ := startService(t, "127.0.0.1:0")
	gw := newGateway(t, Upstream{Name: "echo", Addr: addr, Register: registerEcho})
	code, body := post(t, gw.URL+"/v1/echo/leak", nil)
	if code != http.StatusInternalServerError {
		t.Fatalf("status %d: %s", code, body)
	}
	e := decodeError(t, body)
	if e.Status != "INTERNAL" || e.Message != "internal error" || e.Code != 500 {
		t.Fatalf("got %+v", e)
	}
	for _, leak := range []string{"10.1.2.3", "password", "pq:", "svc"} {
		if strings.Contains(string(body), leak) {
			t.Fatalf("internal text %q reached the client: %s", leak, body)
		}
	}
}

func TestDomainErrorsKeepFieldsAndReason(t *testing.T) {
	addr, _ := startService(t, "127.0.0.1:0")
	gw := newGateway(t, Upstream{Name: "echo", Addr: addr, Register: registerEcho})
	code, body := post(t, gw.URL+"/v1/echo/bad-field", nil)
	e := decodeError(t, body)
	if code != 400 || e.Status != "INVALID_ARGUMENT" || len(e.Fields) != 1 || e.Fields[0].Field != "candidate.email" {
		t.Fatalf("status %d: %+v", code, e)
	}
	code, body = post(t, gw.URL+"/v1/echo/precondition", nil)
	e = decodeError(t, body)
	if code != 400 || e.Reason != "admin_approval_required" || e.Message != "an administrator must approve" || e.Metadata != nil {
		t.Fatalf("status %d: %+v", code, e)
	}
	// The facts behind a reason travel as metadata, beside the field.
	code, body = post(t, gw.URL+"/v1/echo/exists", nil)
	e = decodeError(t, body)
	if code != 409 || e.Reason != "candidate_exists" || e.Metadata["candidate_id"] != "c-1" || len(e.Fields) != 1 || e.Fields[0].Field != "candidate.emails[0]" {
		t.Fatalf("status %d: %+v", code, e)
	}
}

func TestOnlyAllowListedHeadersAreForwarded(t *testing.T) {
	addr, _ := startService(t, "127.0.0.1:0")
	gw := newGateway(t, Upstream{Name: "echo", Addr: addr, Register: registerEcho})
	code, body := post(t, gw.URL+"/v1/echo/hello", map[string]string{
		"Authorization":       "Bearer abc",
		"Idempotency-Key":     "k1",
		"Cookie":              "session=secret",
		"X-Internal-Role":     "super_admin",
		"Grpc-Metadata-X-Org": "org-b",
	})
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	md := got["metadata"]
	for _, want := range []string{"authorization", "idempotency-key"} {
		if !strings.Contains(md, want) {
			t.Errorf("%s not forwarded: %s", want, md)
		}
	}
	for _, banned := range []string{"cookie", "x-internal-role", "x-org"} {
		if strings.Contains(md, banned) {
			t.Errorf("%s must not be forwarded: %s", banned, md)
		}
	}
}

func TestUnknownRouteUsesErrorShape(t *testing.T) {
	gw := newGateway(t)
	resp, err := testClient.Get(gw.URL + "/v1/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if e := decodeError(t, body); resp.StatusCode != 404 || e.Status != "NOT_FOUND" {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

func readiness(t *testing.T, url string) (int, Readiness) {
	t.Helper()
	resp, err := testClient.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r Readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

func waitReady(t *testing.T, url string, wantCode int) Readiness {
	t.Helper()
	var r Readiness
	poll.Until(t, 15*time.Second, func() error {
		var code int
		code, r = readiness(t, url)
		if code != wantCode {
			return fmt.Errorf("/readyz answers %d %+v, want %d", code, r, wantCode)
		}
		return nil
	})
	return r
}

func TestReadyzFollowsUpstreams(t *testing.T) {
	a, _ := startService(t, "127.0.0.1:0")
	b, stopB := startService(t, "127.0.0.1:0")
	gw := newGateway(t, Upstream{Name: "identity", Addr: a}, Upstream{Name: "mailbox", Addr: b})

	r := waitReady(t, gw.URL, http.StatusOK)
	if r.Services["identity"] != "SERVING" || r.Services["mailbox"] != "SERVING" {
		t.Fatalf("got %+v", r)
	}
	stopB()
	r = waitReady(t, gw.URL, http.StatusServiceUnavailable)
	if !slices.Equal(r.NotServing, []string{"mailbox"}) || r.Status != "not_ready" {
		t.Fatalf("want mailbox named, got %+v", r)
	}
	startService(t, b) // the same address again
	waitReady(t, gw.URL, http.StatusOK)
}

func TestHealthzAndOpenAPI(t *testing.T) {
	gw := newGateway(t, Upstream{Name: "identity", Addr: "127.0.0.1:1"})
	resp, err := testClient.Get(gw.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = testClient.Get(gw.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), "swagger") {
		t.Fatalf("openapi: %d %s", resp.StatusCode, body)
	}
}

func TestPlainRoutesSitBesideTheAPI(t *testing.T) {
	g, err := New(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.HandlePlain("GET /oauth/microsoft/callback", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "callback:"+r.URL.Query().Get("state"))
	}))
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	resp, err := testClient.Get(srv.URL + "/oauth/microsoft/callback?state=s1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "callback:s1" {
		t.Fatalf("got %q", body)
	}
}

func TestCORSAllowsOnlyConfiguredOrigins(t *testing.T) {
	addr, _ := startService(t, "127.0.0.1:0")
	g, err := New(t.Context(), Options{Upstreams: []Upstream{{Name: "echo", Addr: addr, Register: registerEcho}},
		CORSOrigins: []string{"https://app.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	gw := httptest.NewServer(g.Handler())
	t.Cleanup(gw.Close)

	preflight := func(origin string) (int, http.Header) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, gw.URL+"/v1/echo/ok", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, idempotency-key")
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	status, header := preflight("https://app.example.com")
	if status/100 != 2 || header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(strings.ToLower(header.Get("Access-Control-Allow-Headers")), "idempotency-key") ||
		header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight from the frontend: %d %v", status, header)
	}
	if _, header := preflight("https://evil.example"); header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin was allowed: %v", header)
	}

	code, body := post(t, gw.URL+"/v1/echo/ok", map[string]string{"Origin": "https://app.example.com"})
	if code != http.StatusOK {
		t.Fatalf("a call from the frontend: %d %s", code, body)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, gw.URL+"/v1/echo/ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || resp.Header.Get("Access-Control-Expose-Headers") == "" {
		t.Fatalf("actual request headers: %v", resp.Header)
	}

	// Without configured origins the gateway sends no CORS headers at all.
	plain := newGateway(t, Upstream{Name: "echo", Addr: addr, Register: registerEcho})
	req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, plain.URL+"/v1/echo/ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://app.example.com")
	resp, err = testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS headers with no origins configured: %v", resp.Header)
	}
}

func TestDrainTurnsReadyzUnavailable(t *testing.T) {
	addr, _ := startService(t, "127.0.0.1:0")
	g, err := New(t.Context(), Options{Upstreams: []Upstream{{Name: "identity", Addr: addr}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	gw := httptest.NewServer(g.Handler())
	t.Cleanup(gw.Close)
	waitReady(t, gw.URL, http.StatusOK)
	g.Drain()
	code, r := readiness(t, gw.URL)
	if code != http.StatusServiceUnavailable || r.Status != "draining" {
		t.Fatalf("after Drain: %d %+v", code, r)
	}
	// Requests are still served while draining.
	resp, err := testClient.Get(gw.URL + "/healthz")
	if err != nil {
		t.Fatalf("healthz while draining: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz while draining: %d", resp.StatusCode)
	}
}
