// Command outreach runs the outreach service.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tandemhq/tandem/platform/identityclient"
	"github.com/tandemhq/tandem/platform/service"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/server"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/migrations"
)

// defaultGRPCAddr is the service's port in the local stack.
const defaultGRPCAddr = "127.0.0.1:9102"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "outreach:", err)
		os.Exit(1)
	}
}

// Config is everything the binary reads at start.
type Config struct {
	Service  service.Config
	Identity identityclient.Config
}

// loadConfig reads the runtime's and identity's settings through
// config.Load, like every binary.
func loadConfig(args []string, out io.Writer) (Config, error) {
	var c Config
	var err error
	c.Service, err = service.LoadConfig("outreach", defaultGRPCAddr, args, out, &c.Identity)
	return c, err
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := loadConfig(args, out)
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, service.Spec{Name: "outreach", Migrations: migrations.FS}, cfg.Service, out)
	if err != nil {
		return err
	}
	identity, err := identityclient.Dial(cfg.Identity, "outreach")
	if err != nil {
		_ = rt.Close(ctx)
		return err
	}
	rt.AddCloser("identity client", func(context.Context) error { return identity.Close() })
	// Callers are users, API tokens and other services, checked with
	// identity; server.Policy says which may call what.
	st := store.New(rt.DB)
	handler := server.New(server.Domain{
		Candidates: candidates.New(st, time.Now),
	})
	srv := rt.NewServer(service.ServerSpec{
		Auth:       identity.Authenticator(server.Policy, rt.Redis, cfg.Service.RedisPrefix, rt.Log),
		Validators: server.Validators,
	})
	outreachv1.RegisterOutreachServiceServer(srv.GRPC(), handler)
	return rt.Serve(ctx)
}
