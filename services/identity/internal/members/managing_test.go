package members

import (
	"errors"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
)

func TestMayManage(t *testing.T) {
	const (
		sa = authz.RoleSuperAdmin
		ad = authz.RoleAdmin
		rc = authz.RoleRecruiter
		hm = authz.RoleHiringManager
		mb = authz.RoleMember
	)
	for _, tc := range []struct {
		caller, target, next authz.Role
		ok                   bool
	}{
		// Super Admins manage everyone, into any role.
		{sa, sa, ad, true},
		{sa, sa, "", true},
		{sa, ad, sa, true},
		{sa, mb, sa, true},
		// Admins manage users below them, into roles below them.
		{ad, rc, mb, true},
		{ad, mb, rc, true},
		{ad, hm, "", true},
		{ad, rc, ad, false}, // no new peers
		{ad, rc, sa, false},
		{ad, ad, rc, false}, // not another admin
		{ad, ad, "", false},
		{ad, sa, mb, false},
		{ad, sa, "", false},
		// Below admin the same rule holds (the policy keeps them out first).
		{rc, mb, hm, true},
		{rc, rc, mb, false},
		{mb, mb, "", false},
		// Nothing that is not a role manages or is managed.
		{"", mb, "", false},
		{"owner", mb, "", false},
		{ad, "owner", mb, false},
		{ad, mb, "owner", false},
	} {
		err := MayManage(authz.Principal{Kind: authz.KindUser, Role: tc.caller}, tc.target, tc.next)
		if tc.ok && err != nil {
			t.Errorf("%s managing %s into %q: %v, want allowed", tc.caller, tc.target, tc.next, err)
		}
		if !tc.ok && !errors.Is(err, apperr.ErrPermissionDenied) {
			t.Errorf("%s managing %s into %q: %v, want PermissionDenied", tc.caller, tc.target, tc.next, err)
		}
	}
}
