package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

func TestAPITokens(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	org, owner := person(t, st, newID(t), "owner@x.example")

	first, err := st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: "ci", Role: authz.RoleRecruiter, CreatedBy: owner.ID}, hash("tok-1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID == "" || first.OrgID != org.ID || first.Role != authz.RoleRecruiter || first.CreatedBy != owner.ID || first.RevokedAt != nil {
		t.Fatalf("created: %+v", first)
	}
	second, err := st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: "reports", Role: authz.RoleMember}, hash("tok-2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.CreatedBy != "" {
		t.Fatalf("a token without a creator: %+v", second)
	}
	_, err = st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: "dup", Role: authz.RoleMember}, hash("tok-1"), nil)
	wantErr(t, "a second token with the same hash", err, postgres.ErrConflict)

	found, err := st.APITokenByHash(ctx, hash("tok-1"))
	if err != nil || found.ID != first.ID || found.Role != authz.RoleRecruiter {
		t.Fatalf("by hash: %+v, %v", found, err)
	}
	_, err = st.APITokenByHash(ctx, hash("tok-unknown"))
	wantErr(t, "an unknown hash", err, postgres.ErrNotFound)

	list, err := st.APITokens(ctx, org.ID)
	if err != nil || len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID {
		t.Fatalf("list, newest first: %+v, %v", list, err)
	}

	at := time.Now().Truncate(time.Microsecond)
	revoked, err := st.RevokeAPIToken(ctx, org.ID, first.ID, at)
	if err != nil || revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(at) {
		t.Fatalf("revoke: %+v, %v", revoked, err)
	}
	again, err := st.RevokeAPIToken(ctx, org.ID, first.ID, at.Add(time.Hour))
	if err != nil || !again.RevokedAt.Equal(at) {
		t.Fatalf("revoking again keeps the first time: %+v, %v", again, err)
	}
	_, err = st.APITokenByHash(ctx, hash("tok-1"))
	wantErr(t, "a revoked token by hash", err, postgres.ErrNotFound)
	if list, err := st.APITokens(ctx, org.ID); err != nil || len(list) != 2 {
		t.Fatalf("revoked tokens stay listed: %+v (err %v)", list, err)
	}
}

func TestAPITokensNeverOutrankTheirCreator(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	org, _ := person(t, st, tenant, "owner@x.example")
	_, admin := person(t, st, tenant, "admin@x.example")
	if _, err := setRole(ctx, st, org.ID, admin.ID, authz.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	create := func(name string, role authz.Role) store.APIToken {
		t.Helper()
		tok, err := st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: name, Role: role, CreatedBy: admin.ID}, hash(name), anyone)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	adminTok, recruiterTok, memberTok := create("a", authz.RoleAdmin), create("r", authz.RoleRecruiter), create("m", authz.RoleMember)

	c, err := st.ChangeUserRole(ctx, org.ID, admin.ID, authz.RoleRecruiter, time.Now(), anyone)
	if err != nil || len(c.RevokedTokens) != 1 || c.RevokedTokens[0] != adminTok.ID {
		t.Fatalf("demotion to Recruiter revoked %v (%v), want the Admin token only", c.RevokedTokens, err)
	}
	_, err = st.APITokenByHash(ctx, hash("a"))
	wantErr(t, "the Admin token after the demotion", err, postgres.ErrNotFound)
	for _, h := range []string{"r", "m"} {
		if _, err := st.APITokenByHash(ctx, hash(h)); err != nil {
			t.Fatalf("token %s at or below the new role: %v", h, err)
		}
	}

	// allow sees the creator's role as stored.
	var seen authz.Role
	_, err = st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: "x", Role: authz.RoleAdmin, CreatedBy: admin.ID}, hash("x"),
		func(u store.User) error { seen = u.Role; return errors.New("refused") })
	if err == nil || seen != authz.RoleRecruiter {
		t.Fatalf("create saw role %q (%v), want the stored Recruiter and the refusal", seen, err)
	}

	r, err := st.RemoveUser(ctx, org.ID, admin.ID, time.Now(), anyone)
	if err != nil || len(r.RevokedTokens) != 2 || !slices.Contains(r.RevokedTokens, recruiterTok.ID) || !slices.Contains(r.RevokedTokens, memberTok.ID) {
		t.Fatalf("removal revoked %v (%v), want the two left", r.RevokedTokens, err)
	}
	_, err = st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: "y", Role: authz.RoleMember, CreatedBy: admin.ID}, hash("y"), anyone)
	wantErr(t, "a token of a removed creator", err, postgres.ErrNotFound)
}
