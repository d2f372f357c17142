// Package apitokens decides who may hold an organization's API tokens and
// what they stand for. A token is shown once, at its creation; the store
// keeps only its hash, and a revoked token never authenticates again.
package apitokens

import (
	"context"
	"errors"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/validate"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// Store is what apitokens needs of the identity store.
type Store interface {
	CreateAPIToken(ctx context.Context, t store.APIToken, hash []byte, allow func(creator store.User) error) (store.APIToken, error)
	APITokenByHash(ctx context.Context, hash []byte) (store.APIToken, error)
	APITokens(ctx context.Context, orgID string) ([]store.APIToken, error)
	RevokeAPIToken(ctx context.Context, orgID, id string, at time.Time) (store.APIToken, error)
}

// Tokens runs API tokens.
type Tokens struct {
	store Store
	now   func() time.Time
}

// New returns the API tokens over st.
func New(st Store) *Tokens { return &Tokens{store: st, now: time.Now} }

var errAboveCreator = apperr.PermissionDenied("an API token cannot have a role above your own")

// MaxDisplayName is the longest display name, in characters.
const MaxDisplayName = 100

// Create makes a token of the caller's organization with role and returns
// its record and the token itself, which is shown this once. Only a person
// signed in with a session creates one, never another token: every token
// has a creator whose role and membership bound it. A token's role is never
// above its creator's.
func (t *Tokens) Create(ctx context.Context, caller authz.Principal, name string, role authz.Role) (store.APIToken, string, error) {
	if caller.Kind != authz.KindUser || caller.UserID == "" {
		return store.APIToken{}, "", apperr.PermissionDenied("only a person signed in creates API tokens")
	}
	name, err := validate.Text("display_name", name, MaxDisplayName)
	if err != nil {
		return store.APIToken{}, "", err
	}
	// Checked on the creator's role as stored, under their row lock, so a
	// demotion that commits first is seen.
	allow := func(creator store.User) error {
		if !creator.Role.AtLeast(role) {
			return errAboveCreator
		}
		return nil
	}
	if !caller.Role.AtLeast(role) {
		return store.APIToken{}, "", errAboveCreator
	}
	token, hash := authz.NewAPIToken()
	rec, err := t.store.CreateAPIToken(ctx, store.APIToken{OrgID: caller.OrgID, DisplayName: name, Role: role, CreatedBy: caller.UserID}, hash, allow)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.APIToken{}, "", apperr.PermissionDenied("only a member of the organization creates API tokens").Wrap(err)
	}
	if err != nil {
		return store.APIToken{}, "", err
	}
	return rec, token, nil
}

// List returns the organization's tokens, newest first, revoked ones too.
func (t *Tokens) List(ctx context.Context, orgID string) ([]store.APIToken, error) {
	return t.store.APITokens(ctx, orgID)
}

// Revoke ends a token of the organization; revoking it again is no error.
func (t *Tokens) Revoke(ctx context.Context, orgID, id string) (store.APIToken, error) {
	return t.store.RevokeAPIToken(ctx, orgID, id, t.now())
}

// Authenticate returns the record of a live token, or an error wrapping
// authz.ErrAPITokenInvalid for anything that is not one.
func (t *Tokens) Authenticate(ctx context.Context, token string) (store.APIToken, error) {
	if !authz.IsAPIToken(token) {
		return store.APIToken{}, authz.ErrAPITokenInvalid
	}
	rec, err := t.store.APITokenByHash(ctx, authz.HashAPIToken(token))
	if errors.Is(err, postgres.ErrNotFound) {
		return store.APIToken{}, authz.ErrAPITokenInvalid
	}
	return rec, err
}

// ResolveAPIToken implements authz.APITokenResolver for identity's own
// authenticator.
func (t *Tokens) ResolveAPIToken(ctx context.Context, token string) (authz.Principal, error) {
	rec, err := t.Authenticate(ctx, token)
	if err != nil {
		return authz.Principal{}, err
	}
	return authz.Principal{Kind: authz.KindAPIToken, OrgID: rec.OrgID, TokenID: rec.ID, Role: rec.Role}, nil
}
