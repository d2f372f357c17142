package rest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/platform/logging/logtest"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// identityStub answers every identity RPC Unimplemented: the tests here are
// about requests that must never reach it.
type identityStub struct {
	identityv1.UnimplementedIdentityServiceServer
}

// identityGateway is a gateway with identity's generated REST handlers, in
// front of a stub identity.
func identityGateway(t *testing.T) (*httptest.Server, *logtest.Buffer) {
	t.Helper()
	srv := grpcserver.New(grpcserver.Options{Auth: allowAll})
	identityv1.RegisterIdentityServiceServer(srv.GRPC(), identityStub{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, lis); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	logs := &logtest.Buffer{}
	g, err := New(t.Context(), Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Upstreams: []Upstream{{Name: "identity", Addr: lis.Addr().String(), Register: identityv1.RegisterIdentityServiceHandler}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	gw := httptest.NewServer(g.Handler())
	t.Cleanup(gw.Close)
	return gw, logs
}

func send(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b.Bytes()
}

// libraryText is what protojson, strconv and grpc-go say; none of it may
// reach a client.
var libraryText = []string{"proto:", "strconv", "ParseInt", "syntax error", "invalid value for", "grpc:", "(line ", "unexpected token", "type mismatch"}

func wantFieldError(t *testing.T, code int, body []byte, field, description string) {
	t.Helper()
	e := decodeError(t, body)
	if code != http.StatusBadRequest || e.Status != "INVALID_ARGUMENT" {
		t.Fatalf("want 400 INVALID_ARGUMENT, got %d %s", code, body)
	}
	if field == "" {
		if len(e.Fields) != 0 {
			t.Fatalf("want no field, got %s", body)
		}
	} else if len(e.Fields) != 1 || e.Fields[0].Field != field || !strings.Contains(e.Fields[0].Description, description) {
		t.Fatalf("want field %q (%q), got %s", field, description, body)
	}
	if !strings.Contains(e.Message, description) {
		t.Fatalf("message %q does not say %q", e.Message, description)
	}
	for _, l := range libraryText {
		if strings.Contains(string(body), l) {
			t.Fatalf("library text %q reached the client: %s", l, body)
		}
	}
}

func TestInvalidUTF8InAPathParameterIs400NamingIt(t *testing.T) {
	gw, _ := identityGateway(t)
	code, body := send(t, http.MethodGet, gw.URL+"/v1/users/%F0%28%8C%28", "")
	wantFieldError(t, code, body, "user_id", "must be valid UTF-8")
	code, body = send(t, http.MethodPatch, gw.URL+"/v1/users/%FF?updateMask=role", `{"role":"ROLE_ADMIN"}`)
	wantFieldError(t, code, body, "user.id", "must be valid UTF-8")
	// A well-formed one reaches the service (which the stub leaves
	// unimplemented).
	if code, body := send(t, http.MethodGet, gw.URL+"/v1/users/u-1", ""); code != http.StatusNotImplemented {
		t.Fatalf("a valid user id: %d %s", code, body)
	}
}

func TestBodyDecodeErrorsNameTheFieldInTandemWords(t *testing.T) {
	gw, _ := identityGateway(t)
	for _, c := range []struct {
		name, method, path, body, field, description string
	}{
		{"wrong type", http.MethodPatch, "/v1/organization", `{"displayName": 5}`, "display_name", "must be a string"},
		{"bad enum", http.MethodPatch, "/v1/organization", `{"defaultRole": "ROLE_EMPEROR"}`, "default_role", "must be one of"},
		{"unknown field", http.MethodPost, "/v1/sessions:exchange", `{"code": "c", "sneaky": 1}`, "sneaky", "is not a field"},
		{"invalid UTF-8", http.MethodPost, "/v1/sessions:exchange", "{\"code\": \"\xff\xfe\"}", "code", "must be valid UTF-8"},
		{"not JSON", http.MethodPost, "/v1/sessions:exchange", `{"code": `, "", "not valid JSON"},
		{"not an object", http.MethodPost, "/v1/sessions:exchange", `["code"]`, "", "must be a JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := send(t, c.method, gw.URL+c.path, c.body)
			wantFieldError(t, code, body, c.field, c.description)
		})
	}
}

func TestQueryDecodeErrorsNameTheParameter(t *testing.T) {
	gw, _ := identityGateway(t)
	code, body := send(t, http.MethodGet, gw.URL+"/v1/users?pageSize=abc", "")
	wantFieldError(t, code, body, "pageSize", "must be a whole number")
	code, body = send(t, http.MethodGet, gw.URL+"/v1/users?pageToken=%FF", "")
	wantFieldError(t, code, body, "pageToken", "must be valid UTF-8")
	if code, body := send(t, http.MethodGet, gw.URL+"/v1/users?pageSize=5", ""); code != http.StatusNotImplemented {
		t.Fatalf("a valid query: %d %s", code, body)
	}
}

func TestMaskedInternalErrorIsLogged(t *testing.T) {
	addr, _ := startService(t, "127.0.0.1:0")
	logs := &logtest.Buffer{}
	g, err := New(t.Context(), Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Upstreams: []Upstream{{Name: "echo", Addr: addr, Register: registerEcho}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	gw := httptest.NewServer(g.Handler())
	t.Cleanup(gw.Close)
	if code, _ := post(t, gw.URL+"/v1/echo/leak", nil); code != http.StatusInternalServerError {
		t.Fatalf("status %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "/v1/echo/leak") {
		if time.Now().After(deadline) {
			t.Fatalf("a 500 left nothing in the log: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
