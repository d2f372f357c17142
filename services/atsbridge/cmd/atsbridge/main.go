// Command atsbridge runs the atsbridge service.
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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/identityclient"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/service"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/audit"
	atsconfig "github.com/tandemhq/tandem/services/atsbridge/internal/config"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/inbound"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/mappings"
	"github.com/tandemhq/tandem/services/atsbridge/internal/outreachclient"
	"github.com/tandemhq/tandem/services/atsbridge/internal/pushes"
	"github.com/tandemhq/tandem/services/atsbridge/internal/server"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
	"github.com/tandemhq/tandem/services/atsbridge/migrations"
)

// defaultGRPCAddr is the service's port in the local stack.
const defaultGRPCAddr = "127.0.0.1:9103"

// leverMaxWait is the longest a Lever call waits in a worker for the
// limit or a Retry-After; longer waits snooze the job instead.
const leverMaxWait = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "atsbridge:", err)
		os.Exit(1)
	}
}

// Config is everything the binary reads at start.
type Config struct {
	Service  service.Config
	Identity identityclient.Config
	ATS      atsconfig.Settings
	Outreach outreachclient.Config
	// Events names the services that receive atsbridge's events
	// (outreach: ats.job_*).
	Events events.Config
}

// loadConfig reads the runtime's, identity's and atsbridge's settings
// through config.Load, like every binary.
func loadConfig(args []string, out io.Writer) (Config, error) {
	var c Config
	var err error
	c.Service, err = service.LoadConfig("atsbridge", defaultGRPCAddr, args, out, &c.Identity, &c.ATS, &c.Outreach, &c.Events)
	return c, err
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := loadConfig(args, out)
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, service.Spec{Name: "atsbridge", Migrations: migrations.FS}, cfg.Service, out)
	if err != nil {
		return err
	}
	// The sink records what it receives in event_versions (ADR 15).
	if err := events.Migrate(ctx, rt.DB, "atsbridge", rt.Log); err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	identity, err := identityclient.Dial(cfg.Identity, "atsbridge")
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("identity client", func(context.Context) error { return identity.Close() })
	outreach, err := outreachclient.Dial(cfg.Outreach, authz.ServiceCredentials{Name: "atsbridge", Token: cfg.Identity.ServiceTokens.Current})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("outreach client", func(context.Context) error { return outreach.Close() })

	// Each Lever connection's budget, shared by every replica (ADR 6).
	limit := connections.RateLimit{PerSecond: float64(cfg.ATS.LeverRatePerSecond), Burst: cfg.ATS.LeverBurst}
	limiter, err := ratelimit.NewLimiter(rt.Redis, rt.Keys("ratelimit-lever"), ratelimit.Limit{Events: cfg.ATS.LeverRatePerSecond, Per: time.Second, Burst: cfg.ATS.LeverBurst})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	// The health record reads the budget in use from the same limiter.
	limit.Meter = limiter
	leverAPI, err := lever.New(cfg.ATS.LeverURL, providerhttp.New(providerhttp.Options{Provider: "lever", Limiter: limiter,
		MaxRetryAfter: leverMaxWait, Logger: rt.Log}))
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}

	// Events go out through River jobs enqueued in the transaction of the
	// change (ADR 15): the import mirrors postings into outreach's jobs.
	subs, err := cfg.Events.Subscribers()
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	delivery, err := events.NewDelivery(events.DeliveryOptions{Source: "atsbridge", Subscribers: subs,
		Credentials: authz.ServiceCredentials{Name: "atsbridge", Token: cfg.Identity.ServiceTokens.Current}, Logger: rt.Log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event delivery", func(context.Context) error { return delivery.Close() })

	st := store.New(rt.DB)
	workers := river.NewWorkers()
	// The default queue applies webhook deliveries: a poll of 100ms, not
	// River's second, bounds the wait when an insert notification does not
	// wake it (docs/benchmarks.md, a Lever webhook → the stage in outreach).
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 100 * time.Millisecond},
		pushes.Queue: pushes.QueueConfig(cfg.ATS.PushWorkers)}
	delivery.AddTo(workers, queues)
	// The publisher needs the River client, which needs the import worker
	// that publishes: the worker gets it before anything runs.
	var pub publisherHolder
	importer := connections.NewImportWorker(st, accessTokens{identity.Identity()}, leverAPI, &pub, rt.Log)
	river.AddWorker(workers, importer)
	// The inbound sync (ADR 25): webhooks registered once a connection is
	// connected, their signature tokens sealed with atsbridge's own keys;
	// deliveries applied by a job through the stage mapping.
	ring, err := cfg.ATS.Ring()
	if err != nil {
		return errors.Join(fmt.Errorf("key-ring: %w", err), rt.Close(ctx))
	}
	if cfg.ATS.KeyRing.Value() == atsconfig.DevKeyRing {
		rt.Log.WarnContext(ctx, "using the development key ring; set TANDEM_KEY_RING for atsbridge in production")
	}
	sealer := envelope.NewVault(ring, st.DataKeys(), envelope.VaultOptions{})
	var jobsLater jobsHolder
	importer.OnConnected(inbound.EnqueueRegistration(&jobsLater))
	applier := inbound.NewApplier(st, &pub, outreach, rt.Log)
	river.AddWorker(workers, inbound.NewApplyWorker(st, applier, accessTokens{identity.Identity()}, leverAPI, rt.Log))
	river.AddWorker(workers, inbound.NewRegisterWorker(st, accessTokens{identity.Identity()}, leverAPI, sealer, cfg.ATS.WebhookBaseURL, rt.Log))
	// The reconcile corrects what a lost webhook missed; its cursors are
	// in Redis (DESIGN §2).
	river.AddWorker(workers, inbound.NewReconcileWorker(st, applier, accessTokens{identity.Identity()}, leverAPI,
		store.NewSyncCursors(rt.Redis, rt.Keys("sync-cursor")), &jobsLater, rt.Log))
	river.AddWorker(workers, events.NewPruneWorker(rt.DB, rt.Log))
	// Tandem's changes go to the ATS as pushes (package pushes).
	push := pushes.New(st, accessTokens{identity.Identity()}, leverAPI, outreach, users{identity.Identity()}, &pub,
		pushes.Options{Claim: cfg.ATS.PushClaim, Logger: rt.Log})
	river.AddWorker(workers, push.Worker())
	river.AddWorker(workers, push.SweepWorker())
	jc, err := rt.NewJobs(service.JobsSpec{Workers: workers, Queues: queues,
		Periodic: []*river.PeriodicJob{events.PrunePeriodicJob(0, 0), pushes.SweepPeriodicJob(0), inbound.ReconcilePeriodicJob(0)}})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	publisher, err := events.NewPublisher(jc, events.PublisherOptions{Source: "atsbridge", Subscribers: subs, Schema: "atsbridge", DB: rt.DB, Logger: rt.Log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event publisher", func(context.Context) error { return publisher.Close() })
	pub.Publisher = publisher
	push.SetJobs(jc)
	jobsLater.JobInserter = jc
	conns := connections.New(st, jc, limit, rt.Log)
	conns.OnConnected(push.ReleaseHeld)
	sink := events.NewSink(events.NewReceiver(rt.DB, events.ReceiverOptions{Logger: rt.Log}))
	sink.Handle(connections.EventConnectionChanged, conns.ApplyConnectionChanged)
	// Outreach's changes that the ATS must see.
	sink.Handle(pushes.EventEnrollmentCreated, push.ApplyEnrollmentCreated)
	sink.Handle(pushes.EventStageChanged, push.ApplyStageChanged)
	sink.Handle(pushes.EventNoteCreated, push.ApplyNoteCreated)

	// Callers are users, API tokens and other services, checked with
	// identity; server.Policy says which may call what.
	srv := rt.NewServer(service.ServerSpec{Auth: identity.Authenticator(events.AddSinkPolicy(server.Policy), rt.Redis, cfg.Service.RedisPrefix, rt.Log)})
	atsbridgev1.RegisterAtsBridgeServiceServer(srv.GRPC(), server.New(conns, mappings.New(st, outreach), audit.NewLog(rt.DB)).
		WithInbound(inbound.NewReceiver(st, sealer, jc, rt.Log), resyncer{st: st, jobs: jc}))
	sink.Register(srv.GRPC())
	return rt.Serve(ctx)
}

// publisherHolder lets the import worker be built before the publisher,
// which needs the River client the worker goes into; it is set before
// serving.
type publisherHolder struct{ *events.Publisher }

// resyncer queues a reconcile on demand (ResyncAtsConnection).
type resyncer struct {
	st   *store.Store
	jobs inbound.JobInserter
}

func (r resyncer) Resync(ctx context.Context, orgID string, full bool) (string, error) {
	return inbound.Resync(ctx, r.st, r.jobs, orgID, full)
}

// jobsHolder lets the import's hook be built before the River client it
// enqueues with; it is set before serving.
type jobsHolder struct{ inbound.JobInserter }

// accessTokens fits identity's generated client to the importer's
// interface.
type accessTokens struct {
	api identityv1.IdentityServiceClient
}

// users reads the recruiter a push acts for from identity.
type users struct {
	api identityv1.IdentityServiceClient
}

// UserEmail implements pushes.Users.
func (u users) UserEmail(ctx context.Context, orgID, userID string) (string, error) {
	resp, err := u.api.GetUserForService(ctx, &identityv1.GetUserForServiceRequest{OrganizationId: orgID, UserId: userID})
	if status.Code(err) == codes.NotFound {
		return "", pushes.ErrGone
	}
	if err != nil {
		return "", fmt.Errorf("identity GetUserForService: %w", err)
	}
	return resp.GetUser().GetEmail(), nil
}

func (a accessTokens) GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	return a.api.GetAccessToken(ctx, req)
}
