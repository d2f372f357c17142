package grpcserver

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// Every call is bounded by the server's maximum, whatever the client asked
// (issue 16, item 5).
func TestCallsAreCutToTheMaximumDeadline(t *testing.T) {
	t.Parallel()
	h := start(t, Options{Auth: allowAll, MaxDeadline: 300 * time.Millisecond}, nil)
	remaining := func(ctx context.Context) string {
		t.Helper()
		resp, err := h.client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("deadline")}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetUsername()
	}
	for name, ctx := range map[string]context.Context{"no deadline": t.Context(), "a longer one": longer(t, time.Hour)} {
		got, err := time.ParseDuration(remaining(ctx))
		if err != nil || got <= 0 || got > 300*time.Millisecond {
			t.Fatalf("%s: the handler had %v (%v) left, want at most the 300ms maximum", name, got, err)
		}
	}
	// A shorter deadline of the client's is kept.
	if got, err := time.ParseDuration(remaining(longer(t, 100*time.Millisecond))); err != nil || got > 100*time.Millisecond {
		t.Fatalf("a shorter deadline: the handler had %v (%v) left", got, err)
	}

	// A handler waiting on a hung dependency ends as DeadlineExceeded.
	_, err := h.client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("slow")}})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a hung call: %v, want DeadlineExceeded", err)
	}
}

func TestDefaultMaximumDeadline(t *testing.T) {
	t.Parallel()
	h := start(t, Options{Auth: allowAll}, nil)
	resp, err := h.client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("deadline")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := time.ParseDuration(resp.GetUsername()); err != nil || got > DefaultMaxDeadline || got < DefaultMaxDeadline-5*time.Second {
		t.Fatalf("no deadline and no setting: the handler had %s, want about %v", resp.GetUsername(), DefaultMaxDeadline)
	}
}

func longer(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// A method named in MethodMaxDeadlines has its own bound; the others keep
// the server's.
func TestAMethodMayHaveItsOwnMaximumDeadline(t *testing.T) {
	t.Parallel()
	h := start(t, Options{Auth: allowAll, MaxDeadline: 300 * time.Millisecond,
		MethodMaxDeadlines: map[string]time.Duration{testpb.TestService_UnaryCall_FullMethodName: time.Hour}}, nil)
	resp, err := h.client.UnaryCall(t.Context(), &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("deadline")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := time.ParseDuration(resp.GetUsername()); err != nil || got < 59*time.Minute {
		t.Fatalf("the handler had %s left, want about an hour", resp.GetUsername())
	}
	stream, err := h.client.StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("another method: %v", err)
	}
}
