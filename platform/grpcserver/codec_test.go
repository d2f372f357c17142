package grpcserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
)

// rawCodec sends its bytes as they are, so a test can send a request that
// is not protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

func TestUndecodableRequestIsInvalidArgumentWithAFixedMessage(t *testing.T) {
	h := start(t, Options{Auth: allowAll}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Field 3 (payload), length-delimited, announcing 100 bytes that never come.
	var out []byte
	err := h.conn.Invoke(ctx, testpb.TestService_UnaryCall_FullMethodName, []byte{0x1a, 0x64, 0x01}, &out, grpc.ForceCodecV2(rawCodec{}))
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || st.Message() != UndecodableMessage {
		t.Fatalf("want InvalidArgument %q, got %v %q", UndecodableMessage, st.Code(), st.Message())
	}
	for _, leak := range []string{"proto", "grpc:", "unmarshal"} {
		if strings.Contains(st.Message(), leak) {
			t.Fatalf("library text %q reached the client: %q", leak, st.Message())
		}
	}
	if n := h.svc.calls.Load(); n != 0 {
		t.Fatalf("the handler ran %d times on an undecodable request", n)
	}
	// The server still decodes good requests, on the same connection.
	if resp, err := call(t, h, "ok"); err != nil || resp.GetUsername() != "ok" {
		t.Fatalf("a good request after a bad one: %v %v", resp, err)
	}
}

func listServices(t *testing.T, h *harness) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := grpc_reflection_v1.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&grpc_reflection_v1.ServerReflectionRequest{MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

func TestReflectionIsOffUnlessAskedFor(t *testing.T) {
	off := start(t, Options{Auth: allowAll}, nil)
	if names, err := listServices(t, off); status.Code(err) != codes.Unimplemented {
		t.Fatalf("reflection by default: %v %v, want Unimplemented", names, err)
	}
	on := start(t, Options{Auth: allowAll, Reflection: true}, nil)
	names, err := listServices(t, on)
	if err != nil || !strings.Contains(strings.Join(names, ","), "grpc.testing.TestService") {
		t.Fatalf("reflection when asked for: %v %v", names, err)
	}
}
