package webhooks

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/gateway/internal/rest"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
)

// fakeAtsBridge records the deliveries handed over and answers as told.
type fakeAtsBridge struct {
	mu    sync.Mutex
	calls []*atsbridgev1.ReceiveLeverWebhookRequest
	err   error
}

func (f *fakeAtsBridge) ReceiveLeverWebhook(_ context.Context, in *atsbridgev1.ReceiveLeverWebhookRequest, _ ...grpc.CallOption) (*atsbridgev1.ReceiveLeverWebhookResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &atsbridgev1.ReceiveLeverWebhookResponse{Outcome: "accepted"}, nil
}

func serveLever(t testing.TB, ab *fakeAtsBridge) *httptest.Server {
	t.Helper()
	g, err := rest.New(context.Background(), rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	(&Lever{AtsBridge: ab, Log: slog.New(slog.DiscardHandler)}).Register(g)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestLeverHandsTheRawBodyOver(t *testing.T) {
	ab := &fakeAtsBridge{}
	srv := serveLever(t, ab)
	// Whitespace and key order as Lever sent them: the bytes are what
	// atsbridge checks.
	body := `{ "id":"d1",  "token":"t", "triggeredAt": 1, "signature":"ab", "event":"candidateStageChange", "data":{} }`
	if a := post(t, srv.URL+"/webhooks/lever/conn-1", "application/json", body); a.status != http.StatusOK {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if len(ab.calls) != 1 || ab.calls[0].GetConnectionId() != "conn-1" || string(ab.calls[0].GetBody()) != body {
		t.Fatalf("handed over: %+v", ab.calls)
	}
}

func TestLeverRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		err  error
		body string
		want int
	}{
		"bad signature":      {status.Error(codes.Unauthenticated, "the delivery's signature does not hold"), `{}`, http.StatusUnauthorized},
		"unknown connection": {status.Error(codes.NotFound, "ATS connection not found"), `{}`, http.StatusNotFound},
		"not a delivery":     {status.Error(codes.InvalidArgument, "body: is not a Lever webhook delivery"), `{}`, http.StatusBadRequest},
		"atsbridge down":     {status.Error(codes.Unavailable, "connection refused"), `{}`, http.StatusServiceUnavailable},
		"atsbridge fails":    {status.Error(codes.Internal, "pq: secret detail"), `{}`, http.StatusServiceUnavailable},
		"too large":          {nil, `{"x":"` + strings.Repeat("a", MaxLeverBody) + `"}`, http.StatusRequestEntityTooLarge},
		"empty":              {nil, ``, http.StatusBadRequest},
	} {
		ab := &fakeAtsBridge{err: c.err}
		srv := serveLever(t, ab)
		a := post(t, srv.URL+"/webhooks/lever/conn-1", "application/json", c.body)
		if a.status != c.want || strings.Contains(a.body, "secret detail") {
			t.Errorf("%s: %d %s, want %d", name, a.status, a.body, c.want)
		}
		if (c.err == nil) != (len(ab.calls) == 0) {
			t.Errorf("%s: %d calls to atsbridge", name, len(ab.calls))
		}
	}
}
