package flows

import (
	"context"
	"errors"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Grant lets a teammate send flows from the caller's mailbox. The
// teammate's id is identity's; outreach keeps no users, so an id of
// nobody grants nothing anyone can use.
func (f *Flows) Grant(ctx context.Context, caller authz.Principal, grantee string) (store.Delegation, error) {
	if caller.UserID == "" {
		return store.Delegation{}, apperr.PermissionDenied("only a user may grant sending on their behalf")
	}
	if grantee == "" || len(grantee) > 200 {
		return store.Delegation{}, apperr.InvalidArgument("grantee_user_id", "is not a user id")
	}
	if grantee == caller.UserID {
		return store.Delegation{}, apperr.InvalidArgument("grantee_user_id", "must be a teammate, not yourself")
	}
	return f.store.GrantDelegation(ctx, caller.OrgID, caller.UserID, grantee)
}

// Revoke withdraws a delegation the caller granted.
func (f *Flows) Revoke(ctx context.Context, caller authz.Principal, grantee string) error {
	err := f.store.RevokeDelegation(ctx, caller.OrgID, caller.UserID, grantee)
	if errors.Is(err, postgres.ErrNotFound) {
		return apperr.NotFound("delegation").Wrap(err)
	}
	return err
}

// Delegations returns a page of the delegations the caller granted or
// received.
func (f *Flows) Delegations(ctx context.Context, caller authz.Principal, pageSize int, pageToken string) ([]store.Delegation, string, error) {
	limit, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	var after *store.DelegationCursor
	if pageToken != "" {
		c, err := paging.Decode[store.DelegationCursor](pageToken)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	out, err := f.store.Delegations(ctx, caller.OrgID, caller.UserID, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		if next, err = paging.Encode(store.DelegationCursor{Grantor: last.GrantorUserID, Grantee: last.GranteeUserID}); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}
