package store_test

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

func TestSignInUser_FirstUserIsSuperAdminLaterOnesTakeTheDefaultRole(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	adele := store.SignIn{TenantID: tenant, ObjectID: newID(t), Email: "adele@contoso.example", DisplayName: "Adele", OrgName: "contoso.example"}

	org, first, created, err := st.SignInUser(ctx, adele)
	if err != nil || !created {
		t.Fatalf("first sign-in: created %v, %v", created, err)
	}
	if first.Role != authz.RoleSuperAdmin || first.OrgID != org.ID || first.Email != adele.Email {
		t.Fatalf("first user: %+v", first)
	}
	if org.MicrosoftTenantID != tenant || org.DisplayName != "contoso.example" || org.DefaultRole != authz.RoleRecruiter {
		t.Fatalf("new organization: %+v", org)
	}

	// Again: the same user, with the name and email Microsoft now has.
	adele.Email, adele.DisplayName, adele.OrgName = "adele.vance@contoso.example", "Adele Vance", "ignored"
	org2, again, created, err := st.SignInUser(ctx, adele)
	if err != nil || created {
		t.Fatalf("second sign-in: created %v, %v", created, err)
	}
	if again.ID != first.ID || org2.ID != org.ID || again.Role != authz.RoleSuperAdmin {
		t.Fatalf("second sign-in found %+v in %+v, want %+v", again, org2, first)
	}
	if again.Email != "adele.vance@contoso.example" || again.DisplayName != "Adele Vance" || org2.DisplayName != "contoso.example" {
		t.Fatalf("second sign-in should refresh the user's name and email only: %+v, %+v", again, org2)
	}

	_, megan := person(t, st, tenant, "megan@contoso.example")
	if megan.Role != authz.RoleRecruiter || megan.OrgID != org.ID {
		t.Fatalf("second user: %+v", megan)
	}

	member := authz.RoleMember
	if _, err := st.UpdateOrganization(ctx, org.ID, store.OrganizationUpdate{DefaultRole: &member}); err != nil {
		t.Fatal(err)
	}
	if _, lee := person(t, st, tenant, "lee@contoso.example"); lee.Role != authz.RoleMember {
		t.Fatalf("after changing the default role, a new user got %s", lee.Role)
	}

	// Another tenant is another organization with its own Super Admin.
	other, diego := person(t, st, newID(t), "diego@fabrikam.example")
	if other.ID == org.ID || diego.Role != authz.RoleSuperAdmin {
		t.Fatalf("another tenant: %+v %+v", other, diego)
	}
}

func TestSignInUser_ConcurrentFirstSignInsMakeOneSuperAdmin(t *testing.T) {
	t.Parallel()
	st, pool := newStore(t)
	ctx := ctxTimeout(t)
	tenant := newID(t)

	const n = 10
	users := make([]store.User, n)
	orgs := make([]store.Organization, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			orgs[i], users[i], _, errs[i] = st.SignInUser(ctx, store.SignIn{TenantID: tenant, ObjectID: newID(t), Email: "p@x.example", DisplayName: "P", OrgName: "x.example"})
		})
	}
	close(start)
	wg.Wait()

	supers := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("sign-in %d: %v", i, errs[i])
		}
		if orgs[i].ID != orgs[0].ID {
			t.Fatalf("sign-ins landed in different organizations: %s, %s", orgs[i].ID, orgs[0].ID)
		}
		if users[i].Role == authz.RoleSuperAdmin {
			supers++
		}
	}
	if supers != 1 {
		t.Fatalf("%d Super Admins among %d concurrent first sign-ins, want 1", supers, n)
	}
	var orgCount, userCount int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM users)`).Scan(&orgCount, &userCount); err != nil {
		t.Fatal(err)
	}
	if orgCount != 1 || userCount != n {
		t.Fatalf("%d organizations and %d users, want 1 and %d", orgCount, userCount, n)
	}
}

func TestSignInUser_SamePersonConcurrentlyIsOneUser(t *testing.T) {
	t.Parallel()
	st, pool := newStore(t)
	ctx := ctxTimeout(t)
	in := store.SignIn{TenantID: newID(t), ObjectID: newID(t), Email: "p@x.example", DisplayName: "P", OrgName: "x.example"}

	var wg sync.WaitGroup
	ids := make([]string, 5)
	errs := make([]error, 5)
	for i := range 5 {
		wg.Go(func() {
			var u store.User
			_, u, _, errs[i] = st.SignInUser(ctx, in)
			ids[i] = u.ID
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("sign-in %d: user %q, %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d users, %v; want 1", n, err)
	}
}

func TestSignInUser_RemovedUserCannotSignIn(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	org, _ := person(t, st, tenant, "owner@x.example")
	gone := store.SignIn{TenantID: tenant, ObjectID: newID(t), Email: "gone@x.example", DisplayName: "Gone"}
	_, u, _, err := st.SignInUser(ctx, gone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := removeUser(ctx, st, org.ID, u.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, _, _, err = st.SignInUser(ctx, gone)
	wantErr(t, "removed user signs in", err, store.ErrUserRemoved)
	_, err = st.User(ctx, org.ID, u.ID)
	wantErr(t, "removed user looked up", err, postgres.ErrNotFound)
	users, err := st.Users(ctx, org.ID, "", 10)
	if err != nil || len(users) != 1 {
		t.Fatalf("Users after removal: %v, %v; want the owner only", users, err)
	}
	_, err = removeUser(ctx, st, org.ID, u.ID, time.Now())
	wantErr(t, "removing twice", err, postgres.ErrNotFound)
}

func TestLastSuperAdminStays(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	org, owner := person(t, st, tenant, "owner@x.example")
	_, second := person(t, st, tenant, "second@x.example")

	_, err := setRole(ctx, st, org.ID, owner.ID, authz.RoleAdmin)
	wantErr(t, "demoting the only Super Admin", err, store.ErrLastSuperAdmin)
	_, err = removeUser(ctx, st, org.ID, owner.ID, time.Now())
	wantErr(t, "removing the only Super Admin", err, store.ErrLastSuperAdmin)
	if u, err := st.User(ctx, org.ID, owner.ID); err != nil || u.Role != authz.RoleSuperAdmin {
		t.Fatalf("the owner after refused changes: %+v, %v", u, err)
	}
	// Setting the same role again is no demotion.
	if _, err := setRole(ctx, st, org.ID, owner.ID, authz.RoleSuperAdmin); err != nil {
		t.Fatal(err)
	}

	// With a second Super Admin, the first may step down.
	if _, err := setRole(ctx, st, org.ID, second.ID, authz.RoleSuperAdmin); err != nil {
		t.Fatal(err)
	}
	if u, err := setRole(ctx, st, org.ID, owner.ID, authz.RoleMember); err != nil || u.Role != authz.RoleMember {
		t.Fatalf("demote with another Super Admin: %+v, %v", u, err)
	}
	_, err = removeUser(ctx, st, org.ID, second.ID, time.Now())
	wantErr(t, "removing the new only Super Admin", err, store.ErrLastSuperAdmin)

	// A removed Super Admin does not count.
	if _, err := setRole(ctx, st, org.ID, owner.ID, authz.RoleSuperAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := removeUser(ctx, st, org.ID, owner.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = setRole(ctx, st, org.ID, second.ID, authz.RoleAdmin)
	wantErr(t, "demoting the last active Super Admin", err, store.ErrLastSuperAdmin)
}

func TestLastSuperAdminStaysUnderConcurrency(t *testing.T) {
	t.Parallel()
	st, pool := newStore(t)
	ctx := ctxTimeout(t)
	tenant := newID(t)
	org, a := person(t, st, tenant, "a@x.example")
	_, b := person(t, st, tenant, "b@x.example")

	// Each round, two Super Admins act against each other at the same
	// moment: demoting each other, or one demoting while the other removes.
	for round := range 10 {
		exec(t, pool, `UPDATE users SET role = 'super_admin', removed_at = NULL WHERE id IN ($1, $2)`, a.ID, b.ID)
		var errA, errB error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; _, errA = setRole(ctx, st, org.ID, b.ID, authz.RoleAdmin) })
		if round%2 == 0 {
			wg.Go(func() { <-start; _, errB = setRole(ctx, st, org.ID, a.ID, authz.RoleAdmin) })
		} else {
			wg.Go(func() { <-start; _, errB = removeUser(ctx, st, org.ID, a.ID, time.Now()) })
		}
		close(start)
		wg.Wait()
		refused := 0
		for _, err := range []error{errA, errB} {
			switch {
			case errors.Is(err, store.ErrLastSuperAdmin):
				refused++
			case err != nil:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		var supers int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE org_id = $1 AND role = 'super_admin' AND removed_at IS NULL`, org.ID).Scan(&supers); err != nil {
			t.Fatal(err)
		}
		if supers != 1 || refused != 1 {
			t.Fatalf("round %d: %d Super Admins left and %d refusals (errors %v, %v), want 1 and 1", round, supers, refused, errA, errB)
		}
	}
}

func TestUsersArePagedByCreation(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	org, _ := person(t, st, tenant, "p0@x.example")
	for i := 1; i < 5; i++ {
		person(t, st, tenant, "p"+string(rune('0'+i))+"@x.example")
	}
	person(t, st, newID(t), "elsewhere@y.example")

	var seen []string
	after := ""
	for {
		page, err := st.Users(ctx, org.ID, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			if u.OrgID != org.ID {
				t.Fatalf("another organization's user listed: %+v", u)
			}
			seen = append(seen, u.Email)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	want := []string{"p0@x.example", "p1@x.example", "p2@x.example", "p3@x.example", "p4@x.example"}
	if len(seen) != len(want) {
		t.Fatalf("paged through %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("paged through %v, want %v", seen, want)
		}
	}
}

func TestChangeUserRole_ChecksUnderTheLockAndEndsSessionsInTheSameTransaction(t *testing.T) {
	t.Parallel()
	st, pool := newStore(t)
	ctx := ctxTimeout(t)
	tenant := newID(t)
	org, _ := person(t, st, tenant, "owner@x.example")
	_, u := person(t, st, tenant, "u@x.example")
	now := time.Now()
	s1, err := st.CreateSession(ctx, org.ID, u.ID, hash("cr1"), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	// allow sees the user as they are, and a refusal changes nothing.
	refused := errors.New("refused")
	var seen store.User
	_, err = st.ChangeUserRole(ctx, org.ID, u.ID, authz.RoleMember, now, func(cur store.User) error { seen = cur; return refused })
	wantErr(t, "a refused change", err, refused)
	if seen.ID != u.ID || seen.Role != authz.RoleRecruiter {
		t.Fatalf("allow saw %+v, want the recruiter", seen)
	}
	if got, err := st.User(ctx, org.ID, u.ID); err != nil || got.Role != authz.RoleRecruiter {
		t.Fatalf("after a refusal: %+v, %v", got, err)
	}
	var open int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`, u.ID).Scan(&open); err != nil || open != 1 {
		t.Fatalf("sessions open after a refusal: %d, %v", open, err)
	}

	// The same role again ends nothing.
	c, err := st.ChangeUserRole(ctx, org.ID, u.ID, authz.RoleRecruiter, now, anyone)
	if err != nil || len(c.EndedSessions) != 0 || c.Previous != authz.RoleRecruiter {
		t.Fatalf("same role: %+v, %v", c, err)
	}
	// A new role ends the sessions, whose tokens carry the old one.
	c, err = st.ChangeUserRole(ctx, org.ID, u.ID, authz.RoleMember, now, anyone)
	if err != nil || c.User.Role != authz.RoleMember || c.Previous != authz.RoleRecruiter || len(c.EndedSessions) != 1 || c.EndedSessions[0] != s1.ID {
		t.Fatalf("new role: %+v, %v", c, err)
	}

	// While one change holds the lock, another waits and then sees its
	// result: the check runs on the role as it is, not as it was read.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, org.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan store.User, 1)
	go func() {
		var saw store.User
		_, err := st.ChangeUserRole(ctx, org.ID, u.ID, authz.RoleHiringManager, now, func(cur store.User) error { saw = cur; return nil })
		if err != nil {
			t.Error(err)
		}
		done <- saw
	}()
	// Wait until the change is blocked on the lock, so a check that read the
	// role before taking it would see the stale one.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second change never waited for the lock")
		}
		runtime.Gosched()
	}
	if _, err := tx.Exec(ctx, `UPDATE users SET role = 'admin' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if saw := <-done; saw.Role != authz.RoleAdmin {
		t.Fatalf("the waiting change checked role %q, want the committed admin", saw.Role)
	}
}
