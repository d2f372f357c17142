package store_test

import (
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

	first, err := st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: "ci", Role: authz.RoleRecruiter, CreatedBy: owner.ID}, hash("tok-1"))
	if err != nil {
		t.Fatal(err)
	}
	if first.ID == "" || first.OrgID != org.ID || first.Role != authz.RoleRecruiter || first.CreatedBy != owner.ID || first.RevokedAt != nil {
		t.Fatalf("created: %+v", first)
	}
	second, err := st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: "reports", Role: authz.RoleMember}, hash("tok-2"))
	if err != nil {
		t.Fatal(err)
	}
	if second.CreatedBy != "" {
		t.Fatalf("a token without a creator: %+v", second)
	}
	_, err = st.CreateAPIToken(ctx, store.APIToken{OrgID: org.ID, DisplayName: "dup", Role: authz.RoleMember}, hash("tok-1"))
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
	if list, _ := st.APITokens(ctx, org.ID); len(list) != 2 {
		t.Fatalf("revoked tokens stay listed: %+v", list)
	}
}
