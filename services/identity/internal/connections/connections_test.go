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

type tickets struct{ flow, email string }

func (t *tickets) NewTicket(_ context.Context, flow, _, _, email string) (string, error) {
	t.flow, t.email = flow, email
	return "https://gateway/start?ticket=t", nil
}

type vault struct{ deleted []string }

func (v *vault) AccessToken(context.Context, string, string) (string, time.Time, error) {
	return "at", time.Unix(1, 0), nil
}

func (v *vault) Delete(_ context.Context, id string) error {
	v.deleted = append(v.deleted, id)
	return nil
}

func TestMailbox(t *testing.T) {
	st := &fakeStore{conns: map[string]store.Connection{}}
	tk, v := &tickets{}, &vault{}
	c := connections.New(st, tk, v)
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
	c := connections.New(st, &tickets{}, &vault{})
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
