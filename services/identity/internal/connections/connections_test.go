package connections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/connections"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// fakeStore keeps connections by id.
type fakeStore struct {
	conns map[string]store.Connection
}

func (f *fakeStore) User(_ context.Context, orgID, userID string) (store.User, error) {
	return store.User{ID: userID, OrgID: orgID, Email: userID + "@x.example"}, nil
}

func (f *fakeStore) PersonalConnection(_ context.Context, orgID, userID, provider string) (store.Connection, error) {
	for _, c := range f.conns {
		if c.OrgID == orgID && c.UserID == userID && c.Provider == provider {
			return c, nil
		}
	}
	return store.Connection{}, postgres.ErrNotFound
}

func (f *fakeStore) UpsertPersonalConnection(ctx context.Context, c store.Connection) (store.Connection, error) {
	if old, err := f.PersonalConnection(ctx, c.OrgID, c.UserID, c.Provider); err == nil {
		c.ID = old.ID
	}
	f.conns[c.ID] = c
	return c, nil
}

func (f *fakeStore) Connection(_ context.Context, orgID, id string) (store.Connection, error) {
	if c, ok := f.conns[id]; ok && c.OrgID == orgID {
		return c, nil
	}
	return store.Connection{}, postgres.ErrNotFound
}

func (f *fakeStore) ConnectionByID(_ context.Context, id string) (store.Connection, error) {
	if c, ok := f.conns[id]; ok {
		return c, nil
	}
	return store.Connection{}, postgres.ErrNotFound
}

func (f *fakeStore) OrgConnection(_ context.Context, orgID, provider string) (store.Connection, error) {
	for _, c := range f.conns {
		if c.OrgID == orgID && c.UserID == "" && c.Provider == provider {
			return c, nil
		}
	}
	return store.Connection{}, postgres.ErrNotFound
}

func (f *fakeStore) UpsertOrgConnection(ctx context.Context, c store.Connection) (store.Connection, error) {
	if old, err := f.OrgConnection(ctx, c.OrgID, c.Provider); err == nil {
		c.ID = old.ID
	}
	f.conns[c.ID] = c
	return c, nil
}

type tickets struct{ flow, email string }

func (t *tickets) NewTicket(_ context.Context, flow, _, _, email string) (string, error) {
	t.flow, t.email = flow, email
	return "https://gateway/start?ticket=t", nil
}

type vault struct {
	deleted []string
	// gone makes Check answer that a connection's credentials are lost;
	// down, that they cannot be checked now.
	gone, down map[string]bool
	checked    []string
}

var (
	errGone = errors.New("credentials gone")
	errDown = errors.New("credential store down")
)

func (v *vault) Check(_ context.Context, _, id string) error {
	v.checked = append(v.checked, id)
	switch {
	case v.gone[id]:
		return errGone
	case v.down[id]:
		return errDown
	}
	return nil
}

func reconnectReason(err error) (string, bool) {
	if errors.Is(err, errGone) {
		return "the stored credentials were lost", true
	}
	return "", false
}

func (v *vault) AccessToken(context.Context, string, string) (string, time.Time, error) {
	return "at", time.Unix(1, 0), nil
}

func (v *vault) RefreshedToken(context.Context, string, string) (string, time.Time, error) {
	return "at2", time.Unix(2, 0), nil
}

func (v *vault) Delete(_ context.Context, id string) error {
	v.deleted = append(v.deleted, id)
	return nil
}

func TestMailbox(t *testing.T) {
	st := &fakeStore{conns: map[string]store.Connection{}}
	tk, v := &tickets{}, &vault{}
	c := connections.New(st, tk, v, reconnectReason)
	ctx := t.Context()
	me := authz.Principal{Kind: authz.KindUser, OrgID: "org", UserID: "u1", Role: authz.RoleMember}

	got, err := c.Mailbox(ctx, me)
	if err != nil || got.Status != store.StatusDisconnected || got.ID != "" {
		t.Fatalf("a mailbox never connected: %+v, %v", got, err)
	}
	token := authz.Principal{Kind: authz.KindAPIToken, OrgID: "org", TokenID: "t", Role: authz.RoleAdmin}
	if _, err := c.ConnectMailbox(ctx, token); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("an API token connecting a mailbox: %v", err)
	}
	if _, err := c.ConnectMailbox(ctx, me); err != nil || tk.flow != signin.FlowMailbox || tk.email != "u1@x.example" {
		t.Fatalf("ConnectMailbox: %v, ticket %+v", err, tk)
	}
	// Disconnecting a mailbox never connected forgets nothing.
	if _, err := c.DisconnectMailbox(ctx, me); err != nil || len(v.deleted) != 0 {
		t.Fatalf("disconnecting nothing: %v, deleted %v", err, v.deleted)
	}
	st.conns["c1"] = store.Connection{ID: "c1", OrgID: "org", UserID: "u1", Provider: store.ProviderMicrosoftMailbox, Status: store.StatusConnected}
	got, err = c.DisconnectMailbox(ctx, me)
	if err != nil || got.Status != store.StatusDisconnected || len(v.deleted) != 1 || v.deleted[0] != "c1" {
		t.Fatalf("disconnect: %+v, %v, deleted %v", got, err, v.deleted)
	}
}

func TestAccessToken_OnlyForAConnectedConnection(t *testing.T) {
	st := &fakeStore{conns: map[string]store.Connection{
		"ok":   {ID: "ok", OrgID: "org", Status: store.StatusConnected},
		"wait": {ID: "wait", OrgID: "org", Status: store.StatusAwaitingAdminApproval, Reason: "waiting"},
	}}
	c := connections.New(st, &tickets{}, &vault{}, reconnectReason)
	if tok, _, err := c.AccessToken(t.Context(), "ok"); err != nil || tok != "at" {
		t.Fatalf("a connected connection: %q, %v", tok, err)
	}
	_, _, err := c.AccessToken(t.Context(), "wait")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindFailedPrecondition || ae.Reason != store.StatusAwaitingAdminApproval {
		t.Fatalf("a waiting connection: %v", err)
	}
	if _, _, err := c.AccessToken(t.Context(), "none"); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("an unknown connection: %v", err)
	}
}

// A connection recorded as connected reads what is really there: credentials
// lost for good make it reconnect_required with the reason; a store that
// cannot answer leaves the recorded status; other statuses are not checked.
func TestStatusIsChecked(t *testing.T) {
	st := &fakeStore{conns: map[string]store.Connection{
		"ok":   {ID: "ok", OrgID: "org", UserID: "u1", Provider: store.ProviderMicrosoftMailbox, Status: store.StatusConnected},
		"lost": {ID: "lost", OrgID: "org", Status: store.StatusConnected},
		"down": {ID: "down", OrgID: "org", Status: store.StatusConnected},
		"wait": {ID: "wait", OrgID: "org", Status: store.StatusAwaitingAdminApproval, Reason: "waiting"},
	}}
	v := &vault{gone: map[string]bool{"lost": true}, down: map[string]bool{"down": true}}
	c := connections.New(st, &tickets{}, v, reconnectReason)
	ctx := t.Context()

	me := authz.Principal{Kind: authz.KindUser, OrgID: "org", UserID: "u1", Role: authz.RoleMember}
	if got, err := c.Mailbox(ctx, me); err != nil || got.Status != store.StatusConnected {
		t.Fatalf("a mailbox whose credentials are there: %+v, %v", got, err)
	}
	got, err := c.Get(ctx, "org", "lost")
	if err != nil || got.Status != store.StatusReconnectRequired || got.Reason != "the stored credentials were lost" {
		t.Fatalf("credentials lost: %+v, %v", got, err)
	}
	if got, err := c.Get(ctx, "org", "down"); err != nil || got.Status != store.StatusConnected {
		t.Fatalf("credentials that cannot be checked now: %+v, %v", got, err)
	}
	v.checked = nil
	if got, err := c.Get(ctx, "org", "wait"); err != nil || got.Status != store.StatusAwaitingAdminApproval || len(v.checked) != 0 {
		t.Fatalf("a connection not connected: %+v, %v, checked %v", got, err, v.checked)
	}
}

func TestLever(t *testing.T) {
	st := &fakeStore{conns: map[string]store.Connection{}}
	tk, v := &tickets{}, &vault{}
	c := connections.New(st, tk, v, reconnectReason)
	ctx := t.Context()
	admin := authz.Principal{Kind: authz.KindUser, OrgID: "org", UserID: "sa", Role: authz.RoleSuperAdmin}

	u, err := c.ConnectLever(ctx, admin)
	if err != nil || u == "" || tk.flow != signin.FlowLever || tk.email != "sa@x.example" {
		t.Fatalf("ConnectLever = %q, %v; ticket %+v", u, err, tk)
	}
	if _, err := c.ConnectLever(ctx, authz.Principal{Kind: authz.KindAPIToken, OrgID: "org", Role: authz.RoleSuperAdmin}); !errors.Is(err, apperr.ErrFailedPrecondition) {
		t.Fatalf("an API token connecting Lever: want FailedPrecondition, got %v", err)
	}

	// Never connected: reported disconnected, nothing deleted.
	got, err := c.DisconnectLever(ctx, admin)
	if err != nil || got.Status != store.StatusDisconnected || len(v.deleted) != 0 {
		t.Fatalf("DisconnectLever before any connection = %+v, %v, deleted %v", got, err, v.deleted)
	}

	st.conns["lv"] = store.Connection{ID: "lv", OrgID: "org", Provider: store.ProviderLever, Status: store.StatusConnected}
	st.conns["other"] = store.Connection{ID: "other", OrgID: "org2", Provider: store.ProviderLever, Status: store.StatusConnected}
	got, err = c.DisconnectLever(ctx, admin)
	if err != nil || got.ID != "lv" || got.Status != store.StatusDisconnected || got.Reason == "" {
		t.Fatalf("DisconnectLever = %+v, %v", got, err)
	}
	if len(v.deleted) != 1 || v.deleted[0] != "lv" || st.conns["other"].Status != store.StatusConnected {
		t.Fatalf("only this organization's tokens go: deleted %v, other %+v", v.deleted, st.conns["other"])
	}
}
