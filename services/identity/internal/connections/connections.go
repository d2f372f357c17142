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
	OrgConnection(ctx context.Context, orgID, provider string) (store.Connection, error)
	UpsertOrgConnection(ctx context.Context, c store.Connection) (store.Connection, error)
}

// Tickets starts a personal OAuth flow in the browser.
type Tickets interface {
	NewTicket(ctx context.Context, flow, orgID, userID, email string) (string, error)
}

// Vault holds the connections' tokens.
type Vault interface {
	AccessToken(ctx context.Context, orgID, connectionID string) (string, time.Time, error)
	// RefreshedToken refreshes now: the provider refused the current one.
	RefreshedToken(ctx context.Context, orgID, connectionID string) (string, time.Time, error)
	Delete(ctx context.Context, connectionID string) error
	// Check answers nil when the connection's credentials are really
	// there (restoring what Redis lost from their durable copy), and an
	// error that ReconnectReason recognises when they are gone for good.
	Check(ctx context.Context, orgID, connectionID string) error
}

// ReconnectReason tells, of an error from Vault.Check, whether it means the
// connection must be connected again, and why.
type ReconnectReason func(err error) (reason string, ok bool)

// Connections runs connections.
type Connections struct {
	store     Store
	tickets   Tickets
	vault     Vault
	reconnect ReconnectReason
	now       func() time.Time
}

// New returns the connections over st, starting flows with tickets and
// keeping tokens in vault, whose Check errors reconnect reads.
func New(st Store, tickets Tickets, vault Vault, reconnect ReconnectReason) *Connections {
	return &Connections{store: st, tickets: tickets, vault: vault, reconnect: reconnect, now: time.Now}
}

// checked makes a connection's status say what is really there: a
// connection recorded as connected whose credentials are gone reads
// reconnect_required, with the reason (the vault records it too). When the
// credentials cannot be checked now, the recorded status is the best
// answer there is.
func (c *Connections) checked(ctx context.Context, conn store.Connection) store.Connection {
	if conn.ID == "" || conn.Status != store.StatusConnected {
		return conn
	}
	if reason, gone := c.reconnect(c.vault.Check(ctx, conn.OrgID, conn.ID)); gone {
		conn.Status, conn.Reason, conn.UpdatedAt = store.StatusReconnectRequired, reason, c.now()
	}
	return conn
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
	if err != nil {
		return store.Connection{}, err
	}
	return c.checked(ctx, conn), nil
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

// ConnectLever starts connecting the organization's Lever account and
// returns the URL the browser opens. Only a Super Admin gets here (the
// RPC's policy); the flow checks the role again when it completes.
func (c *Connections) ConnectLever(ctx context.Context, caller authz.Principal) (string, error) {
	if caller.UserID == "" {
		return "", apperr.FailedPrecondition("not_a_person", "a person must connect Lever: Lever asks its Super Admin to consent")
	}
	u, err := c.store.User(ctx, caller.OrgID, caller.UserID)
	if err != nil {
		return "", err
	}
	return c.tickets.NewTicket(ctx, signin.FlowLever, caller.OrgID, caller.UserID, u.Email)
}

// DisconnectLever forgets the organization's Lever tokens, then records
// the connection as disconnected (which tells atsbridge). One never
// connected is reported disconnected, and nothing changes.
func (c *Connections) DisconnectLever(ctx context.Context, caller authz.Principal) (store.Connection, error) {
	conn, err := c.store.OrgConnection(ctx, caller.OrgID, store.ProviderLever)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Connection{OrgID: caller.OrgID, Provider: store.ProviderLever,
			Status: store.StatusDisconnected, Reason: "not connected yet", UpdatedAt: c.now()}, nil
	}
	if err != nil {
		return store.Connection{}, err
	}
	if err := c.vault.Delete(ctx, conn.ID); err != nil {
		return store.Connection{}, err
	}
	return c.store.UpsertOrgConnection(ctx, store.Connection{OrgID: caller.OrgID, Provider: store.ProviderLever,
		Status: store.StatusDisconnected, Reason: "disconnected by a Super Admin"})
}

// Get returns a connection of the organization, its status checked.
func (c *Connections) Get(ctx context.Context, orgID, id string) (store.Connection, error) {
	conn, err := c.store.Connection(ctx, orgID, id)
	if err != nil {
		return store.Connection{}, err
	}
	return c.checked(ctx, conn), nil
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

// RefreshedAccessToken is AccessToken after the provider refused the
// token handed out: it refreshes now.
func (c *Connections) RefreshedAccessToken(ctx context.Context, connectionID string) (string, time.Time, error) {
	conn, err := c.store.ConnectionByID(ctx, connectionID)
	if err != nil {
		return "", time.Time{}, err
	}
	if conn.Status != store.StatusConnected {
		return "", time.Time{}, apperr.FailedPrecondition(conn.Status, "the connection is "+strings.ReplaceAll(conn.Status, "_", " ")+": "+conn.Reason)
	}
	return c.vault.RefreshedToken(ctx, conn.OrgID, conn.ID)
}
