package grpcserver

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/apperr"
)

// StreamingInputCall adds up the payload sizes it receives, failing with
// what RecvMsg returned (a validator's refusal, for one).
func (t *testService) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	t.calls.Add(1)
	total := 0
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			who, _ := stream.Context().Value(callerKey{}).(string)
			if who != "tester" {
				return apperr.Unauthenticated("no caller in the stream's context")
			}
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		total += len(req.GetPayload().GetBody())
	}
}

// StreamingOutputCall answers one message per requested size.
func (t *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	t.calls.Add(1)
	for _, p := range req.GetResponseParameters() {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, p.GetSize())}}); err != nil {
			return err
		}
	}
	return nil
}

func streamValidators() map[string]Validator {
	return map[string]Validator{
		testpb.TestService_StreamingInputCall_FullMethodName: func(req any) error {
			if string(req.(*testpb.StreamingInputCallRequest).GetPayload().GetBody()) == "bad" {
				return apperr.InvalidArgument("payload.body", "must not be bad")
			}
			return nil
		},
		testpb.TestService_StreamingOutputCall_FullMethodName: func(req any) error {
			if len(req.(*testpb.StreamingOutputCallRequest).GetResponseParameters()) == 0 {
				return apperr.InvalidArgument("response_parameters", "is required")
			}
			return nil
		},
	}
}

func sendAll(t *testing.T, h *harness, ctx context.Context, bodies ...string) (*testpb.StreamingInputCallResponse, error) {
	t.Helper()
	stream, err := h.client.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		// A stream the server has ended answers Send with io.EOF; the
		// status comes from CloseAndRecv.
		if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: []byte(b)}}); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	return stream.CloseAndRecv()
}

func TestClientStreamIsAuthenticatedAndEachMessageValidated(t *testing.T) {
	h := start(t, Options{Auth: allowAll, Validators: streamValidators()}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	resp, err := sendAll(t, h, ctx, "ab", "cde")
	if err != nil || resp.GetAggregatedPayloadSize() != 5 {
		t.Fatalf("good stream: %v %v", resp, err)
	}
	_, err = sendAll(t, h, ctx, "ok", "bad", "never seen")
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || st.Message() != "must not be bad" {
		t.Fatalf("a bad message in the stream: %v", err)
	}
}

func TestServerStreamRequestIsValidatedAndDenyAllHolds(t *testing.T) {
	h := start(t, Options{Auth: allowAll, Validators: streamValidators()}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	recvAll := func(c testpb.TestServiceClient, req *testpb.StreamingOutputCallRequest) (int, error) {
		stream, err := c.StreamingOutputCall(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			_, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			n++
		}
	}
	if n, err := recvAll(h.client, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}}}); err != nil || n != 2 {
		t.Fatalf("good request: %d messages, %v", n, err)
	}
	before := h.svc.calls.Load()
	if _, err := recvAll(h.client, &testpb.StreamingOutputCallRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad request: %v", err)
	}
	// The generated code receives a server stream's request before it
	// calls the method, so the method never saw the bad one.
	if h.svc.calls.Load() != before {
		t.Fatalf("the handler ran for a refused request (%d calls, want %d)", h.svc.calls.Load(), before)
	}

	denied := start(t, Options{Validators: streamValidators()}, nil)
	if _, err := recvAll(denied.client, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without auth: %v", err)
	}
	if denied.svc.calls.Load() != 0 {
		t.Fatal("the handler ran for a caller DenyAll refused")
	}
}
