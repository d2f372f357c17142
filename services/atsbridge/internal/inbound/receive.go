package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// Outcomes of a receipt.
const (
	OutcomeAccepted  = "accepted"
	OutcomeDuplicate = "duplicate"
	OutcomeIgnored   = "ignored"
)

// Opener opens a sealed signature token (envelope.Vault).
type Opener interface {
	Open(ctx context.Context, orgID, sealed string, bind ...string) ([]byte, error)
}

// JobInserter enqueues a job in the caller's transaction (River).
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// ReceiveStore is what a receipt reads and writes.
type ReceiveStore interface {
	ConnectionByID(ctx context.Context, id string) (store.Connection, error)
	Webhooks(ctx context.Context, connectionID string) ([]store.Webhook, error)
	InTx(ctx context.Context, fn func(tx pgx.Tx) error) error
	InsertDelivery(ctx context.Context, tx pgx.Tx, d store.Delivery) (bool, error)
}

// Receiver takes Lever's webhook deliveries: verified on the raw bytes,
// stored raw, de-duplicated, and handed to the apply job in the same
// transaction. It makes no call to Lever: the answer goes back fast.
type Receiver struct {
	store  ReceiveStore
	tokens Opener
	jobs   JobInserter
	log    *slog.Logger
}

// NewReceiver returns the receiver.
func NewReceiver(st ReceiveStore, tokens Opener, jobs JobInserter, log *slog.Logger) *Receiver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Receiver{store: st, tokens: tokens, jobs: jobs, log: log}
}

// Receive takes one delivery for a connection: ErrUnknownConnection,
// ErrMalformed, ErrUnsigned or ErrBadSignature refuse it with nothing
// stored; otherwise the outcome says whether it was new.
func (r *Receiver) Receive(ctx context.Context, connectionID string, raw []byte) (string, error) {
	conn, err := r.store.ConnectionByID(ctx, connectionID)
	if errors.Is(err, postgres.ErrNotFound) {
		return "", ErrUnknownConnection
	}
	if err != nil {
		return "", err
	}
	hooks, err := r.store.Webhooks(ctx, conn.ID)
	if err != nil {
		return "", err
	}
	if len(hooks) == 0 {
		return "", ErrUnknownConnection
	}
	signed, err := ParseSigned(raw)
	if err != nil {
		return "", err
	}
	if err := r.verify(ctx, conn, hooks, signed); err != nil {
		return "", err
	}
	// The signature holds: the rest of the body is Lever's.
	d := store.Delivery{ConnectionID: conn.ID, DeliveryID: signed.ID, Event: signed.Event, TriggeredAt: signed.Triggered(), Raw: raw,
		TokenSHA256: TokenHash(signed), State: store.DeliveryReceived}
	change, err := ParseChange(raw)
	if err != nil {
		return "", err
	}
	switch {
	case change.OpportunityID == "":
		d.State, d.Error = store.DeliveryIgnored, "no opportunity: a connection test"
	case change.Event != lever.EventCandidateStageChange && change.Event != lever.EventCandidateArchiveChange:
		d.State, d.Error = store.DeliveryIgnored, "an event the sync does not act on"
	}
	outcome := OutcomeAccepted
	err = r.store.InTx(ctx, func(tx pgx.Tx) error {
		inserted, err := r.store.InsertDelivery(ctx, tx, d)
		if err != nil {
			return err
		}
		if !inserted {
			outcome = OutcomeDuplicate
			return nil
		}
		if d.State != store.DeliveryReceived {
			outcome = OutcomeIgnored
			return nil
		}
		_, err = r.jobs.InsertTx(ctx, tx, ApplyArgs{ConnectionID: conn.ID, DeliveryID: d.DeliveryID}, nil)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("inbound: store the delivery: %w", err)
	}
	r.log.DebugContext(ctx, "lever webhook received", slog.String("connection_id", conn.ID), slog.String("delivery_id", d.DeliveryID),
		slog.String("event", d.Event), slog.String("outcome", outcome))
	return outcome, nil
}

// verify checks the signature against the tokens of the connection's
// webhooks for the event (Lever signs with the webhook's token).
func (r *Receiver) verify(ctx context.Context, conn store.Connection, hooks []store.Webhook, s Signed) error {
	for _, h := range hooks {
		if h.Event != s.Event {
			continue
		}
		token, err := r.tokens.Open(ctx, conn.OrgID, h.SealedToken, tokenBindings(h)...)
		if err != nil {
			return fmt.Errorf("inbound: open the signature token of webhook %s: %w", h.RemoteID, err)
		}
		if Verify(string(token), s) {
			return nil
		}
	}
	r.log.WarnContext(ctx, "lever webhook: signature refused", slog.String("connection_id", conn.ID), slog.String("event", s.Event))
	return ErrBadSignature
}

// tokenBindings tie a sealed token to its row: copied to another
// connection or webhook it does not open.
func tokenBindings(h store.Webhook) []string {
	return []string{"ats_webhook", h.ConnectionID, h.Event, h.RemoteID}
}
