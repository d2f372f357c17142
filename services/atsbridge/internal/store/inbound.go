package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/postgres"
)

// This file holds the inbound half of the sync (issue 15 item 5): the
// webhooks registered at the ATS, their deliveries, and the links they
// move.

// Webhook is a webhook registered at the ATS, its signature token sealed.
type Webhook struct {
	ConnectionID, Event, RemoteID, URL string
	SealedToken                        string
}

// PutWebhook records the connection's webhook for its event, replacing an
// earlier one.
func (s *Store) PutWebhook(ctx context.Context, h Webhook) (err error) {
	ctx, sp := span(ctx, "PutWebhook")
	defer func() { end(sp, err) }()
	_, err = s.db.Exec(ctx, `INSERT INTO ats_webhooks (connection_id, event, remote_id, url, signature_token) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (connection_id, event) DO UPDATE SET remote_id = EXCLUDED.remote_id, url = EXCLUDED.url,
		signature_token = EXCLUDED.signature_token, updated_at = now()`, h.ConnectionID, h.Event, h.RemoteID, h.URL, h.SealedToken)
	return postgres.MapError(err)
}

// Webhooks lists the connection's webhooks.
func (s *Store) Webhooks(ctx context.Context, connectionID string) (_ []Webhook, err error) {
	ctx, sp := span(ctx, "Webhooks")
	defer func() { end(sp, err) }()
	if !isUUID(connectionID) {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT connection_id::text, event, remote_id, url, signature_token FROM ats_webhooks
		WHERE connection_id = $1 ORDER BY event`, connectionID)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Webhook, error) {
		var h Webhook
		return h, r.Scan(&h.ConnectionID, &h.Event, &h.RemoteID, &h.URL, &h.SealedToken)
	})
	return out, postgres.MapError(err)
}

// Delivery states.
const (
	DeliveryReceived = "received"
	DeliveryApplied  = "applied"
	DeliveryIgnored  = "ignored"
)

// Delivery is a webhook delivery as it arrived.
type Delivery struct {
	ConnectionID, DeliveryID, Event string
	TriggeredAt                     time.Time
	Raw                             []byte
	// TokenSHA256 is the hash of the delivery's signed token: a pair is
	// taken once.
	TokenSHA256 []byte
	State       string
	Error       string
}

// InsertDelivery stores d in tx unless its id or its signed token was
// stored before; false then, and nothing is written.
func (s *Store) InsertDelivery(ctx context.Context, tx pgx.Tx, d Delivery) (_ bool, err error) {
	ctx, sp := span(ctx, "InsertDelivery")
	defer func() { end(sp, err) }()
	var appliedAt any
	if d.State != DeliveryReceived {
		appliedAt = time.Now()
	}
	tag, err := tx.Exec(ctx, `INSERT INTO ats_webhook_deliveries (connection_id, delivery_id, event, triggered_at, raw, state, applied_at, error, token_sha256)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		d.ConnectionID, d.DeliveryID, d.Event, d.TriggeredAt, d.Raw, d.State, appliedAt, d.Error, d.TokenSHA256)
	if err != nil {
		return false, postgres.MapError(err)
	}
	return tag.RowsAffected() == 1, nil
}

// LockDelivery reads a delivery in tx and holds it until tx ends.
func (s *Store) LockDelivery(ctx context.Context, tx pgx.Tx, connectionID, deliveryID string) (_ Delivery, err error) {
	ctx, sp := span(ctx, "LockDelivery")
	defer func() { end(sp, err) }()
	d := Delivery{ConnectionID: connectionID, DeliveryID: deliveryID}
	var at *time.Time
	err = tx.QueryRow(ctx, `SELECT event, triggered_at, raw, state, error FROM ats_webhook_deliveries
		WHERE connection_id = $1 AND delivery_id = $2 FOR UPDATE`, connectionID, deliveryID).Scan(&d.Event, &at, &d.Raw, &d.State, &d.Error)
	if at != nil {
		d.TriggeredAt = *at
	}
	return d, postgres.MapError(err)
}

// FinishDelivery records what became of a delivery.
func (s *Store) FinishDelivery(ctx context.Context, tx pgx.Tx, connectionID, deliveryID, state, why string) (err error) {
	ctx, sp := span(ctx, "FinishDelivery")
	defer func() { end(sp, err) }()
	_, err = tx.Exec(ctx, `UPDATE ats_webhook_deliveries SET state = $3, error = $4, applied_at = now() WHERE connection_id = $1 AND delivery_id = $2`,
		connectionID, deliveryID, state, why)
	return postgres.MapError(err)
}

// LinkState is a link as the inbound sync reads and moves it.
type LinkState struct {
	OrgID, CandidateID, RemoteOpportunityID string
	ATS                                     Place
	MappingVersion                          int
	// PendingStageID is the place a push is writing now: a stage id, or
	// "archived:<reason id>".
	PendingStageID string
	// LastInboundAt is the ATS time of the last change applied; nil before
	// any.
	LastInboundAt *time.Time
}

const linkStateColumns = `org_id::text, candidate_id::text, remote_opportunity_id, ats_stage_id, archive_reason_id, mapping_version, pending_stage_id, last_inbound_at`

func scanLinkState(row pgx.Row) (LinkState, error) {
	var l LinkState
	err := row.Scan(&l.OrgID, &l.CandidateID, &l.RemoteOpportunityID, &l.ATS.StageID, &l.ATS.ArchiveReasonID, &l.MappingVersion, &l.PendingStageID, &l.LastInboundAt)
	return l, err
}

// LockLink reads the link of an opportunity in tx and holds it until tx
// ends; postgres.ErrNotFound when there is none.
func (s *Store) LockLink(ctx context.Context, tx pgx.Tx, connectionID, remoteOpportunityID string) (_ LinkState, err error) {
	ctx, sp := span(ctx, "LockLink")
	defer func() { end(sp, err) }()
	l, err := scanLinkState(tx.QueryRow(ctx, `SELECT `+linkStateColumns+` FROM candidate_links
		WHERE connection_id = $1 AND remote_opportunity_id = $2 FOR UPDATE`, connectionID, remoteOpportunityID))
	return l, postgres.MapError(err)
}

// LinkByOpportunity reads the link of an opportunity without a lock.
func (s *Store) LinkByOpportunity(ctx context.Context, connectionID, remoteOpportunityID string) (_ LinkState, err error) {
	ctx, sp := span(ctx, "LinkByOpportunity")
	defer func() { end(sp, err) }()
	l, err := scanLinkState(s.db.QueryRow(ctx, `SELECT `+linkStateColumns+` FROM candidate_links
		WHERE connection_id = $1 AND remote_opportunity_id = $2`, connectionID, remoteOpportunityID))
	return l, postgres.MapError(err)
}

// MoveLink records the opportunity's new place in the ATS, the mapping
// version that mapped it and the ATS time of the change.
func (s *Store) MoveLink(ctx context.Context, tx pgx.Tx, connectionID, remoteOpportunityID string, to Place, mappingVersion int, at time.Time) (err error) {
	ctx, sp := span(ctx, "MoveLink")
	defer func() { end(sp, err) }()
	_, err = tx.Exec(ctx, `UPDATE candidate_links SET ats_stage_id = $3, archive_reason_id = $4, mapping_version = $5,
		last_inbound_at = GREATEST(COALESCE(last_inbound_at, $6), $6), updated_at = now()
		WHERE connection_id = $1 AND remote_opportunity_id = $2`, connectionID, remoteOpportunityID, to.StageID, to.ArchiveReasonID, mappingVersion, at)
	return postgres.MapError(err)
}

// DataKeys implements envelope.DataKeyStore and DataKeyReplacer on
// atsbridge's data_keys table.
type DataKeys struct{ s *Store }

// DataKeys returns the data-key store.
func (s *Store) DataKeys() *DataKeys { return &DataKeys{s: s} }

// GetWrapped implements envelope.DataKeyStore.
func (d *DataKeys) GetWrapped(ctx context.Context, orgID string) (_ string, err error) {
	ctx, sp := span(ctx, "DataKeys.GetWrapped")
	defer func() { end(sp, err) }()
	var w string
	err = d.s.db.QueryRow(ctx, `SELECT wrapped FROM data_keys WHERE org_id = $1`, orgID).Scan(&w)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", envelope.ErrDataKeyNotFound
	}
	return w, postgres.MapError(err)
}

// PutWrapped implements envelope.DataKeyStore: insert if absent.
func (d *DataKeys) PutWrapped(ctx context.Context, orgID, wrapped string) (err error) {
	ctx, sp := span(ctx, "DataKeys.PutWrapped")
	defer func() { end(sp, err) }()
	tag, err := d.s.db.Exec(ctx, `INSERT INTO data_keys (org_id, wrapped) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING`, orgID, wrapped)
	if err != nil {
		return postgres.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		return envelope.ErrDataKeyExists
	}
	return nil
}

// ReplaceWrapped implements envelope.DataKeyReplacer: compare and swap.
func (d *DataKeys) ReplaceWrapped(ctx context.Context, orgID, old, new string) (err error) {
	ctx, sp := span(ctx, "DataKeys.ReplaceWrapped")
	defer func() { end(sp, err) }()
	tag, err := d.s.db.Exec(ctx, `UPDATE data_keys SET wrapped = $3, updated_at = now() WHERE org_id = $1 AND wrapped = $2`, orgID, old, new)
	if err != nil {
		return postgres.MapError(err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := d.GetWrapped(ctx, orgID); err != nil {
			return err
		}
		return envelope.ErrDataKeyChanged
	}
	return nil
}
