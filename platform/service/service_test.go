package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tandemhq/tandem/platform/identityclient"
	"github.com/tandemhq/tandem/platform/logging/logtest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/poll"
)

var migrations = fstest.MapFS{"00001_t.sql": {Data: []byte("-- +goose Up\nCREATE TABLE t (id int);\n")}}

// A service starts on its schema, reports SERVING once Postgres and Redis
// answer, and stops cleanly when its context ends.
func TestServiceLifecycle(t *testing.T) {
	cfg := Config{
		DatabaseURL: config.Secret(pgtest.NewDatabase(t)), RedisURL: config.Secret(pgtest.RedisURL()),
		RedisPrefix: pgtest.RedisPrefix(t), Logging: config.Logging{LogLevel: "info", LogFormat: "json"},
		HealthInterval: 20 * time.Millisecond, Shutdown: config.Shutdown{ShutdownTimeout: 5 * time.Second}, StartupTimeout: 10 * time.Second,
	}
	var p config.Problems
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.Validate(&p)
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rt, err := Start(ctx, Spec{Name: "svc_test", Migrations: migrations}, cfg, logs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.DB.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("migrations did not run on the service's schema: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.ServeListener(ctx, lis) }()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	poll.Until(t, 10*time.Second, func() error {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health is %v (%w), want SERVING; logs:\n%s", resp.GetStatus(), err, logs.String())
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop")
	}
	if err := rt.DB.Ping(context.Background()); err == nil {
		t.Fatal("the pool should be closed after shutdown")
	}
}

func TestConfigValidation(t *testing.T) {
	var p config.Problems
	(&Config{GRPCAddr: "nope", Logging: config.Logging{LogLevel: "loud", LogFormat: "xml"}}).Validate(&p)
	err := p.Err()
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{"grpc-addr", "database-url", "redis-url", "log-level", "log-format", "health-interval", "shutdown-timeout"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("problems do not name %s: %v", want, err)
		}
	}
}

func TestTimeoutSettingsAreChecked(t *testing.T) {
	var p config.Problems
	(&Config{DatabaseConnectTimeout: time.Nanosecond, DatabaseStatementTimeout: -time.Second, GRPCMaxDeadline: time.Hour}).Validate(&p)
	err := p.Err()
	for _, want := range []string{"database-connect-timeout", "database-statement-timeout", "grpc-max-deadline"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("problems do not name %s: %v", want, err)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	var out bytes.Buffer
	c, err := LoadConfig("svc", "127.0.0.1:9999", []string{"-print-config", "-redis-url", "redis://:pw@localhost:6379/0"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != "127.0.0.1:9999" || c.RedisURL.Value() != "redis://:pw@localhost:6379/0" {
		t.Fatalf("got %+v", c)
	}
	if bytes.Contains(out.Bytes(), []byte("pw@")) || !bytes.Contains(out.Bytes(), []byte("grpc-addr=127.0.0.1:9999")) {
		t.Fatalf("printed config:\n%s", out.String())
	}
	if _, err := LoadConfig("svc", "x", []string{"-log-level", "loud"}, &out); err == nil {
		t.Fatal("want a validation error")
	}

	// Extra settings are parsed, validated and printed with the runtime's.
	var id identityclient.Config
	out.Reset()
	if _, err := LoadConfig("svc", "127.0.0.1:9999", []string{"-print-config", "-identity-addr", "10.0.0.1:9101"}, &out, &id); err != nil {
		t.Fatal(err)
	}
	if id.Addr != "10.0.0.1:9101" || !bytes.Contains(out.Bytes(), []byte("identity-addr=10.0.0.1:9101")) || bytes.Contains(out.Bytes(), []byte(id.ServiceTokens.Current.Value())) {
		t.Fatalf("extra settings %+v, printed:\n%s", id, out.String())
	}
	_, err = LoadConfig("svc", "127.0.0.1:9999", []string{"-grpc-addr", "nope", "-service-token", "short"}, &out, &id)
	if err == nil || !strings.Contains(err.Error(), "grpc-addr") || !strings.Contains(err.Error(), "service-token") {
		t.Fatalf("want both groups' problems, got %v", err)
	}
}

func TestGRPCReflectionIsOffByDefault(t *testing.T) {
	c, err := LoadConfig("svc", "127.0.0.1:0", nil, io.Discard)
	if err != nil || c.GRPCReflection {
		t.Fatalf("default: %v reflection=%v", err, c.GRPCReflection)
	}
	c, err = LoadConfig("svc", "127.0.0.1:0", []string{"-grpc-reflection"}, io.Discard)
	if err != nil || !c.GRPCReflection {
		t.Fatalf("-grpc-reflection: %v reflection=%v", err, c.GRPCReflection)
	}
}
