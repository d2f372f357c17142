package organizations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/services/identity/internal/organizations"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// fakeStore keeps one organization.
type fakeStore struct{ org store.Organization }

func (f *fakeStore) Organization(context.Context, string) (store.Organization, error) {
	return f.org, nil
}

func (f *fakeStore) UpdateOrganization(_ context.Context, _ string, u store.OrganizationUpdate) (store.Organization, error) {
	if u.DisplayName != nil {
		f.org.DisplayName = *u.DisplayName
	}
	if u.DefaultRole != nil {
		f.org.DefaultRole = *u.DefaultRole
	}
	return f.org, nil
}

func ptr[T any](v T) *T { return &v }

func TestUpdate(t *testing.T) {
	st := &fakeStore{org: store.Organization{ID: "org", DisplayName: "Contoso", DefaultRole: authz.RoleRecruiter}}
	orgs := organizations.New(st)
	ctx := t.Context()
	for _, tc := range []struct {
		what  string
		u     store.OrganizationUpdate
		field string
	}{
		{"nothing", store.OrganizationUpdate{}, "update_mask"},
		{"a blank name", store.OrganizationUpdate{DisplayName: ptr(" ")}, "organization.display_name"},
		{"a long name", store.OrganizationUpdate{DisplayName: ptr(strings.Repeat("n", organizations.MaxDisplayName+1))}, "organization.display_name"},
		{"admins by default", store.OrganizationUpdate{DefaultRole: ptr(authz.RoleAdmin)}, "organization.default_role"},
		{"super admins by default", store.OrganizationUpdate{DisplayName: ptr("x"), DefaultRole: ptr(authz.RoleSuperAdmin)}, "organization.default_role"},
	} {
		_, err := orgs.Update(ctx, "org", tc.u)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != tc.field {
			t.Errorf("%s: %v, want InvalidArgument on %s", tc.what, err, tc.field)
		}
	}
	if st.org.DisplayName != "Contoso" {
		t.Fatalf("a refused update reached the store: %+v", st.org)
	}
	org, err := orgs.Update(ctx, "org", store.OrganizationUpdate{DisplayName: ptr(" Talent "), DefaultRole: ptr(authz.RoleMember)})
	if err != nil || org.DisplayName != "Talent" || org.DefaultRole != authz.RoleMember {
		t.Fatalf("update: %+v, %v", org, err)
	}
}
