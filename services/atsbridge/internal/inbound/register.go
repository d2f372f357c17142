package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/providerhttp"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/grants"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// Events are the webhooks atsbridge registers on every Lever connection.
var Events = []string{lever.EventCandidateStageChange, lever.EventCandidateArchiveChange}

// WebhookPath is the gateway's route for a connection's deliveries.
func WebhookPath(connectionID string) string { return "/webhooks/lever/" + connectionID }

// RegisterArgs register a connection's webhooks after an import.
type RegisterArgs struct {
	ConnectionID string `json:"connection_id"`
	Generation   int64  `json:"generation"`
}

// Kind implements river.JobArgs.
func (RegisterArgs) Kind() string { return "atsbridge_register_webhooks" }

// InsertOpts: once a connection and generation.
func (RegisterArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EnqueueRegistration returns the import's hook: the registration is
// enqueued in the transaction that marks the connection connected.
func EnqueueRegistration(jobs JobInserter) func(ctx context.Context, tx pgx.Tx, conn store.Connection) error {
	return func(ctx context.Context, tx pgx.Tx, conn store.Connection) error {
		if conn.Provider != "" && conn.Provider != "lever" {
			return nil
		}
		_, err := jobs.InsertTx(ctx, tx, RegisterArgs{ConnectionID: conn.ID, Generation: conn.SyncGeneration}, nil)
		return err
	}
}

// Sealer seals a signature token (envelope.Vault).
type Sealer interface {
	Seal(ctx context.Context, orgID string, plaintext []byte, bind ...string) (string, error)
}

// WebhookAPI is what the registration does at Lever.
type WebhookAPI interface {
	Webhooks(ctx context.Context, a lever.Auth) ([]lever.Webhook, error)
	CreateWebhook(ctx context.Context, a lever.Auth, event, target string) (lever.Webhook, error)
}

// RegisterStore is what the registration reads and writes.
type RegisterStore interface {
	ConnectionByID(ctx context.Context, id string) (store.Connection, error)
	PutWebhook(ctx context.Context, h store.Webhook) error
	RecordError(ctx context.Context, id, kind, description string) error
}

// RegisterWorker makes sure the connection has atsbridge's webhooks at
// Lever: it lists the account's first and reuses one that already points
// at the connection's route, so a retry or a second import adds none.
type RegisterWorker struct {
	river.WorkerDefaults[RegisterArgs]
	store  RegisterStore
	tokens AccessTokenGetter
	api    WebhookAPI
	sealer Sealer
	base   string
	log    *slog.Logger
}

// NewRegisterWorker returns the worker; baseURL is the gateway's public
// URL (empty: nothing is registered, deliveries could not reach us).
func NewRegisterWorker(st RegisterStore, tokens AccessTokenGetter, api WebhookAPI, sealer Sealer, baseURL string, log *slog.Logger) *RegisterWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RegisterWorker{store: st, tokens: tokens, api: api, sealer: sealer, base: strings.TrimRight(baseURL, "/"), log: log}
}

// Timeout bounds an attempt.
func (w *RegisterWorker) Timeout(*river.Job[RegisterArgs]) time.Duration { return 2 * time.Minute }

// Work registers what is missing.
func (w *RegisterWorker) Work(ctx context.Context, job *river.Job[RegisterArgs]) error {
	if w.base == "" {
		w.log.WarnContext(ctx, "no webhook base URL: Lever webhooks are not registered; the reconcile alone syncs from Lever")
		return nil
	}
	conn, err := w.store.ConnectionByID(ctx, job.Args.ConnectionID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if conn.Status != store.StatusConnected && conn.Status != store.StatusSyncing {
		return nil // the next connection registers them
	}
	tok, err := w.tokens.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: conn.ID})
	if c := status.Code(err); c == codes.FailedPrecondition || c == codes.NotFound {
		return nil
	} else if err != nil {
		return fmt.Errorf("inbound: token: %w", err)
	}
	auth := lever.Auth{ConnectionID: conn.ID, Token: tok.GetAccessToken()}
	target := w.base + WebhookPath(conn.ID)
	existing, err := w.api.Webhooks(ctx, auth)
	if err != nil {
		return w.failed(ctx, conn, err)
	}
	for _, event := range Events {
		var hook lever.Webhook
		for _, h := range existing {
			if h.Event == event && h.URL == target && h.SignatureToken != "" {
				hook = h
				break
			}
		}
		if hook.ID == "" {
			if hook, err = w.api.CreateWebhook(ctx, auth, event, target); err != nil {
				return w.failed(ctx, conn, err)
			}
			w.log.InfoContext(ctx, "lever webhook registered", slog.String("connection_id", conn.ID), slog.String("event", event), slog.String("webhook_id", hook.ID))
		}
		row := store.Webhook{ConnectionID: conn.ID, Event: event, RemoteID: hook.ID, URL: target}
		if row.SealedToken, err = w.sealer.Seal(ctx, conn.OrgID, []byte(hook.SignatureToken), tokenBindings(row)...); err != nil {
			return fmt.Errorf("inbound: seal the signature token: %w", err)
		}
		if err := w.store.PutWebhook(ctx, row); err != nil {
			return err
		}
	}
	return nil
}

// failed sorts a Lever failure: a rate limit snoozes, a refused token
// that identity refreshes is retried, a refusal is recorded on the
// connection's health and given up (the next connection registers again),
// anything else is retried.
func (w *RegisterWorker) failed(ctx context.Context, conn store.Connection, err error) error {
	var ra *providerhttp.RetryAfterError
	switch {
	case errors.As(err, &ra):
		return river.JobSnooze(max(ra.RetryAfter, time.Second))
	case errors.Is(err, lever.ErrUnauthorized) && !grants.Revoked(ctx, w.tokens, conn.ID):
		return fmt.Errorf("inbound: register webhooks (the token is refreshed for the next attempt): %w", err)
	case errors.Is(err, lever.ErrUnauthorized), errors.Is(err, lever.ErrForbidden):
		if rerr := w.store.RecordError(ctx, conn.ID, store.ErrorForbidden, "Lever refused the webhooks' registration"); rerr != nil {
			w.log.WarnContext(ctx, "could not record an ATS error", slog.Any("error", rerr))
		}
		return river.JobCancel(fmt.Errorf("inbound: register webhooks: %w", err))
	}
	return fmt.Errorf("inbound: register webhooks: %w", err)
}
