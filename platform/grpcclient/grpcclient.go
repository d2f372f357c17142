// Package grpcclient holds the dial options every Tandem client of an
// internal service uses (the gateway's upstreams, identityclient), so that
// all of them come back quickly after the service they call restarts.
//
// gRPC's default backoff between connection attempts starts at 1 s and
// grows to 120 s: after a minute-long outage a client may wait several
// seconds more after the service is serving again, answering Unavailable
// all along. Internal services are close and cheap to dial, so the
// attempts here stay at most MaxBackoff apart.
package grpcclient

import (
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// Connection parameters of internal clients.
const (
	// MaxBackoff is the longest wait between two connection attempts.
	MaxBackoff = time.Second
	// MinConnectTimeout is how long one attempt may take before it is
	// given up; a service that accepts but hangs is tried again.
	MinConnectTimeout = 2 * time.Second
)

// ConnectParams are the connection parameters of internal clients: gRPC's
// default schedule (base delay, multiplier, jitter) with MaxBackoff as its
// ceiling.
func ConnectParams() grpc.ConnectParams {
	b := backoff.DefaultConfig
	b.BaseDelay = 100 * time.Millisecond
	b.MaxDelay = MaxBackoff
	return grpc.ConnectParams{Backoff: b, MinConnectTimeout: MinConnectTimeout}
}

// Options are the dial options of a client of an internal service:
// plaintext inside the cluster, traced, and ConnectParams. Callers append
// their own (per-RPC credentials, say).
func Options(extra ...grpc.DialOption) []grpc.DialOption {
	return append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
		grpc.WithConnectParams(ConnectParams()),
	}, extra...)
}
