// Package mailboxes is the registry of connected mailboxes. Identity tells
// it, with mailbox.connected, mailbox.reconnect_required and
// mailbox.disconnected events, whose mailbox is connected and whether its
// token still works; the registry keeps that, with the mailbox's own
// addresses (read from Graph once it connects) and its sending settings.
//
// Other packages hook into a mailbox's connection (OnConnected): the
// sending queue is released there, and the inbound side subscribes to
// the mailbox's Inbox.
package mailboxes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// Event types identity publishes about mailbox connections.
const (
	EventConnected         = "mailbox.connected"
	EventReconnectRequired = "mailbox.reconnect_required"
	EventDisconnected      = "mailbox.disconnected"
)

// Default sending settings of a mailbox seen for the first time: well
// under Exchange's 30 a minute and 10,000 recipients a day, which is what a
// recruiter's mailbox should keep to (providers.md §3.9).
const (
	DefaultDailyMessageLimit = 1000
	DefaultMinGap            = 2 * time.Second
)

// ErrNotFound is a mailbox that is not there, or not the caller's to see.
var ErrNotFound = apperr.NotFound("mailbox not found")

// Settings are a mailbox's own sending limits.
type Settings struct {
	DailyMessageLimit int
	MinGap            time.Duration
}

// Store is what the registry needs of the store.
type Store interface {
	ApplyStatus(ctx context.Context, tx pgx.Tx, c store.StatusChange) (store.Mailbox, string, bool, error)
	Mailbox(ctx context.Context, orgID, id string) (store.Mailbox, error)
	ListMailboxes(ctx context.Context, orgID, afterID string, limit int) ([]store.Mailbox, error)
}

// JobInserter enqueues a job in the caller's transaction (River).
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// ConnectedHook runs in the transaction that records a mailbox as
// connected (for the first time, or again after a reconnect_required).
type ConnectedHook func(ctx context.Context, tx pgx.Tx, m store.Mailbox) error

// Registry keeps the mailboxes.
type Registry struct {
	store     Store
	jobs      JobInserter
	defaults  Settings
	connected []ConnectedHook
	log       *slog.Logger
}

// New returns the registry; zero defaults take the package's.
func New(st Store, jobs JobInserter, defaults Settings, log *slog.Logger) *Registry {
	if defaults.DailyMessageLimit <= 0 {
		defaults.DailyMessageLimit = DefaultDailyMessageLimit
	}
	if defaults.MinGap < 0 {
		defaults.MinGap = 0
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{store: st, jobs: jobs, defaults: defaults, log: log}
}

// OnConnected adds a hook run when a mailbox becomes connected. Wire hooks
// at start, before events arrive.
func (r *Registry) OnConnected(h ConnectedHook) { r.connected = append(r.connected, h) }

var statuses = map[identityv1.ConnectionStatus]string{
	identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED:          store.StatusConnected,
	identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED: store.StatusReconnectRequired,
	identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED:       store.StatusDisconnected,
}

// ApplyConnectionChanged is the events.Handler of the three mailbox.*
// types: it records the status unless a newer one is stored, and on
// connection asks Graph for the mailbox's addresses (a job) and runs the
// OnConnected hooks, all in the event's transaction.
func (r *Registry) ApplyConnectionChanged(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p identityv1.MailboxConnectionChanged
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return apperr.InvalidArgument("payload", "not a MailboxConnectionChanged")
	}
	status, ok := statuses[p.GetStatus()]
	if !ok || p.GetConnectionId() == "" || p.GetUserId() == "" {
		return apperr.InvalidArgument("payload", "a mailbox change needs a connection, a user and a status")
	}
	if want := map[string]string{EventConnected: store.StatusConnected, EventReconnectRequired: store.StatusReconnectRequired,
		EventDisconnected: store.StatusDisconnected}[ev.GetType()]; want != status {
		return apperr.InvalidArgument("payload", "the status does not match the event type")
	}
	version := p.GetChangeTime().AsTime().UnixMicro()
	m, before, applied, err := r.store.ApplyStatus(ctx, tx, store.StatusChange{
		ID: p.GetConnectionId(), OrgID: ev.GetOrganizationId(), UserID: p.GetUserId(), Account: p.GetAccount(),
		Status: status, Reason: p.GetReason(), Version: version,
		DailyMessageLimit: r.defaults.DailyMessageLimit, MinGap: r.defaults.MinGap,
	})
	if err != nil {
		return fmt.Errorf("mailboxes: apply %s: %w", ev.GetType(), err)
	}
	if !applied {
		r.log.InfoContext(ctx, "older mailbox status ignored", slog.String("mailbox", p.GetConnectionId()), slog.String("type", ev.GetType()))
		return nil
	}
	r.log.InfoContext(ctx, "mailbox status", slog.String("mailbox", m.ID), slog.String("status", m.Status), slog.String("before", before))
	if m.Status != store.StatusConnected {
		return nil
	}
	if _, err := r.jobs.InsertTx(ctx, tx, FetchAddressesArgs{MailboxID: m.ID}, nil); err != nil {
		return fmt.Errorf("mailboxes: enqueue the address fetch: %w", err)
	}
	if before == store.StatusConnected {
		return nil
	}
	for _, h := range r.connected {
		if err := h(ctx, tx, m); err != nil {
			return err
		}
	}
	return nil
}

// Get returns a mailbox the caller may see: their own, or any of the
// organization's for an admin. Another's mailbox is NotFound.
func (r *Registry) Get(ctx context.Context, caller authz.Principal, id string) (store.Mailbox, error) {
	m, err := r.store.Mailbox(ctx, caller.OrgID, id)
	if errors.Is(err, postgres.ErrNotFound) {
		return store.Mailbox{}, ErrNotFound
	}
	if err != nil {
		return store.Mailbox{}, err
	}
	if m.UserID != caller.UserID && !caller.Role.AtLeast(authz.RoleAdmin) {
		return store.Mailbox{}, ErrNotFound
	}
	return m, nil
}

// Page of mailboxes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// List returns a page of the organization's mailboxes in id order; the
// token is the last id of the page before.
func (r *Registry) List(ctx context.Context, orgID string, pageSize int, pageToken string) ([]store.Mailbox, string, error) {
	if pageSize < 0 || pageSize > MaxPageSize {
		return nil, "", apperr.InvalidArgument("page_size", fmt.Sprintf("must be between 1 and %d", MaxPageSize))
	}
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	after, err := decodeToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	list, err := r.store.ListMailboxes(ctx, orgID, after, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > pageSize {
		list = list[:pageSize]
		next = encodeToken(list[len(list)-1].ID)
	}
	return list, next, nil
}
