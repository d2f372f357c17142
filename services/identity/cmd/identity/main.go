// Command identity runs the identity service: organizations, users, roles,
// sessions and API tokens, sign-in with Microsoft and every consent flow, and
// the credential vault. `identity rotate-keys` re-wraps every organization's
// data key under the primary key-encryption key.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/platform/ratelimit"
	"github.com/tandemhq/tandem/platform/service"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/apitokens"
	"github.com/tandemhq/tandem/services/identity/internal/config"
	"github.com/tandemhq/tandem/services/identity/internal/connections"
	"github.com/tandemhq/tandem/services/identity/internal/login"
	"github.com/tandemhq/tandem/services/identity/internal/members"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
	"github.com/tandemhq/tandem/services/identity/internal/organizations"
	"github.com/tandemhq/tandem/services/identity/internal/server"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
	"github.com/tandemhq/tandem/services/identity/internal/vault"
	"github.com/tandemhq/tandem/services/identity/migrations"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "identity:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := config.Load(args, out)
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, service.Spec{Name: "identity", Migrations: migrations.FS}, cfg.Service, out)
	if err != nil {
		return err
	}
	log := rt.Log
	if cfg.KeyRing.Value() == config.DevKeyRing {
		log.WarnContext(ctx, "using the development key ring; set TANDEM_KEY_RING in production")
	}
	if cfg.ServiceTokens.Development() {
		log.WarnContext(ctx, "using the development service token; set TANDEM_SERVICE_TOKEN in production")
	}
	primary := cfg.KeyRingPrimary
	if primary == "" {
		primary, _, _ = strings.Cut(cfg.KeyRing.Value(), ":")
	}
	ring, err := envelope.ParseKeyRing(cfg.KeyRing.Value(), primary)
	if err != nil {
		_ = rt.Close(ctx)
		return fmt.Errorf("key-ring: %w", err)
	}
	st := store.New(rt.DB)
	sealer := envelope.NewVault(ring, st.DataKeys(), envelope.VaultOptions{})
	if cfg.Command == "rotate-keys" {
		defer rt.Close(context.WithoutCancel(ctx))
		return rotateKeys(ctx, st, sealer, log)
	}

	// Redis holds the fast copy of the revocation set, Postgres the record:
	// every replica keeps writing the set from it, and verifiers ask the
	// record while the set is incomplete (ADR 8).
	fastRevocations := authz.RedisRevocations{Client: rt.Redis, Prefix: cfg.Service.RedisPrefix}
	revocationRecord := sessions.NewRevocations(st, fastRevocations, cfg.AccessTokenTTL, log)
	revocations := authz.DurableRevocations{Redis: fastRevocations, Record: revocationRecord}
	go revocationRecord.Keep(ctx, cfg.RevocationRestoreEvery)
	ss, err := sessions.New(ctx, sessions.Options{Store: st, Sealer: sealer, Revoker: fastRevocations,
		AccessTTL: cfg.AccessTokenTTL, RefreshTTL: cfg.RefreshTokenTTL, Logger: log,
		Successors: sessions.RedisSuccessors{Client: rt.Redis, Prefix: cfg.Service.RedisPrefix}, RetryWindow: sessions.DefaultRetryWindow})
	if err != nil {
		_ = rt.Close(ctx)
		return err
	}

	// One bucket for the app registration (the token client keys every
	// request by its client id), shared by every replica.
	limiter, err := ratelimit.NewLimiter(rt.Redis, rt.Keys("ratelimit-msidentity"), ratelimit.Limit{Events: 20, Per: time.Second, Burst: 40})
	if err != nil {
		_ = rt.Close(ctx)
		return err
	}
	msHTTP := providerhttp.New(providerhttp.Options{Provider: "msidentity", Limiter: limiter, Logger: log})
	tokens, err := microsoft.NewTokenClient(microsoft.TokenClientOptions{Authority: cfg.MicrosoftAuthority, Tenant: cfg.MicrosoftTenant,
		ClientID: cfg.MicrosoftClientID, ClientSecret: cfg.MicrosoftClientSecret.Value(), HTTP: msHTTP})
	if err != nil {
		_ = rt.Close(ctx)
		return err
	}
	credentials, err := vault.New(vault.Options{Redis: rt.Redis, Prefix: cfg.Service.RedisPrefix, Durable: st.SealedCredentials(), Sealer: sealer,
		Refresher: vault.MicrosoftRefresher{Client: tokens}, Sink: st, RefreshBefore: cfg.VaultRefreshBefore, Logger: log})
	if err != nil {
		_ = rt.Close(ctx)
		return err
	}

	verifier := signin.NewMicrosoftIDVerifier(cfg.MicrosoftAuthority, cfg.MicrosoftTenant, cfg.MicrosoftClientID, msHTTP)
	flows := signin.New(signin.Options{
		Config: signin.Config{Authority: cfg.MicrosoftAuthority, Tenant: cfg.MicrosoftTenant, ClientID: cfg.MicrosoftClientID,
			PublicURL: cfg.PublicURL, FrontendURL: cfg.FrontendURL},
		Redis: rt.Redis, Prefix: cfg.Service.RedisPrefix, Store: st,
		Exchanger: codeExchanger{tokens}, Verifier: verifier, Addresses: verifier,
		Vault: credentialsPut{credentials}, Logger: log,
	})
	apiTokens := apitokens.New(st)
	handler := server.New(server.Domain{
		Logins:        login.New(flows, st, ss),
		Sessions:      ss,
		Organizations: organizations.New(st),
		Members:       members.New(st, ss),
		APITokens:     apiTokens,
		Connections:   connections.New(st, flows, accessTokens{credentials}, vault.ReconnectReason),
		Revocations:   revocationRecord,
		Flows:         flows,
	})

	srv := rt.NewServer(service.ServerSpec{
		Auth: &authz.Authenticator{
			Policy:      server.Policy,
			Sessions:    authz.NewVerifier(ss, authz.VerifierOptions{}),
			Revocations: revocations,
			APITokens:   apiTokens,
			Services:    authz.ServiceTokens(cfg.ServiceTokens),
			Log:         log,
		},
		Validators: server.Validators,
	})
	identityv1.RegisterIdentityServiceServer(srv.GRPC(), handler)

	workers := river.NewWorkers()
	river.AddWorker(workers, vault.NewRefreshIdleWorker(credentials, idleConnections{st}, log))
	river.AddWorker(workers, vault.NewCheckConnectionsWorker(credentials, connectedConnections{st}, log))
	river.AddWorker(workers, sessions.NewPruneWorker(st, log))
	periodic := []*river.PeriodicJob{
		vault.RefreshIdlePeriodicJob(time.Hour, cfg.IdleRefreshAfter),
		vault.CheckConnectionsPeriodicJob(cfg.CheckConnectionsEvery),
		sessions.PrunePeriodicJob(time.Hour, sessions.DefaultEndedRetention),
	}
	// Mailbox connections' status changes go to their subscribers (the
	// mailbox service) through River jobs enqueued in the transaction of
	// the change (ADR 15).
	subs, err := cfg.Events.Subscribers()
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	delivery, err := events.NewDelivery(events.DeliveryOptions{Source: "identity", Subscribers: subs,
		Credentials: authz.ServiceCredentials{Name: "identity", Token: cfg.ServiceTokens.Current}, Logger: log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event delivery", func(context.Context) error { return delivery.Close() })
	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}}
	delivery.AddTo(workers, queues)
	jc, err := rt.NewJobs(service.JobsSpec{Workers: workers, Queues: queues, Periodic: periodic})
	if err != nil {
		_ = rt.Close(ctx)
		return err
	}
	pub, err := events.NewPublisher(jc, events.PublisherOptions{Source: "identity", Subscribers: subs, Schema: "identity", DB: rt.DB, Logger: log})
	if err != nil {
		return errors.Join(err, rt.Close(ctx))
	}
	rt.AddCloser("event publisher", func(context.Context) error { return pub.Close() })
	st.PublishMailboxChanges(pub)
	return rt.Serve(ctx)
}

// rotateKeys re-wraps every organization's data key, and so every secret
// sealed with it, under the primary key-encryption key.
func rotateKeys(ctx context.Context, st *store.Store, sealer *envelope.Vault, log *slog.Logger) error {
	orgs, err := st.DataKeys().OrgIDs(ctx)
	if err != nil {
		return err
	}
	changed := 0
	for _, org := range orgs {
		c, err := sealer.Rewrap(ctx, org)
		if err != nil {
			return fmt.Errorf("rewrap data key of %s: %w", org, err)
		}
		if c {
			changed++
		}
	}
	log.InfoContext(ctx, "data keys re-wrapped", slog.Int("organizations", len(orgs)), slog.Int("changed", changed))
	return nil
}
