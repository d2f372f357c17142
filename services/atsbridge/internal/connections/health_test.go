package connections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemhq/tandem/platform/ratelimit"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/connections"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store/storetest"
)

// meter is the shared limiter's Peek for one connection.
type meter struct {
	key    string
	budget ratelimit.Budget
	err    error
}

func (m *meter) Peek(_ context.Context, key string) (ratelimit.Budget, error) {
	if key != m.key {
		return ratelimit.Budget{}, errors.New("peeked at another key")
	}
	return m.budget, m.err
}

// healthWorld is a connection without the simulator: the pushes and the
// deliveries are rows put in directly.
func healthWorld(t *testing.T) (*world, *pgxpool.Pool, *meter) {
	t.Helper()
	db := storetest.New(t)
	st := store.New(db)
	w := &world{t: t, st: st, jobs: &jobs{}, org: uuid.NewString(), connID: uuid.NewString()}
	m := &meter{key: w.connID, budget: ratelimit.Budget{Burst: 20, Available: 15, Used: 5}}
	w.conns = connections.New(st, w.jobs, connections.RateLimit{PerSecond: 10, Burst: 20, Meter: m}, nil)
	return w, db, m
}

func TestHealthCountsPushesAndWebhooks(t *testing.T) {
	t.Parallel()
	w, db, m := healthWorld(t)
	ctx := t.Context()
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", time.Now())
	if h := w.health(); h.Sync != (store.SyncHealth{}) || h.RecoveredAt != nil || h.Budget == nil || *h.Budget != m.budget {
		t.Fatalf("a new connection: %+v", h)
	}

	// Another connection's rows count for it only.
	other := &world{t: t, st: w.st, jobs: w.jobs, conns: w.conns, org: uuid.NewString(), connID: uuid.NewString()}
	other.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", time.Now())
	now := time.Now()
	soon, later := now.Add(5*time.Minute).Truncate(time.Microsecond), now.Add(10*time.Minute)
	for _, p := range []struct {
		conn, state string
		next        *time.Time
		updated     time.Time
	}{
		{w.connID, "pending", &later, now},
		{w.connID, "pending", &soon, now},
		{w.connID, "pending", nil, now},
		{w.connID, "held", nil, now},
		{w.connID, "held", nil, now},
		{w.connID, "failed", nil, now.Add(-time.Hour)},
		{w.connID, "failed", nil, now.Add(-48 * time.Hour)},
		{w.connID, "succeeded", nil, now},
		{other.connID, "pending", &now, now},
		{other.connID, "failed", nil, now},
	} {
		if _, err := db.Exec(ctx, `INSERT INTO ats_pushes (operation_id, org_id, connection_id, candidate_id, kind, state, next_attempt_at, updated_at)
			SELECT $1, org_id, id, $2, 'move_stage', $3, $4, $5 FROM ats_connections WHERE id = $6`,
			uuid.NewString(), uuid.NewString(), p.state, p.next, p.updated, p.conn); err != nil {
			t.Fatal(err)
		}
	}
	last := now.Add(-time.Minute).Truncate(time.Microsecond)
	for _, d := range []struct {
		conn, state string
		at          time.Time
	}{
		{w.connID, "applied", now.Add(-2 * time.Hour)},
		{w.connID, "applied", now.Add(-3 * time.Hour)},
		{w.connID, "ignored", now.Add(-time.Hour)},
		{w.connID, "received", last},
		{w.connID, "applied", now.Add(-30 * time.Hour)},
		{other.connID, "applied", now},
	} {
		if _, err := db.Exec(ctx, `INSERT INTO ats_webhook_deliveries (connection_id, delivery_id, event, received_at, raw, state)
			VALUES ($1, $2, 'candidateStageChange', $3, '\x7b7d', $4)`, d.conn, uuid.NewString(), d.at, d.state); err != nil {
			t.Fatal(err)
		}
	}
	h := w.health()
	s := h.Sync
	if s.PendingPushes != 3 || s.HeldPushes != 2 || s.FailedPushes != 1 || s.NextRetryAt == nil || !s.NextRetryAt.Equal(soon) ||
		s.Webhooks != 4 || s.WebhooksApplied != 2 || s.WebhooksIgnored != 1 || s.LastWebhookAt == nil || !s.LastWebhookAt.Equal(last) {
		t.Fatalf("health %+v (next retry %v, last webhook %v)", s, s.NextRetryAt, s.LastWebhookAt)
	}
	if o := other.health().Sync; o.PendingPushes != 1 || o.FailedPushes != 1 || o.Webhooks != 1 || o.HeldPushes != 0 {
		t.Fatalf("the other connection: %+v", o)
	}

	// A limiter that cannot answer leaves the budget unknown, not the
	// record.
	m.err = errors.New("redis is down")
	if h := w.health(); h.Budget != nil || h.Sync.PendingPushes != 3 {
		t.Fatalf("without the limiter: %+v", h)
	}
}

func TestHealthSaysWhenTheConnectionRecovered(t *testing.T) {
	t.Parallel()
	w, _, _ := healthWorld(t)
	at := time.Now()
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", at)
	// Connected again while connected (a new import) is no recovery.
	w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", at.Add(time.Second))
	if h := w.health(); h.RecoveredAt != nil {
		t.Fatalf("a connection that never failed recovered at %v", h.RecoveredAt)
	}
	for i, failed := range []identityv1.ConnectionStatus{
		identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED,
		identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED,
	} {
		base := at.Add(time.Duration(i+1) * time.Minute)
		w.deliver(failed, "Lever refused the grant", base)
		if h := w.health(); h.Status == store.StatusConnected || h.Status == store.StatusSyncing {
			t.Fatalf("%s: %+v", failed, h.Connection)
		}
		before := time.Now()
		w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", base.Add(time.Second))
		h := w.health()
		if h.Status != store.StatusSyncing || h.RecoveredAt == nil || h.RecoveredAt.Before(before.Add(-time.Millisecond)) || h.RecoveredAt.After(time.Now()) {
			t.Fatalf("after %s and reconnecting: %s, recovered at %v (reconnected after %v)", failed, h.Status, h.RecoveredAt, before)
		}
		recovered := *h.RecoveredAt
		// Another connected keeps the time it recovered.
		w.deliver(identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, "", base.Add(2*time.Second))
		if h := w.health(); h.RecoveredAt == nil || !h.RecoveredAt.Equal(recovered) {
			t.Fatalf("recovered at %v, then %v", recovered, h.RecoveredAt)
		}
	}
}
