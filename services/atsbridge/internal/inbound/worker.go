package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// ApplyArgs apply one stored delivery.
type ApplyArgs struct {
	ConnectionID string `json:"connection_id"`
	DeliveryID   string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (ApplyArgs) Kind() string { return "atsbridge_apply_webhook" }

// InsertOpts: one job a delivery.
func (ApplyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AccessTokenGetter is identity's GetAccessToken.
type AccessTokenGetter interface {
	GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error)
}

// OpportunityReader reads where an opportunity is (the Lever client): a
// delivery restoring an archived opportunity does not say to which stage.
type OpportunityReader interface {
	OpportunityPlace(ctx context.Context, a lever.Auth, id string) (lever.OpportunityPlace, error)
}

// WorkerStore is what the apply job reads and writes beside the applier's.
type WorkerStore interface {
	ConnectionByID(ctx context.Context, id string) (store.Connection, error)
	InTx(ctx context.Context, fn func(tx pgx.Tx) error) error
	LockDelivery(ctx context.Context, tx pgx.Tx, connectionID, deliveryID string) (store.Delivery, error)
	FinishDelivery(ctx context.Context, tx pgx.Tx, connectionID, deliveryID, state, why string) error
}

// ApplyWorker applies a stored delivery.
type ApplyWorker struct {
	river.WorkerDefaults[ApplyArgs]
	store   WorkerStore
	applier *Applier
	tokens  AccessTokenGetter
	ats     OpportunityReader
	log     *slog.Logger
}

// NewApplyWorker returns the worker.
func NewApplyWorker(st WorkerStore, applier *Applier, tokens AccessTokenGetter, ats OpportunityReader, log *slog.Logger) *ApplyWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ApplyWorker{store: st, applier: applier, tokens: tokens, ats: ats, log: log}
}

// Timeout bounds an attempt.
func (w *ApplyWorker) Timeout(*river.Job[ApplyArgs]) time.Duration { return time.Minute }

// Work applies the delivery once: a delivery already applied or ignored is
// done.
func (w *ApplyWorker) Work(ctx context.Context, job *river.Job[ApplyArgs]) error {
	a := job.Args
	conn, err := w.store.ConnectionByID(ctx, a.ConnectionID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var d store.Delivery
	if err := w.store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = w.store.LockDelivery(ctx, tx, a.ConnectionID, a.DeliveryID)
		return err
	}); errors.Is(err, postgres.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if d.State != store.DeliveryReceived {
		return nil
	}
	change, err := ParseChange(d.Raw)
	if err != nil {
		return w.finish(ctx, a, store.DeliveryIgnored, "the delivery's data is not Lever's")
	}
	place, err := w.place(ctx, conn, change)
	if err != nil {
		return err
	}
	plan, err := w.applier.Prepare(ctx, conn)
	if err != nil {
		return err
	}
	o := Observed{Connection: conn, OpportunityID: change.OpportunityID, Place: place, At: d.TriggeredAt, Origin: OriginWebhook,
		TriggerID: d.DeliveryID, TriggerType: "lever:" + d.Event, Request: redacted(d.Raw)}
	return w.store.InTx(ctx, func(tx pgx.Tx) error {
		// Held until the end: a redelivered job waits, then finds it done.
		locked, err := w.store.LockDelivery(ctx, tx, a.ConnectionID, a.DeliveryID)
		if err != nil {
			return err
		}
		if locked.State != store.DeliveryReceived {
			return nil
		}
		dec, err := w.applier.ApplyTx(ctx, tx, plan, o)
		if err != nil {
			return err
		}
		state := store.DeliveryApplied
		if !dec.Applied {
			state = store.DeliveryIgnored
		}
		w.log.DebugContext(ctx, "lever webhook applied", slog.String("connection_id", conn.ID), slog.String("delivery_id", d.DeliveryID),
			slog.String("action", dec.Action), slog.String("why", dec.Why))
		return w.store.FinishDelivery(ctx, tx, a.ConnectionID, a.DeliveryID, state, dec.Why)
	})
}

func (w *ApplyWorker) finish(ctx context.Context, a ApplyArgs, state, why string) error {
	return w.store.InTx(ctx, func(tx pgx.Tx) error {
		return w.store.FinishDelivery(ctx, tx, a.ConnectionID, a.DeliveryID, state, why)
	})
}

// place is where the change put the opportunity. A restore from the
// archive does not say to which stage: Lever is asked.
func (w *ApplyWorker) place(ctx context.Context, conn store.Connection, c Change) (store.Place, error) {
	switch {
	case !c.Archived:
		return store.Place{StageID: c.ToStageID}, nil
	case c.To != nil:
		return store.Place{ArchiveReasonID: c.To.Reason}, nil
	}
	tok, err := w.tokens.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: conn.ID})
	if err != nil {
		if c := status.Code(err); c == codes.FailedPrecondition || c == codes.NotFound {
			// No working token: the reconcile after the reconnect applies it.
			return store.Place{}, river.JobCancel(fmt.Errorf("inbound: no token to read the restored opportunity: %w", err))
		}
		return store.Place{}, fmt.Errorf("inbound: token: %w", err)
	}
	opp, err := w.ats.OpportunityPlace(ctx, lever.Auth{ConnectionID: conn.ID, Token: tok.GetAccessToken()}, c.OpportunityID)
	var ra *providerhttp.RetryAfterError
	switch {
	case errors.As(err, &ra):
		return store.Place{}, river.JobSnooze(max(ra.RetryAfter, time.Second))
	case errors.Is(err, lever.ErrUnauthorized) && grants.Revoked(ctx, w.tokens, conn.ID):
		// Access revoked: the reconcile after the reconnect applies it.
		return store.Place{}, river.JobCancel(fmt.Errorf("inbound: Lever refused the token to read the restored opportunity: %w", err))
	case err != nil:
		// A refused token was refreshed (grants.Revoked): the next attempt
		// reads with the new one.
		return store.Place{}, fmt.Errorf("inbound: read the restored opportunity: %w", err)
	}
	if opp.Archived != nil {
		return store.Place{ArchiveReasonID: opp.Archived.Reason}, nil
	}
	return store.Place{StageID: opp.Stage}, nil
}
