// Package connections decides what people see and do with their
// connections to providers: their own Outlook mailbox, an organization's
// connection by id for its admins, and the access tokens other services
// fetch for a connection that works.
package connections

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// Store is what connections needs of the identity store.
type Store interface {
	User(ctx context.Context, orgID, userID string) (store.User, error)
	PersonalConnection(ctx context.Context, orgID, userID, provider string) (store.Connection, error)
	UpsertPersonalConnection(ctx context.Context, c store.Connection) (store.Connection, error)
	Connection(ctx context.Context, orgID, id string) (store.Connection, error)
	ConnectionByID(ctx context.Context, id string) (store.Connection, error)
}

// Tickets starts a personal OAuth flow in the browser.
type Tickets interface {
	NewTicket(ctx context.Context, flow, orgID, userID, email string) (string, error)
}

// Vault holds the connections' tokens.
type Vault interface {
	AccessToken(ctx context.Context, orgID, connectionID string) (string, time.Time, error)
	Delete(ctx context.Context, connectionID string) error
}

// Connections runs connections.
type Connections struct {
	store   Store
	tickets Tickets
	vault   Vault
	now     func() time.Time
}

// New returns the connections over st, starting flows with tickets and
// keeping tokens in vault.
func New(st Store, tickets Tickets, vault Vault) *Connections {
	return &Connections{store: st, tickets: tickets, vault: vault, now: time.Now}
}

var errNotAPerson = apperr.FailedPrecondition("not_a_person", "only a person has a mailbox")

// Mailbox returns the caller's mailbox connection; one never connected is
// reported disconnected.
func (c *Connections) Mailbox(ctx context.Context, caller authz.Principal) (store.Connection, error) {
	if caller.UserID == "" {
		return store.Connection{}, errNotAPerson
	}
	conn, err := c.store.PersonalConnection(ctx, caller.OrgID, caller.UserID, store.ProviderMicrosoftMailbox)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Connection{OrgID: caller.OrgID, UserID: caller.UserID, Provider: store.ProviderMicrosoftMailbox,
			Status: store.StatusDisconnected, Reason: "not connected yet", UpdatedAt: c.now()}, nil
	}
	return conn, err
}

// ConnectMailbox starts connecting the caller's mailbox and returns the URL
// the browser opens; the consent is asked for the account they signed in
// with.
func (c *Connections) ConnectMailbox(ctx context.Context, caller authz.Principal) (string, error) {
	if caller.UserID == "" {
		return "", errNotAPerson
	}
	u, err := c.store.User(ctx, caller.OrgID, caller.UserID)
	if err != nil {
		return "", err
	}
	return c.tickets.NewTicket(ctx, signin.FlowMailbox, caller.OrgID, caller.UserID, u.Email)
}

// DisconnectMailbox forgets the caller's mailbox tokens, then records the
// connection as disconnected.
func (c *Connections) DisconnectMailbox(ctx context.Context, caller authz.Principal) (store.Connection, error) {
	conn, err := c.Mailbox(ctx, caller)
	if err != nil || conn.ID == "" {
		return conn, err
	}
	if err := c.vault.Delete(ctx, conn.ID); err != nil {
		return store.Connection{}, err
	}
	return c.store.UpsertPersonalConnection(ctx, store.Connection{OrgID: caller.OrgID, UserID: caller.UserID, Provider: store.ProviderMicrosoftMailbox,
		Status: store.StatusDisconnected, Reason: "disconnected by the user"})
}

// Get returns a connection of the organization.
func (c *Connections) Get(ctx context.Context, orgID, id string) (store.Connection, error) {
	return c.store.Connection(ctx, orgID, id)
}

// AccessToken returns a working access token of a connection and its
// expiry, for the services that call the provider. A connection that is
// not connected hands out none, and says why.
func (c *Connections) AccessToken(ctx context.Context, connectionID string) (string, time.Time, error) {
	conn, err := c.store.ConnectionByID(ctx, connectionID)
	if err != nil {
		return "", time.Time{}, err
	}
	if conn.Status != store.StatusConnected {
		return "", time.Time{}, apperr.FailedPrecondition(conn.Status, "the connection is "+strings.ReplaceAll(conn.Status, "_", " ")+": "+conn.Reason)
	}
	return c.vault.AccessToken(ctx, conn.OrgID, conn.ID)
}
