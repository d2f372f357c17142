// Command outreach runs the outreach service.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	// Flow schedules are computed in the flows' time zones: the binary
	// carries the database, so every machine computes the same times.
	_ "time/tzdata"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/identityclient"
	"github.com/tandemhq/tandem/platform/service"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/atsjobs"
	"github.com/tandemhq/tandem/services/outreach/internal/atsprofiles"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/customfields"
	"github.com/tandemhq/tandem/services/outreach/internal/emails"
	"github.com/tandemhq/tandem/services/outreach/internal/files"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/jobs"
	"github.com/tandemhq/tandem/services/outreach/internal/mailboxclient"
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
	// Files says where candidates' files are kept.
	Files FilesConfig
	// Mailbox is where flow steps are handed for sending.
	Mailbox mailboxclient.Config
	// ATSBridge checks links of flows to ATS jobs.
	ATSBridge atsjobs.Config
	// Jobs tunes River.
	Jobs jobSettings
}

// jobSettings are River's settings that the service exposes.
type jobSettings struct {
	// RescueAfter is when River runs again a job whose process died (a
	// step job of a killed replica): longer than every worker's timeout.
	RescueAfter time.Duration
}

// jobTimeout bounds every job that does not say otherwise (purges,
// prunes: batches that resume on the next run); step jobs and event
// deliveries have 30 s of their own. minRescueAfter exceeds them all, as
// River requires.
const (
	jobTimeout     = 30 * time.Second
	minRescueAfter = 35 * time.Second
)

// Register implements config.Group.
func (j *jobSettings) Register(fs *flag.FlagSet) {
	fs.DurationVar(&j.RescueAfter, "stuck-job-rescue-after", 2*time.Minute, "when a job whose process died (a flow step, an event delivery) is run again")
}

// Validate implements config.Group.
func (j *jobSettings) Validate(p *config.Problems) {
	if j.RescueAfter < minRescueAfter || j.RescueAfter > 24*time.Hour {
		p.Addf("stuck-job-rescue-after", "must be between %s and 24h", minRescueAfter)
	}
}

// FilesConfig is the file storage's settings (ADR 17).
type FilesConfig struct {
	// BucketURL is a gocloud.dev/blob URL: file:///dir for one machine,
	// s3://bucket?region=... (or an S3-compatible endpoint) in production.
	BucketURL string
	// MaxConcurrentUploads bounds the uploads a replica holds in memory.
	MaxConcurrentUploads int
}

// defaultBucketURL is a local directory, for make run and a developer's
// machine; more than one replica needs a shared bucket.
func defaultBucketURL() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(os.TempDir(), "tandem-files")), RawQuery: "create_dir=true"}).String()
}

// Register implements config.Group.
func (c *FilesConfig) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.BucketURL, "files-bucket-url", defaultBucketURL(), "where candidates' files are kept: file:///dir (one machine) or s3://bucket?region=... (production)")
	fs.IntVar(&c.MaxConcurrentUploads, "files-max-concurrent-uploads", files.DefaultMaxConcurrentUploads, "uploads a replica holds in memory at once (each up to 10 MB); more wait")
}

// Validate implements config.Group.
func (c *FilesConfig) Validate(p *config.Problems) {
	u, err := url.Parse(c.BucketURL)
	if err != nil || (u.Scheme != "file" && u.Scheme != "s3") {
		p.Addf("files-bucket-url", "must be a file:// or s3:// URL")
	}
	if c.MaxConcurrentUploads < 1 {
		p.Addf("files-max-concurrent-uploads", "must be at least 1")
	}
}

// loadConfig reads the runtime's and identity's settings through
// config.Load, like every binary.
func loadConfig(args []string, out io.Writer) (Config, error) {
	var c Config
	var err error
	c.Service, err = service.LoadConfig("outreach", defaultGRPCAddr, args, out, &c.Identity, &c.Events, &c.Files, &c.Mailbox, &c.Jobs, &c.ATSBridge)
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
	// Files' bytes are in a bucket; the bucket is opened (and checked) at
	// start, so a wrong URL stops the service here.
	bucket, err := files.OpenBucket(ctx, cfg.Files.BucketURL)
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("files bucket", func(context.Context) error { return bucket.Close() })
	if strings.HasPrefix(cfg.Files.BucketURL, "file:") {
		rt.Log.WarnContext(ctx, "candidates' files are kept in a local directory; more than one replica needs a shared bucket (s3://)", slog.String("files_bucket_url", cfg.Files.BucketURL))
	}
	// outreach receives mailbox's events (message.sent, message.received)
	// and records their ids in event_versions (ADR 15).
	if err := events.Migrate(ctx, rt.DB, "outreach", rt.Log); err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	mailbox, err := mailboxclient.Dial(cfg.Mailbox, authz.ServiceCredentials{Name: "outreach", Token: cfg.Identity.ServiceTokens.Current})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("mailbox client", func(context.Context) error { return mailbox.Close() })
	atsbridge, err := atsjobs.Dial(cfg.ATSBridge, authz.ServiceCredentials{Name: "outreach", Token: cfg.Identity.ServiceTokens.Current})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("atsbridge client", func(context.Context) error { return atsbridge.Close() })
	// Step jobs have a queue of their own: a burst of due steps does not
	// hold up purges, and event delivery has its own (ADR 15).
	workers := river.NewWorkers()
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}, flows.QueueSteps: flows.StepQueue()}
	delivery.AddTo(workers, queues)
	st := store.New(rt.DB)
	// The publisher needs the River client, which needs its workers, one
	// of which runs the flows' rules: the rules get the publisher and the
	// client once both exist, before anything is served.
	var pubHolder publisherHolder
	stageRules := stages.New(st, &pubHolder, time.Now)
	flowRules := flows.New(flows.Options{Store: st, Publisher: &pubHolder, StagePublish: stageRules.PublishMove, Mailbox: mailbox,
		JobLinks: atsjobs.NewLinks(st, atsbridge), Logger: rt.Log})
	// A purge removes the purged candidates' files too: their bytes by a
	// job it enqueues in its transaction.
	river.AddWorker(workers, candidates.NewPurgeWorker(st, files.EnqueueRemovalFromJob, rt.Log))
	river.AddWorker(workers, files.NewRemoveBlobsWorker(bucket, rt.Log))
	river.AddWorker(workers, flows.NewStepWorker(flowRules))
	river.AddWorker(workers, flows.NewCancelWorker(flowRules))
	// One-off e-mails go to mailbox through jobs of their own.
	oneOff := emails.New(emails.Options{Store: st, Mailbox: mailbox, Logger: rt.Log})
	river.AddWorker(workers, emails.NewSubmitWorker(oneOff))
	river.AddWorker(workers, emails.NewCancelWorker(oneOff))
	river.AddWorker(workers, events.NewPruneWorker(rt.DB, rt.Log))
	periodic := []*river.PeriodicJob{candidates.PurgePeriodicJob(candidates.DefaultPurgeEvery), events.PrunePeriodicJob(0, 0)}
	jc, err := rt.NewJobs(service.JobsSpec{Workers: workers, Queues: queues, Periodic: periodic, RescueStuckJobsAfter: cfg.Jobs.RescueAfter, JobTimeout: jobTimeout})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	pub, err := events.NewPublisher(jc, events.PublisherOptions{Source: "outreach", Subscribers: subs, Schema: "outreach", DB: rt.DB, Logger: rt.Log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event publisher", func(context.Context) error { return pub.Close() })
	pubHolder.Publisher = pub
	flowRules.SetJobs(jc)
	oneOff.SetJobs(jc)
	convs := conversations.New(st, pub, time.Now)

	profiles := atsprofiles.New(st)
	handler := server.New(server.Domain{
		Candidates:    candidates.New(st, time.Now),
		Stages:        stageRules,
		Timeline:      timeline.New(st, atsbridge, rt.Log),
		Notes:         notes.New(st, pub, time.Now),
		CustomFields:  customfields.New(st),
		Jobs:          jobs.New(st),
		Referrals:     referrals.New(st, pub, time.Now),
		Conversations: convs,
		Files: files.New(st, files.Options{Bucket: bucket, Jobs: jc, Publisher: pub, MaxConcurrentUploads: cfg.Files.MaxConcurrentUploads,
			Logger: rt.Log}),
		Flows:       flowRules,
		Emails:      oneOff,
		ATSProfiles: profiles,
	})
	sink := events.NewSink(events.NewReceiver(rt.DB, events.ReceiverOptions{Logger: rt.Log}))
	// Mailbox's events act on the flows and then go into the candidates'
	// conversations, in one transaction per event.
	mailLog := emails.NewLog(oneOff, convs, flowRules, stageRules.PublishMove)
	sink.Handle(flows.EventMessageSent, mailLog.Sent(flowRules.ApplyMessageSent))
	sink.Handle(flows.EventMessageReceived, mailLog.Received(flowRules.ApplyMessageReceived))
	// atsbridge mirrors the ATS's postings into the job list (LV-3).
	sink.Handle(atsjobs.EventJobSynced, atsjobs.ApplyJobSynced)
	// atsbridge's pushes link candidates to their ATS records (LV-4).
	sink.Handle(atsprofiles.EventLinked, profiles.ApplyLinked)
	// The ATS's stage changes, mapped by atsbridge (LV-5), move candidates
	// with source ats.
	sink.Handle(stages.EventATSStageChanged, stageRules.ApplyATSStageChanged)
	srv := rt.NewServer(service.ServerSpec{
		Auth:       identity.Authenticator(events.AddSinkPolicy(server.Policy), rt.Redis, cfg.Service.RedisPrefix, rt.Log),
		Validators: server.Validators,
		// Files stream as fast as their clients (ADR 17).
		MaxDeadlines: server.MaxDeadlines,
	})
	outreachv1.RegisterOutreachServiceServer(srv.GRPC(), handler)
	sink.Register(srv.GRPC())
	return rt.Serve(ctx)
}

// publisherHolder lets the domain be built before the publisher, which
// needs the River client its workers go into; it is set before serving.
type publisherHolder struct{ *events.Publisher }
