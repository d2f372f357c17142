// Command mailbox runs the mailbox service.
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
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/service"
	mailboxv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/mailbox/v1"
	mailboxconfig "github.com/tandemhq/tandem/services/mailbox/internal/config"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/mailboxes"
	"github.com/tandemhq/tandem/services/mailbox/internal/sending"
	"github.com/tandemhq/tandem/services/mailbox/internal/server"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
	"github.com/tandemhq/tandem/services/mailbox/internal/subscriptions"
	"github.com/tandemhq/tandem/services/mailbox/migrations"
)

// defaultGRPCAddr is the service's port in the local stack.
const defaultGRPCAddr = "127.0.0.1:9104"

// graphMaxWait is the longest a Graph call waits in a worker for a limit
// or a Retry-After; longer waits snooze the job instead.
const graphMaxWait = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mailbox:", err)
		os.Exit(1)
	}
}

// Config is everything the binary reads at start.
type Config struct {
	Service  service.Config
	Identity identityclient.Config
	// Events names the services that receive the mailbox's events
	// (outreach gets message.sent).
	Events  events.Config
	Mailbox mailboxconfig.Settings
	// Inbound is hearing back: the subscriptions' webhook URL, the
	// catch-up schedule.
	Inbound subscriptions.Config
}

// loadConfig reads the runtime's and identity's settings through
// config.Load, like every binary.
func loadConfig(args []string, out io.Writer) (Config, error) {
	var c Config
	var err error
	c.Service, err = service.LoadConfig("mailbox", defaultGRPCAddr, args, out, &c.Identity, &c.Events, &c.Mailbox, &c.Inbound)
	return c, err
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := loadConfig(args, out)
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, service.Spec{Name: "mailbox", Migrations: migrations.FS}, cfg.Service, out)
	if err != nil {
		return err
	}
	// The sink records what it receives in event_versions (ADR 15).
	if err := events.Migrate(ctx, rt.DB, "mailbox", rt.Log); err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	identity, err := identityclient.Dial(cfg.Identity, "mailbox")
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("identity client", func(context.Context) error { return identity.Close() })

	// Every Graph call for a mailbox shares its limits across replicas:
	// 4 at once, 10,000 per 10 minutes, a 429's Retry-After.
	limits, err := graph.NewSharedLimits(rt.Redis, rt.Keys("graph-concurrency"), rt.Keys("graph-requests"), rt.Log)
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	graphClient, err := graph.New(graph.Options{BaseURL: cfg.Mailbox.GraphURL, Tokens: graph.NewIdentityTokens(identity.Identity()),
		HTTP: limits.HTTP(rt.Log, graphMaxWait), SendHTTP: limits.HTTP(rt.Log, time.Nanosecond)})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}

	subs, err := cfg.Events.Subscribers()
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	delivery, err := events.NewDelivery(events.DeliveryOptions{Source: "mailbox", Subscribers: subs,
		Credentials: authz.ServiceCredentials{Name: "mailbox", Token: cfg.Identity.ServiceTokens.Current}, Logger: rt.Log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event delivery", func(context.Context) error { return delivery.Close() })

	st := store.New(rt.DB)
	minute, err := ratelimit.NewQuota(rt.Redis, rt.Keys("sent-per-minute"), sending.MinuteWindow(cfg.Mailbox.MessagesPerMinute))
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	// The workers need the River client and the publisher, which need the
	// workers: they get stand-ins, filled in before River starts.
	jobsRef, pubRef := &riverRef{}, &publisherRef{}
	workers, queues := river.NewWorkers(), map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 50,
		// The next message of a mailbox is made available (JobRetryTx) when
		// the one ahead is sent; River finds it within a poll interval,
		// which is what a mailbox's messages wait between them.
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}}
	delivery.AddTo(workers, queues)
	river.AddWorker(workers, mailboxes.NewFetchAddressesWorker(st, graphClient, rt.Log))
	river.AddWorker(workers, sending.NewSendWorker(sending.SendWorkerOptions{Store: st, Jobs: jobsRef, Mail: graphClient,
		Limits: sending.NewLimits(st, minute, cfg.Mailbox.MessagesPerMinute), Publisher: pubRef, Logger: rt.Log,
		Timing: sending.Timing{ConfirmAfter: cfg.Mailbox.ConfirmAfter, JobTimeout: cfg.Mailbox.SendJobTimeout}}))
	river.AddWorker(workers, sending.NewCleanDraftsWorker(st, graphClient, rt.Log))
	in, err := newInboundSide(cfg.Inbound, rt.DB, rt.Redis, rt.Keys(inbound.CursorPurpose), graphClient, st, workers, jobsRef, pubRef, rt.Log)
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	river.AddWorker(workers, sending.NewReleaseWorker(st, jobsRef))
	// mailbox receives identity's events: their ids are forgotten after
	// 30 days (platform/events).
	river.AddWorker(workers, events.NewPruneWorker(rt.DB, rt.Log))
	jc, err := rt.NewJobs(service.JobsSpec{Workers: workers, Queues: queues,
		Periodic: append([]*river.PeriodicJob{sending.CleanDraftsPeriodicJob(sending.DefaultCleanEvery), events.PrunePeriodicJob(0, 0)},
			in.periodic...),
		RescueStuckJobsAfter: cfg.Mailbox.RescueAfter, JobTimeout: cfg.Mailbox.SendJobTimeout})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	jobsRef.Client = jc
	pub, err := events.NewPublisher(jc, events.PublisherOptions{Source: "mailbox", Subscribers: subs, Schema: "mailbox", DB: rt.DB, Logger: rt.Log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event publisher", func(context.Context) error { return pub.Close() })
	pubRef.Publisher = pub

	pipeline := sending.New(st, jc, cfg.Mailbox.MessagesPerMinute, rt.Log)
	registry := mailboxes.New(st, jc, mailboxes.Settings{DailyMessageLimit: cfg.Mailbox.DefaultDailyMessageLimit, MinGap: cfg.Mailbox.DefaultMinGap}, rt.Log)
	// A mailbox connected again lets its held queue go.
	registry.OnConnected(pipeline.ReleaseOnConnect)
	sink := events.NewSink(events.NewReceiver(rt.DB, events.ReceiverOptions{Logger: rt.Log}))
	for _, typ := range []string{mailboxes.EventConnected, mailboxes.EventReconnectRequired, mailboxes.EventDisconnected} {
		sink.Handle(typ, registry.ApplyConnectionChanged)
	}
	inboundHandler, inboundReader := in.start(registry)

	// Callers are users, API tokens and other services, checked with
	// identity; server.Policy says which may call what.
	srv := rt.NewServer(service.ServerSpec{Auth: identity.Authenticator(events.AddSinkPolicy(server.Policy), rt.Redis, cfg.Service.RedisPrefix, rt.Log)})
	mailboxv1.RegisterMailboxServiceServer(srv.GRPC(), server.New(server.Domain{Sending: pipeline, Mailboxes: registry, Inbound: inboundReader,
		Requests: limits.Requests, Logger: rt.Log}))
	mailboxv1.RegisterMailboxInboundServiceServer(srv.GRPC(), inboundHandler)
	sink.Register(srv.GRPC())
	return rt.Serve(ctx)
}

// riverRef and publisherRef stand in for the River client and the event
// publisher in the workers (sending and inbound), registered before those
// exist; both are set before River starts, so no job ever sees them empty.
type riverRef struct{ *jobs.Client }

type publisherRef struct{ *events.Publisher }
