package members_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/members"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// fakeStore holds one organization's users, in joining order, and plays
// the store's transaction: allow runs on the user as stored.
type fakeStore struct {
	users    []store.User
	sessions map[string][]string // open sessions by user id
	fail     error               // returned by the changes when set
}

func (f *fakeStore) User(_ context.Context, orgID, userID string) (store.User, error) {
	for _, u := range f.users {
		if u.OrgID == orgID && u.ID == userID {
			return u, nil
		}
	}
	return store.User{}, postgres.ErrNotFound
}

func (f *fakeStore) Users(_ context.Context, orgID, after string, limit int) ([]store.User, error) {
	var out []store.User
	started := after == ""
	for _, u := range f.users {
		if started && u.OrgID == orgID && len(out) < limit {
			out = append(out, u)
		}
		started = started || u.ID == after
	}
	return out, nil
}

func (f *fakeStore) ChangeUserRole(ctx context.Context, orgID, userID string, role authz.Role, _ time.Time, allow func(store.User) error) (store.RoleChange, error) {
	u, err := f.User(ctx, orgID, userID)
	if err != nil {
		return store.RoleChange{}, err
	}
	if err := allow(u); err != nil {
		return store.RoleChange{}, err
	}
	if f.fail != nil {
		return store.RoleChange{}, f.fail
	}
	c := store.RoleChange{Previous: u.Role}
	u.Role = role
	f.put(u)
	if role != c.Previous {
		c.EndedSessions, f.sessions[userID] = f.sessions[userID], nil
	}
	c.User = u
	return c, nil
}

func (f *fakeStore) RemoveUser(ctx context.Context, orgID, userID string, _ time.Time, allow func(store.User) error) (store.Removal, error) {
	u, err := f.User(ctx, orgID, userID)
	if err != nil {
		return store.Removal{}, err
	}
	if err := allow(u); err != nil {
		return store.Removal{}, err
	}
	if f.fail != nil {
		return store.Removal{}, f.fail
	}
	f.users = slices.DeleteFunc(f.users, func(x store.User) bool { return x.ID == userID })
	r := store.Removal{User: u, EndedSessions: f.sessions[userID]}
	f.sessions[userID] = nil
	return r, nil
}

func (f *fakeStore) put(u store.User) {
	for i := range f.users {
		if f.users[i].ID == u.ID {
			f.users[i] = u
		}
	}
}

// revoker remembers the sessions it revoked.
type revoker struct {
	revoked []string
	fail    error
}

func (r *revoker) RevokeSessions(_ context.Context, ids []string) error {
	if r.fail != nil {
		return r.fail
	}
	r.revoked = append(r.revoked, ids...)
	return nil
}

func newOrg() *fakeStore {
	return &fakeStore{
		users: []store.User{
			{ID: "owner", OrgID: "org", Role: authz.RoleSuperAdmin},
			{ID: "admin", OrgID: "org", Role: authz.RoleAdmin},
			{ID: "rec", OrgID: "org", Role: authz.RoleRecruiter},
			{ID: "other", OrgID: "org-b", Role: authz.RoleRecruiter},
		},
		sessions: map[string][]string{"rec": {"s1", "s2"}, "admin": {"s3"}},
	}
}

func caller(id string, role authz.Role) authz.Principal {
	return authz.Principal{Kind: authz.KindUser, OrgID: "org", UserID: id, Role: role, SessionID: "sess-" + id}
}

func TestChangeRole_ChecksTheStoredRoleAndRevokesTheEndedSessions(t *testing.T) {
	st, rv := newOrg(), &revoker{}
	m := members.New(st, rv)
	ctx := t.Context()
	admin := caller("admin", authz.RoleAdmin)

	u, err := m.ChangeRole(ctx, admin, "rec", authz.RoleMember)
	if err != nil || u.Role != authz.RoleMember {
		t.Fatalf("an Admin demoting a Recruiter: %+v, %v", u, err)
	}
	if !slices.Equal(rv.revoked, []string{"s1", "s2"}) {
		t.Fatalf("revoked %v, want the Recruiter's sessions", rv.revoked)
	}
	// The check reads the role the store holds, not one the caller saw.
	st.put(store.User{ID: "rec", OrgID: "org", Role: authz.RoleAdmin})
	if _, err := m.ChangeRole(ctx, admin, "rec", authz.RoleMember); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("an Admin demoting a user who became Admin: %v, want PermissionDenied", err)
	}
	if _, err := m.ChangeRole(ctx, admin, "other", authz.RoleMember); !errors.Is(err, postgres.ErrNotFound) {
		t.Fatalf("another organization's user: %v, want not found", err)
	}
	st.fail = store.ErrLastSuperAdmin
	_, err = m.ChangeRole(ctx, caller("owner", authz.RoleSuperAdmin), "owner", authz.RoleAdmin)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindFailedPrecondition || ae.Reason != "last_super_admin" {
		t.Fatalf("the last Super Admin stepping down: %v", err)
	}
}

func TestChangeRoleAndRemove_FailWhenTheRevocationFails(t *testing.T) {
	st := newOrg()
	down := errors.New("redis down")
	m := members.New(st, &revoker{fail: down})
	owner := caller("owner", authz.RoleSuperAdmin)
	if _, err := m.ChangeRole(t.Context(), owner, "rec", authz.RoleMember); !errors.Is(err, down) {
		t.Fatalf("ChangeRole with revocations down: %v, want the failure", err)
	}
	if err := m.Remove(t.Context(), owner, "admin"); !errors.Is(err, down) {
		t.Fatalf("Remove with revocations down: %v, want the failure", err)
	}
}

func TestRemove(t *testing.T) {
	st, rv := newOrg(), &revoker{}
	m := members.New(st, rv)
	ctx := t.Context()
	if err := m.Remove(ctx, caller("admin", authz.RoleAdmin), "owner"); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("an Admin removing a Super Admin: %v", err)
	}
	if err := m.Remove(ctx, caller("admin", authz.RoleAdmin), "rec"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, "org", "rec"); !errors.Is(err, postgres.ErrNotFound) || !slices.Equal(rv.revoked, []string{"s1", "s2"}) {
		t.Fatalf("after removal: %v, revoked %v", err, rv.revoked)
	}
}

func TestList_Pages(t *testing.T) {
	st := newOrg()
	m := members.New(st, &revoker{})
	ctx := t.Context()
	p, err := m.List(ctx, "org", 2, "")
	if err != nil || len(p.Users) != 2 || p.NextPageToken == "" {
		t.Fatalf("first page: %+v, %v", p, err)
	}
	p, err = m.List(ctx, "org", 2, p.NextPageToken)
	if err != nil || len(p.Users) != 1 || p.Users[0].ID != "rec" || p.NextPageToken != "" {
		t.Fatalf("last page: %+v, %v", p, err)
	}
	if p, err := m.List(ctx, "org", 0, ""); err != nil || len(p.Users) != 3 {
		t.Fatalf("default size: %+v, %v", p, err)
	}
	for _, tc := range []struct {
		size  int
		token string
		field string
	}{
		{members.MaxPageSize + 1, "", "page_size"},
		{-1, "", "page_size"},
		{0, "!!", "page_token"},
		{0, "b3RoZXI", "page_token"}, // "other": a user of another organization
	} {
		_, err := m.List(ctx, "org", tc.size, tc.token)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != tc.field {
			t.Errorf("List(%d, %q): %v, want InvalidArgument on %s", tc.size, tc.token, err, tc.field)
		}
	}
}
