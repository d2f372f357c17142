// Package organizations decides what an organization's settings may be:
// its display name, and the role new people join with.
package organizations

import (
	"context"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/validate"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// Store is what organizations needs of the identity store.
type Store interface {
	Organization(ctx context.Context, orgID string) (store.Organization, error)
	UpdateOrganization(ctx context.Context, orgID string, u store.OrganizationUpdate) (store.Organization, error)
}

// Organizations runs organizations' settings.
type Organizations struct {
	store Store
}

// New returns the organizations over st.
func New(st Store) *Organizations { return &Organizations{store: st} }

// MaxDisplayName is the longest display name, in characters.
const MaxDisplayName = 200

// Get returns the organization.
func (o *Organizations) Get(ctx context.Context, orgID string) (store.Organization, error) {
	return o.store.Organization(ctx, orgID)
}

// Update changes the settings u names, all or none: the display name is
// text (validate.Text), trimmed, and nobody joins as an administrator by
// default.
func (o *Organizations) Update(ctx context.Context, orgID string, u store.OrganizationUpdate) (store.Organization, error) {
	if u.DisplayName == nil && u.DefaultRole == nil {
		return store.Organization{}, apperr.InvalidArgument("update_mask", "names no field to update")
	}
	if u.DisplayName != nil {
		name, err := validate.Text("organization.display_name", *u.DisplayName, MaxDisplayName)
		if err != nil {
			return store.Organization{}, err
		}
		u.DisplayName = &name
	}
	if r := u.DefaultRole; r != nil && (*r == authz.RoleSuperAdmin || *r == authz.RoleAdmin) {
		return store.Organization{}, apperr.InvalidArgument("organization.default_role", "new users cannot join as administrators")
	}
	return o.store.UpdateOrganization(ctx, orgID, u)
}
