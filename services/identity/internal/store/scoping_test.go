package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// Every object of one organization is NotFound to another, and so is any
// id that is not an id at all.
func TestEverythingIsScopedByOrganization(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	orgA, ownerA := person(t, st, tenant, "owner@a.example")
	_, userA := person(t, st, tenant, "user@a.example")
	orgB, _ := person(t, st, newID(t), "owner@b.example")

	tokA, err := st.CreateAPIToken(ctx, store.APIToken{OrgID: orgA.ID, DisplayName: "a", Role: authz.RoleMember}, hash("a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	connA, err := st.UpsertPersonalConnection(ctx, store.Connection{OrgID: orgA.ID, UserID: userA.ID, Provider: store.ProviderMicrosoftMailbox, Status: store.StatusConnected})
	if err != nil {
		t.Fatal(err)
	}

	ids := map[string]string{
		"another organization's": userA.ID,
		"malformed":              "not-a-uuid",
		"empty":                  "",
		"injected":               "' OR '1'='1",
		"non-hex":                "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
		"unknown":                newID(t),
	}
	for name, id := range ids {
		_, err := st.User(ctx, orgB.ID, id)
		wantErr(t, "User of "+name+" id", err, postgres.ErrNotFound)
		_, err = setRole(ctx, st, orgB.ID, id, authz.RoleMember)
		wantErr(t, "SetUserRole of "+name+" id", err, postgres.ErrNotFound)
		_, err = removeUser(ctx, st, orgB.ID, id, time.Now())
		wantErr(t, "RemoveUser of "+name+" id", err, postgres.ErrNotFound)
	}
	ids["another organization's"] = tokA.ID
	for name, id := range ids {
		_, err := st.RevokeAPIToken(ctx, orgB.ID, id, time.Now())
		wantErr(t, "RevokeAPIToken of "+name+" id", err, postgres.ErrNotFound)
	}
	ids["another organization's"] = connA.ID
	for name, id := range ids {
		_, err := st.Connection(ctx, orgB.ID, id)
		wantErr(t, "Connection of "+name+" id", err, postgres.ErrNotFound)
		if name != "another organization's" {
			_, err = st.ConnectionByID(ctx, id)
			wantErr(t, "ConnectionByID of "+name+" id", err, postgres.ErrNotFound)
		}
	}
	_, err = st.PersonalConnection(ctx, orgB.ID, userA.ID, store.ProviderMicrosoftMailbox)
	wantErr(t, "PersonalConnection of another organization's user", err, postgres.ErrNotFound)

	// Changes aimed at another organization's connection change nothing.
	if err := st.SetConnectionStatus(ctx, orgB.ID, connA.ID, store.StatusDisconnected, "x"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkReconnectRequired(ctx, orgB.ID, connA.ID, "x"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkRefreshed(ctx, orgB.ID, connA.ID, time.Now()); err != nil {
		t.Fatal(err)
	}

	// Lists show only the caller's organization.
	if users, err := st.Users(ctx, orgB.ID, "", 10); err != nil || len(users) != 1 || users[0].OrgID != orgB.ID {
		t.Fatalf("Users of B: %+v, %v", users, err)
	}
	if toks, err := st.APITokens(ctx, orgB.ID); err != nil || len(toks) != 0 {
		t.Fatalf("APITokens of B: %+v, %v", toks, err)
	}
	// A page token of another organization is no way in either.
	if users, err := st.Users(ctx, orgB.ID, ownerA.ID, 10); err != nil || slices.ContainsFunc(users, func(u store.User) bool { return u.OrgID != orgB.ID }) {
		t.Fatalf("Users of B after A's user: %+v, %v", users, err)
	}

	// A's objects are untouched.
	if u, err := st.User(ctx, orgA.ID, userA.ID); err != nil || u.Role != authz.RoleRecruiter {
		t.Fatalf("A's user after B's attempts: %+v, %v", u, err)
	}
	if tok, err := st.APITokenByHash(ctx, hash("a")); err != nil || tok.RevokedAt != nil {
		t.Fatalf("A's token after B's attempts: %+v, %v", tok, err)
	}
	if c, err := st.Connection(ctx, orgA.ID, connA.ID); err != nil || c.Status != store.StatusConnected || c.RefreshedAt != nil {
		t.Fatalf("A's connection after B's attempts: %+v, %v", c, err)
	}
	if c, err := st.ConnectionByID(ctx, connA.ID); err != nil || c.OrgID != orgA.ID {
		t.Fatalf("ConnectionByID: %+v, %v", c, err)
	}
}
