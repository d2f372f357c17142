package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/events"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// outbox records what the store publishes, and can refuse.
type outbox struct {
	mu     sync.Mutex
	events []events.Event
	fail   error
}

func (o *outbox) Publish(_ context.Context, _ pgx.Tx, ev events.Event) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return "", o.fail
	}
	o.events = append(o.events, ev)
	return "id", nil
}

func (o *outbox) types() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, ev := range o.events {
		out = append(out, ev.Type)
	}
	return out
}

func TestAMailboxsStatusChangesArePublishedWithTheChange(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	box := &outbox{}
	st.PublishMailboxChanges(box)
	ctx := t.Context()
	org, user := person(t, st, newID(t), "p@x.example")
	mailbox := func(status, reason string) store.Connection {
		return store.Connection{OrgID: org.ID, UserID: user.ID, Provider: store.ProviderMicrosoftMailbox, Status: status, Reason: reason, Account: "p@x.example"}
	}
	// Created waiting for its tokens: nothing to tell yet.
	c, err := st.UpsertPersonalConnection(ctx, mailbox(store.StatusReconnectRequired, "connecting"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertPersonalConnection(ctx, mailbox(store.StatusConnected, "")); err != nil {
		t.Fatal(err)
	}
	// The same status again says nothing new.
	if _, err := st.UpsertPersonalConnection(ctx, mailbox(store.StatusConnected, "")); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkReconnectRequired(ctx, org.ID, c.ID, "refresh token expired or revoked"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertPersonalConnection(ctx, mailbox(store.StatusDisconnected, "disconnected by the user")); err != nil {
		t.Fatal(err)
	}
	want := []string{store.EventMailboxConnected, store.EventMailboxReconnectRequired, store.EventMailboxDisconnected}
	if got := box.types(); !slices.Equal(got, want) {
		t.Fatalf("published %v, want %v", got, want)
	}
	ev := box.events[1]
	p := ev.Payload.(*identityv1.MailboxConnectionChanged)
	if ev.OrganizationID != org.ID || ev.AggregateID != c.ID || p.GetConnectionId() != c.ID || p.GetUserId() != user.ID ||
		p.GetStatus() != identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED || p.GetReason() != "refresh token expired or revoked" ||
		ev.Version != p.GetChangeTime().AsTime().UnixMicro() || ev.Version <= box.events[0].Version {
		t.Errorf("event %+v, payload %v", ev, p)
	}

	// A change whose event cannot be published is not made either.
	box.fail = errors.New("outbox down")
	if _, err := st.UpsertPersonalConnection(ctx, mailbox(store.StatusConnected, "")); err == nil {
		t.Fatal("the change was made without its event")
	}
	got, err := st.Connection(ctx, org.ID, c.ID)
	if err != nil || got.Status != store.StatusDisconnected {
		t.Errorf("after a failed publish: %s, %v", got.Status, err)
	}
}
