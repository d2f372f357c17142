package authz

import (
	"testing"
)

func TestRoleOrder(t *testing.T) {
	order := AllRoles() // highest first
	for i, r := range order {
		for j, other := range order {
			if got, want := r.Outranks(other), i < j; got != want {
				t.Errorf("%s.Outranks(%s) = %v, want %v", r, other, got, want)
			}
			if got, want := r.AtLeast(other), i <= j; got != want {
				t.Errorf("%s.AtLeast(%s) = %v, want %v", r, other, got, want)
			}
		}
	}
	// The sentence the rank encodes: admins manage roles below their own.
	if !RoleAdmin.Outranks(RoleRecruiter) || RoleAdmin.Outranks(RoleAdmin) || RoleAdmin.Outranks(RoleSuperAdmin) {
		t.Fatal("an admin must manage recruiters but neither peers nor super admins")
	}
}

func TestInvalidRolesRankNowhere(t *testing.T) {
	for _, bad := range []Role{"", "owner", "Admin", "ADMIN"} {
		if bad.Valid() {
			t.Errorf("%q valid", bad)
		}
		if bad.Outranks(RoleMember) || RoleSuperAdmin.Outranks(bad) || bad.AtLeast(RoleMember) {
			t.Errorf("%q takes part in the order", bad)
		}
	}
}

// Was TestParseRole; ParseRole had no caller and Valid is the check.
func TestRoleValidIsExact(t *testing.T) {
	for _, r := range AllRoles() {
		if !Role(string(r)).Valid() {
			t.Errorf("%q not valid", r)
		}
	}
	for _, s := range []string{"", "Admin", " admin", "hiring-manager", "superadmin"} {
		if Role(s).Valid() {
			t.Errorf("%q valid", s)
		}
	}
}
