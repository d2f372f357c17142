package mailboxes_test

import (
	"testing"
	"time"

	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/mailboxes"
)

// A mailbox that comes back says so, and when (SYNC-3).
func TestAMailboxConnectedAgainIsRecovered(t *testing.T) {
	t.Parallel()
	r, st, pool, _ := newRegistry(t)
	t0 := time.Now()
	apply(t, r, pool, event(t, mailboxes.EventConnected, identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, t0))
	apply(t, r, pool, event(t, mailboxes.EventConnected, identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, t0.Add(time.Second)))
	if m, err := st.MailboxByID(t.Context(), conn); err != nil || m.RecoveredAt != nil {
		t.Fatalf("a mailbox that never failed: recovered at %v, %v", m.RecoveredAt, err)
	}
	for i, failed := range []struct {
		typ    string
		status identityv1.ConnectionStatus
	}{
		{mailboxes.EventReconnectRequired, identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED},
		{mailboxes.EventDisconnected, identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED},
	} {
		base := t0.Add(time.Duration(i+1) * time.Minute)
		apply(t, r, pool, event(t, failed.typ, failed.status, base))
		before := time.Now()
		apply(t, r, pool, event(t, mailboxes.EventConnected, identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, base.Add(time.Second)))
		m, err := st.MailboxByID(t.Context(), conn)
		if err != nil || m.RecoveredAt == nil || m.RecoveredAt.Before(before.Add(-time.Second)) {
			t.Fatalf("after %s and reconnecting: recovered at %v (reconnected after %v), %v", failed.typ, m.RecoveredAt, before, err)
		}
		recovered := *m.RecoveredAt
		apply(t, r, pool, event(t, mailboxes.EventConnected, identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED, base.Add(2*time.Second)))
		if m, err := st.MailboxByID(t.Context(), conn); err != nil || m.RecoveredAt == nil || !m.RecoveredAt.Equal(recovered) {
			t.Fatalf("recovered at %v, then %v (%v)", recovered, m.RecoveredAt, err)
		}
	}
}
