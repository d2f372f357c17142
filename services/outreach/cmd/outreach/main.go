// Command outreach runs the outreach service.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/identityclient"
	"github.com/tandemhq/tandem/platform/service"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/customfields"
	"github.com/tandemhq/tandem/services/outreach/internal/jobs"
	"github.com/tandemhq/tandem/services/outreach/internal/notes"
	"github.com/tandemhq/tandem/services/outreach/internal/referrals"
	"github.com/tandemhq/tandem/services/outreach/internal/server"
	"github.com/tandemhq/tandem/services/outreach/internal/stages"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/timeline"
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
	// Events names the services that receive outreach's events.
	Events events.Config
}

// loadConfig reads the runtime's and identity's settings through
// config.Load, like every binary.
func loadConfig(args []string, out io.Writer) (Config, error) {
	var c Config
	var err error
	c.Service, err = service.LoadConfig("outreach", defaultGRPCAddr, args, out, &c.Identity, &c.Events)
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
	// Events go out through River jobs enqueued in the transaction of the
	// change (ADR 15), delivered to the subscribers configured.
	subs, err := cfg.Events.Subscribers()
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	delivery, err := events.NewDelivery(events.DeliveryOptions{Source: "outreach", Subscribers: subs,
		Credentials: authz.ServiceCredentials{Name: "outreach", Token: cfg.Identity.ServiceTokens.Current}, Logger: rt.Log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event delivery", func(context.Context) error { return delivery.Close() })
	workers, queues := river.NewWorkers(), map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}}
	delivery.AddTo(workers, queues)
	st := store.New(rt.DB)
	river.AddWorker(workers, candidates.NewPurgeWorker(st, rt.Log))
	periodic := []*river.PeriodicJob{candidates.PurgePeriodicJob(candidates.DefaultPurgeEvery)}
	jc, err := rt.NewJobs(service.JobsSpec{Workers: workers, Queues: queues, Periodic: periodic})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	pub, err := events.NewPublisher(jc, events.PublisherOptions{Source: "outreach", Subscribers: subs, Schema: "outreach", DB: rt.DB, Logger: rt.Log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event publisher", func(context.Context) error { return pub.Close() })

	handler := server.New(server.Domain{
		Candidates:    candidates.New(st, time.Now),
		Stages:        stages.New(st, pub, time.Now),
		Timeline:      timeline.New(st),
		Notes:         notes.New(st, pub, time.Now),
		CustomFields:  customfields.New(st),
		Jobs:          jobs.New(st),
		Referrals:     referrals.New(st, pub, time.Now),
		Conversations: conversations.New(st, pub, time.Now),
	})
	srv := rt.NewServer(service.ServerSpec{
		Auth:       identity.Authenticator(server.Policy, rt.Redis, cfg.Service.RedisPrefix, rt.Log),
		Validators: server.Validators,
	})
	outreachv1.RegisterOutreachServiceServer(srv.GRPC(), handler)
	return rt.Serve(ctx)
}
