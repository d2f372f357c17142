package authz

import (
	"errors"
	"slices"
)

// Role is what a person (or an API token acting for an organization) may do
// inside their organization.
type Role string

// The five roles, highest first. The first user of an organization is its
// super admin; what each role may do is in the services' policies.
const (
	RoleSuperAdmin    Role = "super_admin"
	RoleAdmin         Role = "admin"
	RoleRecruiter     Role = "recruiter"
	RoleHiringManager Role = "hiring_manager"
	RoleMember        Role = "member"
)

// ErrInvalidRole is returned for a role name that is not one of the five.
var ErrInvalidRole = errors.New("authz: invalid role")

// rank orders the roles; a higher rank manages the lower ones. Zero means
// not a role, so an unknown value never outranks anything.
var rank = map[Role]int{
	RoleMember:        1,
	RoleHiringManager: 2,
	RoleRecruiter:     3,
	RoleAdmin:         4,
	RoleSuperAdmin:    5,
}

// AllRoles returns every role, highest first.
func AllRoles() []Role {
	return []Role{RoleSuperAdmin, RoleAdmin, RoleRecruiter, RoleHiringManager, RoleMember}
}

// Valid reports whether r is one of the five roles, spelled exactly as on
// the wire ("hiring_manager"): roles arrive in tokens and requests, where a
// lenient check would widen what is accepted.
func (r Role) Valid() bool { return rank[r] > 0 }

// Outranks reports whether r is strictly above other. Admins manage users
// and roles below their own: an admin may grant recruiter but not admin, so
// nobody can create a peer or promote themselves. Invalid roles outrank
// nothing and are outranked by nothing.
func (r Role) Outranks(other Role) bool {
	if !r.Valid() || !other.Valid() {
		return false
	}
	return rank[r] > rank[other]
}

// AtLeast reports whether r is other or above it.
func (r Role) AtLeast(other Role) bool {
	return r.Valid() && other.Valid() && rank[r] >= rank[other]
}

func (r Role) String() string { return string(r) }

// sortRoles orders roles highest first, for stable messages.
func sortRoles(roles []Role) {
	slices.SortFunc(roles, func(a, b Role) int { return rank[b] - rank[a] })
}
