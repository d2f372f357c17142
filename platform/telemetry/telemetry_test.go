package telemetry

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// collector is a minimal OTLP/gRPC trace receiver.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.names = append(c.names, s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func TestSpansReachTheCollector(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, c)
	go func() {
		if err := srv.Serve(lis); err != nil {
			t.Error(err)
		}
	}()
	defer srv.Stop()
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	shutdown, err := Setup(t.Context(), Config{ServiceName: "test", OTLPEndpoint: lis.Addr().String(), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	_, span := otel.Tracer("t").Start(t.Context(), "work")
	span.End()
	// Shutdown flushes the batch: after it, the collector has the span.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = shutdown(ctx) //nolint:errcheck // the metric exporter fails: this collector has no metrics service; the spans are checked below
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.names) != 1 || c.names[0] != "work" {
		t.Fatalf("collector got %v", c.names)
	}
}

func TestNoEndpointExportsNothing(t *testing.T) {
	before := otel.GetTracerProvider()
	shutdown, err := Setup(t.Context(), Config{ServiceName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Fatal("without an endpoint the tracer provider must stay as it was")
	}
	if err := shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}
