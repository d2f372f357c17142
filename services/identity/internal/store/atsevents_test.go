package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/events"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// published records the events published, in the change's transaction.
type published struct {
	mu  sync.Mutex
	evs []events.Event
}

func (p *published) Publish(_ context.Context, tx pgx.Tx, ev events.Event) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tx == nil {
		return "", context.Canceled
	}
	p.evs = append(p.evs, ev)
	return "id", nil
}

func (p *published) take() []events.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.evs
	p.evs = nil
	return out
}

// The organization's Lever connection, one per organization, tells
// atsbridge each change of its status with ats.connection_changed.
func TestOrgConnectionPublishes(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	pub := &published{}
	st.PublishAtsConnectionChanges(pub)
	org, _ := person(t, st, newID(t), "sa@x.example")
	lever := func(status, reason string) store.Connection {
		return store.Connection{OrgID: org.ID, Provider: store.ProviderLever, Status: status, Reason: reason}
	}

	connecting, err := st.UpsertOrgConnection(ctx, lever(store.StatusReconnectRequired, "connecting"))
	if err != nil || connecting.UserID != "" {
		t.Fatalf("first upsert: %+v, %v", connecting, err)
	}
	if evs := pub.take(); len(evs) != 0 {
		t.Fatalf("a connection created not connected says nothing: %v", evs)
	}
	connected, err := st.UpsertOrgConnection(ctx, lever(store.StatusConnected, ""))
	if err != nil || connected.ID != connecting.ID {
		t.Fatalf("one Lever connection per organization: %+v, %v", connected, err)
	}
	evs := pub.take()
	if len(evs) != 1 || evs[0].Type != store.EventAtsConnectionChanged || evs[0].AggregateID != connected.ID || evs[0].OrganizationID != org.ID ||
		evs[0].Version != connected.UpdatedAt.UnixMicro() {
		t.Fatalf("connected: %+v", evs)
	}
	p, ok := evs[0].Payload.(*identityv1.AtsConnectionChanged)
	if !ok || p.GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED || p.GetProvider() != "lever" || p.GetConnectionId() != connected.ID {
		t.Fatalf("payload: %v", evs[0].Payload)
	}
	// The same status again says nothing; a refused grant does.
	if _, err := st.UpsertOrgConnection(ctx, lever(store.StatusConnected, "")); err != nil {
		t.Fatal(err)
	}
	if evs := pub.take(); len(evs) != 0 {
		t.Fatalf("an unchanged status published %v", evs)
	}
	if err := st.MarkReconnectRequired(ctx, org.ID, connected.ID, "revoked"); err != nil {
		t.Fatal(err)
	}
	evs = pub.take()
	if len(evs) != 1 || evs[0].Payload.(*identityv1.AtsConnectionChanged).GetReason() != "revoked" ||
		evs[0].Payload.(*identityv1.AtsConnectionChanged).GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED {
		t.Fatalf("reconnect required: %+v", evs)
	}
	got, err := st.OrgConnection(ctx, org.ID, store.ProviderLever)
	if err != nil || got.ID != connected.ID || got.Status != store.StatusReconnectRequired {
		t.Fatalf("OrgConnection: %+v, %v", got, err)
	}
	// Another organization has none.
	if _, err := st.OrgConnection(ctx, newID(t), store.ProviderLever); err == nil {
		t.Fatal("another organization's Lever connection was found")
	}
}
