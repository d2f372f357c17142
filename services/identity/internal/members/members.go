// Package members decides who is in an organization and with which role:
// listing its people a page at a time, changing a role, removing someone.
// A change is checked against the caller's role under the row locks of the
// store's transaction, so two admins acting at once cannot both pass a check
// the other's change would have failed.
package members

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// Store is what members needs of the identity store.
type Store interface {
	User(ctx context.Context, orgID, userID string) (store.User, error)
	Users(ctx context.Context, orgID, after string, limit int) ([]store.User, error)
	ChangeUserRole(ctx context.Context, orgID, userID string, role authz.Role, at time.Time, allow func(store.User) error) (store.RoleChange, error)
	RemoveUser(ctx context.Context, orgID, userID string, at time.Time, allow func(store.User) error) (store.Removal, error)
}

// SessionRevoker refuses the access tokens of ended sessions at once,
// rather than when they expire.
type SessionRevoker interface {
	RevokeSessions(ctx context.Context, ids []string) error
}

// Members runs the organization's membership.
type Members struct {
	store    Store
	sessions SessionRevoker
	now      func() time.Time
}

// New returns the membership over st; ended sessions go to sessions.
func New(st Store, sessions SessionRevoker) *Members {
	return &Members{store: st, sessions: sessions, now: time.Now}
}

// Page sizes of List.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Page is one page of an organization's people.
type Page struct {
	Users []store.User
	// NextPageToken continues the list; empty on the last page.
	NextPageToken string
}

var errBadPageToken = apperr.InvalidArgument("page_token", "is not a page token from this API")

// Get returns an active user of the organization.
func (m *Members) Get(ctx context.Context, orgID, userID string) (store.User, error) {
	return m.store.User(ctx, orgID, userID)
}

// List returns a page of the organization's active people in the order
// they joined. size 0 means DefaultPageSize; token is a NextPageToken of
// an earlier page, or empty for the first.
func (m *Members) List(ctx context.Context, orgID string, size int, token string) (Page, error) {
	switch {
	case size < 0 || size > MaxPageSize:
		return Page{}, apperr.InvalidArgument("page_size", fmt.Sprintf("must be between 0 and %d", MaxPageSize))
	case size == 0:
		size = DefaultPageSize
	}
	after := ""
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return Page{}, errBadPageToken
		}
		after = string(b)
		// The token names the last user of the previous page, who must be
		// of the caller's organization.
		if _, err := m.store.User(ctx, orgID, after); err != nil {
			return Page{}, errBadPageToken
		}
	}
	users, err := m.store.Users(ctx, orgID, after, size+1)
	if err != nil {
		return Page{}, err
	}
	var p Page
	if len(users) > size {
		users = users[:size]
		p.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(users[size-1].ID))
	}
	p.Users = users
	return p, nil
}

// ChangeRole gives a user of the caller's organization a new role. A role
// that changes ends the user's sessions, whose tokens carry the old one:
// they sign in again for the new one.
func (m *Members) ChangeRole(ctx context.Context, caller authz.Principal, userID string, role authz.Role) (store.User, error) {
	allow := func(current store.User) error { return MayManage(caller, current.Role, role) }
	c, err := m.store.ChangeUserRole(ctx, caller.OrgID, userID, role, m.now(), allow)
	if err != nil {
		return store.User{}, refusal(err)
	}
	if err := m.sessions.RevokeSessions(ctx, c.EndedSessions); err != nil {
		return store.User{}, fmt.Errorf("revoke the sessions of a user whose role changed: %w", err)
	}
	return c.User, nil
}

// Remove takes a user out of the caller's organization and ends their
// sessions at once.
func (m *Members) Remove(ctx context.Context, caller authz.Principal, userID string) error {
	allow := func(current store.User) error { return MayManage(caller, current.Role, "") }
	r, err := m.store.RemoveUser(ctx, caller.OrgID, userID, m.now(), allow)
	if err != nil {
		return refusal(err)
	}
	if err := m.sessions.RevokeSessions(ctx, r.EndedSessions); err != nil {
		return fmt.Errorf("revoke the sessions of a removed user: %w", err)
	}
	return nil
}

// refusal says why the store refused a change in the client's terms.
func refusal(err error) error {
	if errors.Is(err, store.ErrLastSuperAdmin) {
		return apperr.FailedPrecondition("last_super_admin", "the organization must keep at least one Super Admin").Wrap(err)
	}
	return err
}

// MayManage says whether the caller may change or remove a user of role
// target, giving them role next (empty for a removal): Super Admins manage
// everyone; Admins only users and roles below their own.
func MayManage(caller authz.Principal, target, next authz.Role) error {
	if caller.Role == authz.RoleSuperAdmin {
		return nil
	}
	if !caller.Role.Outranks(target) || (next != "" && !caller.Role.Outranks(next)) {
		return apperr.PermissionDenied("you can only manage users and roles below your own")
	}
	return nil
}
