package store_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/store"
)

func TestUpsertPersonalConnection(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	org, user := person(t, st, newID(t), "p@x.example")
	mailbox := func(c store.Connection) store.Connection {
		c.OrgID, c.UserID, c.Provider = org.ID, user.ID, store.ProviderMicrosoftMailbox
		return c
	}

	waiting, err := st.UpsertPersonalConnection(ctx, mailbox(store.Connection{Status: store.StatusAwaitingAdminApproval, Reason: "ask your admin", AdminConsentURL: "https://x/consent"}))
	if err != nil {
		t.Fatal(err)
	}
	if waiting.ID == "" || waiting.Status != store.StatusAwaitingAdminApproval || waiting.Scopes == nil || len(waiting.Scopes) != 0 || waiting.RefreshedAt != nil {
		t.Fatalf("first upsert: %+v", waiting)
	}

	refreshed := time.Now().Truncate(time.Microsecond)
	connected, err := st.UpsertPersonalConnection(ctx, mailbox(store.Connection{Status: store.StatusConnected, Account: "p@x.example", Scopes: []string{"Mail.Send"}, RefreshedAt: &refreshed}))
	if err != nil {
		t.Fatal(err)
	}
	if connected.ID != waiting.ID {
		t.Fatalf("a user has one mailbox connection: %s then %s", waiting.ID, connected.ID)
	}
	if connected.Status != store.StatusConnected || connected.Reason != "" || connected.AdminConsentURL != "" ||
		connected.Account != "p@x.example" || !slices.Equal(connected.Scopes, []string{"Mail.Send"}) || !connected.RefreshedAt.Equal(refreshed) {
		t.Fatalf("second upsert: %+v", connected)
	}

	// Empty account, scopes and refresh time keep what is known.
	disconnected, err := st.UpsertPersonalConnection(ctx, mailbox(store.Connection{Status: store.StatusDisconnected, Reason: "bye"}))
	if err != nil {
		t.Fatal(err)
	}
	if disconnected.ID != waiting.ID || disconnected.Status != store.StatusDisconnected || disconnected.Reason != "bye" ||
		disconnected.Account != "p@x.example" || !slices.Equal(disconnected.Scopes, []string{"Mail.Send"}) || !disconnected.RefreshedAt.Equal(refreshed) {
		t.Fatalf("third upsert: %+v", disconnected)
	}
	if disconnected.UpdatedAt.Before(connected.UpdatedAt) {
		t.Fatalf("updated_at went back: %v then %v", connected.UpdatedAt, disconnected.UpdatedAt)
	}

	got, err := st.PersonalConnection(ctx, org.ID, user.ID, store.ProviderMicrosoftMailbox)
	if err != nil || got.ID != waiting.ID || got.Status != store.StatusDisconnected {
		t.Fatalf("PersonalConnection: %+v, %v", got, err)
	}

	if err := st.SetConnectionStatus(ctx, org.ID, got.ID, store.StatusConnected, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkReconnectRequired(ctx, org.ID, got.ID, "grant revoked"); err != nil {
		t.Fatal(err)
	}
	later := refreshed.Add(time.Hour)
	if err := st.MarkRefreshed(ctx, org.ID, got.ID, later); err != nil {
		t.Fatal(err)
	}
	got, err = st.Connection(ctx, org.ID, got.ID)
	if err != nil || got.Status != store.StatusReconnectRequired || got.Reason != "grant revoked" || !got.RefreshedAt.Equal(later) {
		t.Fatalf("after status changes: %+v, %v", got, err)
	}

	// A token read that races a disconnect finds the credentials gone: the
	// connection stays disconnected.
	if _, err := st.UpsertPersonalConnection(ctx, mailbox(store.Connection{Status: store.StatusDisconnected, Reason: "bye"})); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkReconnectRequired(ctx, org.ID, got.ID, "stored credentials were lost"); err != nil {
		t.Fatal(err)
	}
	if got, err = st.Connection(ctx, org.ID, got.ID); err != nil || got.Status != store.StatusDisconnected || got.Reason != "bye" {
		t.Fatalf("a lost credential after disconnecting: %+v, %v", got, err)
	}
}

func TestIdleConnections(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	now := time.Now()
	conn := func(email, status string, refreshed *time.Time) store.Connection {
		org, user := person(t, st, tenant, email)
		c, err := st.UpsertPersonalConnection(ctx, store.Connection{OrgID: org.ID, UserID: user.ID, Provider: store.ProviderMicrosoftMailbox, Status: status, RefreshedAt: refreshed})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old, recent := now.Add(-10*24*time.Hour), now.Add(-time.Hour)
	older := now.Add(-20 * 24 * time.Hour)
	idleOld := conn("old@x.example", store.StatusConnected, &old)
	never := conn("never@x.example", store.StatusConnected, nil)
	conn("recent@x.example", store.StatusConnected, &recent)
	conn("gone@x.example", store.StatusDisconnected, &older)
	conn("waiting@x.example", store.StatusReconnectRequired, nil)
	idleOlder := conn("older@x.example", store.StatusConnected, &older)

	before := now.Add(-7 * 24 * time.Hour)
	idle, err := st.IdleConnections(ctx, before, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range idle {
		got = append(got, c.ID)
	}
	// Never refreshed first, then the longest idle.
	if want := []string{never.ID, idleOlder.ID, idleOld.ID}; !slices.Equal(got, want) {
		t.Fatalf("idle connections %v, want %v", got, want)
	}
	if idle, err := st.IdleConnections(ctx, before, 2); err != nil || len(idle) != 2 {
		t.Fatalf("limit 2: %d, %v", len(idle), err)
	}
}

// A pass over every connected connection, a page at a time, sees each once
// and no other.
func TestConnectedConnections(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	want := map[string]bool{}
	for i, status := range []string{store.StatusConnected, store.StatusDisconnected, store.StatusConnected, store.StatusReconnectRequired, store.StatusConnected} {
		org, user := person(t, st, tenant, fmt.Sprintf("p%d@x.example", i))
		c, err := st.UpsertPersonalConnection(ctx, store.Connection{OrgID: org.ID, UserID: user.ID, Provider: store.ProviderMicrosoftMailbox, Status: status})
		if err != nil {
			t.Fatal(err)
		}
		if status == store.StatusConnected {
			want[c.ID] = true
		}
	}
	got := map[string]bool{}
	after := ""
	for pages := 0; ; pages++ {
		page, err := st.ConnectedConnections(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			if got[c.ID] || c.Status != store.StatusConnected {
				t.Fatalf("page %d: %s (%s) seen twice or not connected", pages, c.ID, c.Status)
			}
			got[c.ID] = true
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if !maps.Equal(got, want) {
		t.Fatalf("connected connections %v, want %v", got, want)
	}
}
