package grpcclient_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tandemhq/tandem/platform/grpcclient"
)

func serve(t *testing.T, addr string) *grpc.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, health.NewServer())
	go func() {
		// Serve returns nil once stopped; anything else is the server failing
		// under the test.
		if err := s.Serve(l); err != nil {
			t.Errorf("serve %s: %v", addr, err)
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

// waitFor polls the connection's state until it is want or the deadline
// passes.
func waitFor(ctx context.Context, conn *grpc.ClientConn, want connectivity.State) bool {
	for {
		s := conn.GetState()
		if s == want {
			return true
		}
		if s == connectivity.Idle {
			// As a caller's RPC would: an idle channel dials on demand.
			conn.Connect()
		}
		if !conn.WaitForStateChange(ctx, s) {
			return false
		}
	}
}

// A service that was down long enough for gRPC's default backoff to reach
// several seconds is reached again within about a second of coming back.
func TestReconnectsSoonAfterTheServerReturns(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	up := serve(t, addr)

	var dials atomic.Int32
	var d net.Dialer
	conn, err := grpc.NewClient(addr, grpcclient.Options(grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, "tcp", a)
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Connect()
	ready, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if !waitFor(ready, conn, connectivity.Ready) {
		t.Fatalf("never ready: %v", conn.GetState())
	}

	// The server goes away; the client fails to reconnect five times, by
	// which point the default backoff would wait about 6 s.
	up.Stop()
	before := dials.Load()
	down, cancelDown := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancelDown()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for dials.Load()-before < 5 {
		if conn.GetState() == connectivity.Idle {
			conn.Connect()
		}
		select {
		case <-down.Done():
			t.Fatalf("only %d attempts while the server was down", dials.Load()-before)
		case <-tick.C:
		}
	}

	serve(t, addr)
	back := time.Now()
	soon, cancelSoon := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancelSoon()
	if !waitFor(soon, conn, connectivity.Ready) {
		t.Fatalf("not reconnected within 2s of the server's return: %v", conn.GetState())
	}
	t.Logf("reconnected %v after the server returned", time.Since(back).Round(time.Millisecond))
}

func TestConnectParams(t *testing.T) {
	p := grpcclient.ConnectParams()
	if p.Backoff.MaxDelay != grpcclient.MaxBackoff || p.Backoff.MaxDelay > 2*time.Second || p.MinConnectTimeout <= 0 {
		t.Fatalf("connect params %+v", p)
	}
	if p.Backoff.Multiplier <= 1 || p.Backoff.BaseDelay <= 0 || p.Backoff.BaseDelay > p.Backoff.MaxDelay {
		t.Fatalf("backoff %+v", p.Backoff)
	}
}
