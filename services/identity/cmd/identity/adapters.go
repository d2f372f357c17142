package main

import (
	"context"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/lever"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// The domain packages each declare the small interface they need; these
// adapters fit the concrete types to them.

type codeExchanger struct{ c *microsoft.TokenClient }

func (e codeExchanger) ExchangeCode(ctx context.Context, code, redirectURI, verifier string, scopes []string) (signin.Tokens, error) {
	now := time.Now()
	t, err := e.c.ExchangeCode(ctx, code, redirectURI, verifier, scopes)
	if err != nil {
		return signin.Tokens{}, err
	}
	return signin.Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, IDToken: t.IDToken, ExpiresAt: t.ExpiresAt(now), Scopes: t.Scopes}, nil
}

// leverExchanger redeems Lever's codes; nil (Lever not configured) leaves
// the flows without one.
func leverExchanger(c *lever.TokenClient) signin.LeverExchanger {
	if c == nil {
		return nil
	}
	return leverCodes{c}
}

type leverCodes struct{ c *lever.TokenClient }

func (e leverCodes) ExchangeLeverCode(ctx context.Context, code, redirectURI, verifier string) (signin.Tokens, error) {
	now := time.Now()
	t, err := e.c.ExchangeCode(ctx, code, redirectURI, verifier)
	if err != nil {
		return signin.Tokens{}, err
	}
	return signin.Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresAt: t.ExpiresAt(now), Scopes: t.Scopes}, nil
}

type credentialsPut struct{ v *vault.Vault }

// Put keeps the scopes the mailbox asked for, not every scope the token
// happens to carry: refreshing with an unrelated scope an admin later
// withdrew (User.Read, say) would fail although mail still works. Lever's
// refresh takes no scopes; its grant's are kept as granted.
func (p credentialsPut) Put(ctx context.Context, orgID, connID string, t signin.Tokens) error {
	scopes := signin.MailboxScopes
	if t.Provider != "" {
		scopes = t.Scopes
	}
	return p.v.Put(ctx, orgID, connID, vault.Credentials{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken,
		ExpiresAt: t.ExpiresAt, RefreshedAt: time.Now(), Scopes: scopes, Provider: t.Provider})
}

type accessTokens struct{ v *vault.Vault }

func (a accessTokens) AccessToken(ctx context.Context, orgID, connID string) (string, time.Time, error) {
	t, err := a.v.AccessToken(ctx, orgID, connID)
	return t.Value, t.ExpiresAt, err
}

func (a accessTokens) RefreshedToken(ctx context.Context, orgID, connID string) (string, time.Time, error) {
	t, err := a.v.RefreshedToken(ctx, orgID, connID)
	return t.Value, t.ExpiresAt, err
}

func (a accessTokens) Delete(ctx context.Context, connID string) error {
	return a.v.Delete(ctx, connID)
}

func (a accessTokens) Check(ctx context.Context, orgID, connID string) error {
	return a.v.Check(ctx, orgID, connID)
}

type connectedConnections struct{ s *store.Store }

func (c connectedConnections) ListConnected(ctx context.Context, afterID string, limit int) ([]vault.ConnectionRef, error) {
	conns, err := c.s.ConnectedConnections(ctx, afterID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]vault.ConnectionRef, len(conns))
	for n, c := range conns {
		out[n] = vault.ConnectionRef{OrgID: c.OrgID, ConnectionID: c.ID}
	}
	return out, nil
}

type idleConnections struct{ s *store.Store }

func (i idleConnections) ListIdle(ctx context.Context, before time.Time, limit int) ([]vault.ConnectionRef, error) {
	conns, err := i.s.IdleConnections(ctx, before, limit)
	if err != nil {
		return nil, err
	}
	out := make([]vault.ConnectionRef, len(conns))
	for n, c := range conns {
		out[n] = vault.ConnectionRef{OrgID: c.OrgID, ConnectionID: c.ID}
	}
	return out, nil
}
