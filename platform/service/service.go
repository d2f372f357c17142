// Package service starts the runtime every Tandem service binary shares:
// configuration, logging, telemetry, Postgres on the service's own schema with
// its migrations, Redis, River, and the gRPC server with health. A service's
// main wires its own handlers onto the result, in a straight line.
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/platform/telemetry"
)

// Config is the part of every service's configuration that the runtime
// reads. Logging, telemetry and shutdown are platform/config's shared
// groups, the same flags the gateway has.
type Config struct {
	GRPCAddr       string
	DatabaseURL    config.Secret
	RedisURL       config.Secret
	RedisPrefix    string
	HealthInterval time.Duration
	StartupTimeout time.Duration
	// DatabaseConnectTimeout and DatabaseStatementTimeout are the pool's
	// (postgres.Options); GRPCMaxDeadline bounds every call
	// (grpcserver.Options.MaxDeadline).
	DatabaseConnectTimeout   time.Duration
	DatabaseStatementTimeout time.Duration
	GRPCMaxDeadline          time.Duration
	config.Logging
	config.Telemetry
	config.Shutdown
	// GRPCReflection turns on gRPC server reflection (development only).
	GRPCReflection bool
}

// DefaultDatabaseURL and DefaultRedisURL are the local servers `make run`
// uses.
const (
	DefaultDatabaseURL = "postgres://postgres@localhost:5432/tandem?sslmode=disable"
	DefaultRedisURL    = "redis://localhost:6379/0"
)

// Settings is the config.Group of the runtime's flags, with -grpc-addr
// defaulting to defaultGRPCAddr.
func (c *Config) Settings(defaultGRPCAddr string) config.Group {
	return config.GroupFuncs{
		RegisterFunc: func(fs *flag.FlagSet) { c.register(fs, defaultGRPCAddr) },
		ValidateFunc: c.Validate,
	}
}

func (c *Config) register(fs *flag.FlagSet, defaultGRPCAddr string) {
	fs.StringVar(&c.GRPCAddr, "grpc-addr", defaultGRPCAddr, "gRPC listen address")
	config.SecretFlag(fs, &c.DatabaseURL, "database-url", DefaultDatabaseURL, "Postgres URL")
	config.SecretFlag(fs, &c.RedisURL, "redis-url", DefaultRedisURL, "Redis URL")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", "tandem:", "prefix of every Redis key")
	c.Telemetry.Register(fs)
	c.Logging.Register(fs)
	fs.DurationVar(&c.HealthInterval, "health-interval", 2*time.Second, "how often Postgres and Redis are checked")
	c.Shutdown.Register(fs)
	fs.DurationVar(&c.StartupTimeout, "startup-timeout", 60*time.Second, "how long to wait for Postgres at start")
	fs.DurationVar(&c.DatabaseConnectTimeout, "database-connect-timeout", postgres.DefaultConnectTimeout, "bound on opening one Postgres connection")
	fs.DurationVar(&c.DatabaseStatementTimeout, "database-statement-timeout", postgres.DefaultStatementTimeout, "Postgres statement_timeout of every connection (migrations excepted)")
	fs.DurationVar(&c.GRPCMaxDeadline, "grpc-max-deadline", grpcserver.DefaultMaxDeadline, "longest a gRPC call may run; a client's longer deadline, or none, is cut to it")
	fs.BoolVar(&c.GRPCReflection, "grpc-reflection", false, "serve gRPC reflection, which lists every method to anyone: for development only")
}

// Validate reports every bad setting.
func (c *Config) Validate(p *config.Problems) {
	config.CheckHostPort(p, "grpc-addr", c.GRPCAddr)
	if c.DatabaseURL.Value() == "" {
		p.Addf("database-url", "is required")
	}
	if c.RedisURL.Value() == "" {
		p.Addf("redis-url", "is required")
	} else if _, err := redis.ParseURL(c.RedisURL.Value()); err != nil {
		p.Addf("redis-url", "is not a redis:// URL")
	}
	c.Logging.Validate(p)
	c.Telemetry.Validate(p)
	if c.HealthInterval <= 0 {
		p.Addf("health-interval", "must be positive")
	}
	for name, d := range map[string]time.Duration{"database-connect-timeout": c.DatabaseConnectTimeout,
		"database-statement-timeout": c.DatabaseStatementTimeout, "grpc-max-deadline": c.GRPCMaxDeadline} {
		// Zero, as in a Config built in code, means the default.
		if d != 0 && (d < 100*time.Millisecond || d > 10*time.Minute) {
			p.Addf(name, "must be between 100ms and 10m")
		}
	}
	c.Shutdown.Validate(p)
}

// Spec is what a service tells the runtime about itself.
type Spec struct {
	// Name is the service's name and its Postgres schema.
	Name string
	// Migrations holds the service's versioned SQL files.
	Migrations fs.FS
}

// Runtime is what a started service has to work with.
type Runtime struct {
	Log   *slog.Logger
	DB    *pgxpool.Pool
	Redis *redis.Client
	// Server and Jobs exist after NewServer and NewJobs.
	Server *grpcserver.Server
	Jobs   *jobs.Client

	cfg     Config
	spec    Spec
	closers *grpcserver.Closers
	working bool
}

// Start sets up telemetry, Postgres (waiting for it up to StartupTimeout,
// so services can start before the database does, then migrating) and
// Redis. The service then builds its domain, calls NewServer and NewJobs,
// and Serve. On error, whatever was opened is closed.
func Start(ctx context.Context, spec Spec, cfg Config, logOut io.Writer) (rt *Runtime, err error) {
	level, levelErr := logging.ParseLevel(cfg.LogLevel)
	log := logging.New(logOut, cfg.LogFormat, level, slog.String("service", spec.Name))
	if levelErr != nil {
		// The config loader rejects an unknown level; a caller that built
		// Config by hand gets info, said once.
		log.WarnContext(ctx, "logging at info", slog.Any("error", levelErr))
	}
	closers := &grpcserver.Closers{}
	defer func() {
		if err != nil {
			// Close logs each failure too; the caller gets both.
			err = errors.Join(err, closers.Close(context.WithoutCancel(ctx), log))
		}
	}()

	shutdownTelemetry, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: "tandem-" + spec.Name, OTLPEndpoint: cfg.OTLPEndpoint, Insecure: cfg.OTLPInsecure})
	if err != nil {
		return nil, err
	}
	closers.Add("telemetry", shutdownTelemetry)

	pool, err := openDatabase(ctx, spec, cfg, log)
	if err != nil {
		return nil, err
	}
	closers.Add("postgres", func(context.Context) error { pool.Close(); return nil })

	rdb, err := redisx.Open(cfg.RedisURL.Value())
	if err != nil {
		return nil, err
	}
	closers.Add("redis", func(context.Context) error { return rdb.Close() })
	return &Runtime{Log: log, DB: pool, Redis: rdb, cfg: cfg, spec: spec, closers: closers}, nil
}

// Keys is the family of the service's own Redis keys for purpose (ADR 13):
// <redis-prefix><service>:<purpose>:<id>. Keys several services share are
// named in platform/ with redisx.SharedKeys.
func (rt *Runtime) Keys(purpose string) redisx.Keys {
	return redisx.ServiceKeys(rt.cfg.RedisPrefix, rt.spec.Name, purpose)
}

// ServerSpec is how the service's RPCs are guarded.
type ServerSpec struct {
	// Auth authenticates every RPC; nil denies everything.
	Auth grpcserver.Authenticator
	// Validators check requests before handlers run.
	Validators map[string]grpcserver.Validator
}

// NewServer builds the gRPC server; register services on rt.Server.GRPC().
func (rt *Runtime) NewServer(s ServerSpec) *grpcserver.Server {
	rt.Server = grpcserver.New(grpcserver.Options{
		Logger:          rt.Log,
		Auth:            s.Auth,
		Validators:      s.Validators,
		HealthInterval:  rt.cfg.HealthInterval,
		DrainDelay:      rt.cfg.DrainDelay,
		ShutdownTimeout: rt.cfg.ShutdownTimeout,
		MaxDeadline:     rt.cfg.GRPCMaxDeadline,
		Closers:         rt.closers,
		Reflection:      rt.cfg.GRPCReflection,
	})
	return rt.Server
}

// JobsSpec is the service's background work.
type JobsSpec struct {
	// Workers are the service's River job workers; nil makes an insert-only
	// client.
	Workers  *river.Workers
	Queues   map[string]river.QueueConfig
	Periodic []*river.PeriodicJob
	// RescueStuckJobsAfter and JobTimeout: see jobs.Options.
	RescueStuckJobsAfter time.Duration
	JobTimeout           time.Duration
}

// NewJobs builds the River client on the service's schema. Without it, Serve
// makes an insert-only one.
func (rt *Runtime) NewJobs(s JobsSpec) (*jobs.Client, error) {
	jc, err := jobs.New(rt.DB, jobs.Options{Schema: rt.spec.Name, Workers: s.Workers, Queues: s.Queues, Periodic: s.Periodic,
		RescueStuckJobsAfter: s.RescueStuckJobsAfter, JobTimeout: s.JobTimeout, Logger: rt.Log})
	if err != nil {
		return nil, err
	}
	rt.Jobs, rt.working = jc, s.Workers != nil
	return jc, nil
}

// AddCloser adds fn to what the service releases when it stops, after the
// server has stopped, in reverse order of adding (so what is added here
// goes before Redis and Postgres).
func (rt *Runtime) AddCloser(name string, fn func(context.Context) error) { rt.closers.Add(name, fn) }

// abandon releases everything after serving failed to start, and returns
// cause joined with any failure to release (each also logged by Close).
func (rt *Runtime) abandon(ctx context.Context, cause error) error {
	return errors.Join(cause, rt.closers.Close(context.WithoutCancel(ctx), rt.Log))
}

// Close releases what Start opened, for a run that ends before Serve.
func (rt *Runtime) Close(ctx context.Context) error { return rt.closers.Close(ctx, rt.Log) }

// openDatabase connects and migrates, retrying while Postgres is not up yet.
func openDatabase(ctx context.Context, spec Spec, cfg Config, log *slog.Logger) (*pgxpool.Pool, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.StartupTimeout)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		pool, err := migrate(ctx, spec, cfg, log)
		if err == nil {
			return pool, nil
		}
		log.WarnContext(ctx, "database not ready", slog.Any("error", err))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("database not ready after %s: %w", cfg.StartupTimeout, err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

func migrate(ctx context.Context, spec Spec, cfg Config, log *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := postgres.Open(ctx, postgres.Options{URL: cfg.DatabaseURL.Value(), Schema: spec.Name,
		ConnectTimeout: cfg.DatabaseConnectTimeout, StatementTimeout: cfg.DatabaseStatementTimeout})
	if err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, pool, spec.Name, spec.Migrations, log); err != nil {
		pool.Close()
		return nil, err
	}
	if err := jobs.Migrate(ctx, pool, spec.Name, log); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// Serve listens on the configured address and serves until ctx ends; then it
// shuts down in order and releases everything Start opened.
func (rt *Runtime) Serve(ctx context.Context) error {
	lis, err := net.Listen("tcp", rt.cfg.GRPCAddr)
	if err != nil {
		return rt.abandon(ctx, fmt.Errorf("listen %s: %w", rt.cfg.GRPCAddr, err))
	}
	return rt.ServeListener(ctx, lis)
}

// ServeListener is Serve on a listener the caller made (tests use port 0).
func (rt *Runtime) ServeListener(ctx context.Context, lis net.Listener) error {
	if rt.Server == nil {
		rt.NewServer(ServerSpec{})
	}
	if rt.Jobs == nil {
		if _, err := rt.NewJobs(JobsSpec{}); err != nil {
			return rt.abandon(ctx, err)
		}
	}
	rt.Server.AddChecks(
		grpcserver.Check{Name: "postgres", Check: func(ctx context.Context) error { return postgres.Ping(ctx, rt.DB) }},
		grpcserver.Check{Name: "redis", Check: func(ctx context.Context) error { return redisx.Ping(ctx, rt.Redis) }},
	)
	if rt.working {
		// River stops through the closer, after the gRPC server, not when ctx ends.
		if err := rt.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
			return rt.abandon(ctx, fmt.Errorf("start jobs: %w", err))
		}
		// Added last, so closed first: workers finish before pools close.
		rt.Server.Closers().Add("jobs", func(ctx context.Context) error {
			if err := rt.Jobs.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		})
	}
	return rt.Server.Serve(ctx, lis)
}

// LoadConfig reads the configuration of a service whose settings are the
// runtime's and the extra groups (identityclient.Config, the service's
// own), through config.Load: the one way every binary loads its
// configuration.
func LoadConfig(name, defaultGRPCAddr string, args []string, out io.Writer, extra ...config.Group) (Config, error) {
	var c Config
	if _, err := config.Load(name, args, out, append([]config.Group{c.Settings(defaultGRPCAddr)}, extra...)...); err != nil {
		return c, err
	}
	return c, nil
}
