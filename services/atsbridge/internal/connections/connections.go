// Package connections keeps each organization's ATS connection (Lever
// now): its status as identity reports it (ats.connection_changed), the
// import that runs when it connects, and its health. Identity holds the
// credentials; this package asks it for a token when it calls the ATS.
//
// Status: identity's connected is recorded as syncing while the import
// runs (a River job enqueued in the event's transaction), then connected;
// reconnect_required and disconnected are recorded with identity's
// reason. An ATS that refuses the token identity handed out turns the
// connection reconnect_required here at once, with the reason.
package connections

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/ratelimit"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// EventConnectionChanged is identity's event about ATS connections.
const EventConnectionChanged = "ats.connection_changed"

// Store is what connections needs of the store.
type Store interface {
	ApplyStatus(ctx context.Context, tx pgx.Tx, c store.StatusChange) (store.Connection, bool, error)
	OrgConnection(ctx context.Context, orgID string) (store.Connection, error)
	ConnectionByID(ctx context.Context, id string) (store.Connection, error)
	MarkRefused(ctx context.Context, id string, generation int64, reason string) (bool, error)
	MarkSyncFailed(ctx context.Context, id string, generation int64, reason string) error
	RecordError(ctx context.Context, id, kind, description string) error
	RecentErrors(ctx context.Context, id string, since time.Time) (store.RecentErrors, error)
	SyncHealth(ctx context.Context, id string, since time.Time) (store.SyncHealth, error)
	ReplaceCatalog(ctx context.Context, id string, generation int64, cat store.Catalog, at time.Time, onPostings store.PostingsChanged) (bool, error)
	Stages(ctx context.Context, orgID string, after, limit int) ([]store.Stage, error)
	Postings(ctx context.Context, orgID, afterID string, publishedOnly bool, limit int) ([]store.Posting, error)
	Users(ctx context.Context, orgID, afterID string, limit int) ([]store.User, error)
}

// JobInserter enqueues a job in the caller's transaction (River).
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// RateLimit is the connection's budget at the ATS, as the shared limiter
// enforces it.
type RateLimit struct {
	PerSecond float64
	Burst     int
	// Meter, when set, reads how much of a connection's budget is in use
	// now, without spending any (the shared limiter's Peek).
	Meter BudgetMeter
}

// BudgetMeter reads a key's budget at the shared limiter;
// *ratelimit.Limiter is one.
type BudgetMeter interface {
	Peek(ctx context.Context, key string) (ratelimit.Budget, error)
}

// Connections runs the ATS connections.
type Connections struct {
	store Store
	jobs  JobInserter
	limit RateLimit
	log   *slog.Logger
	now   func() time.Time
	// reconnected runs in the transaction that records a connection
	// connected again (the pushes release what they held).
	reconnected func(ctx context.Context, tx pgx.Tx, connectionID string) error
}

// OnConnected sets what runs, in the event's transaction, when a
// connection is recorded connected (the held pushes are released).
func (c *Connections) OnConnected(fn func(ctx context.Context, tx pgx.Tx, connectionID string) error) {
	c.reconnected = fn
}

// New returns the connections over st, enqueueing imports with jobs.
func New(st Store, jobs JobInserter, limit RateLimit, log *slog.Logger) *Connections {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Connections{store: st, jobs: jobs, limit: limit, log: log, now: time.Now}
}

var statuses = map[identityv1.ConnectionStatus]string{
	identityv1.ConnectionStatus_CONNECTION_STATUS_CONNECTED:          store.StatusConnected,
	identityv1.ConnectionStatus_CONNECTION_STATUS_RECONNECT_REQUIRED: store.StatusReconnectRequired,
	identityv1.ConnectionStatus_CONNECTION_STATUS_DISCONNECTED:       store.StatusDisconnected,
}

// ApplyConnectionChanged is the events.Handler of ats.connection_changed:
// it records the status unless a newer one is, and on connection enqueues
// the import, in the event's transaction.
func (c *Connections) ApplyConnectionChanged(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p identityv1.AtsConnectionChanged
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return apperr.InvalidArgument("payload", "not an AtsConnectionChanged")
	}
	status, ok := statuses[p.GetStatus()]
	if !ok || p.GetConnectionId() == "" || p.GetProvider() == "" || ev.GetOrganizationId() == "" {
		return apperr.InvalidArgument("payload", "an ATS connection change needs a connection, a provider, an organization and a status")
	}
	conn, applied, err := c.store.ApplyStatus(ctx, tx, store.StatusChange{
		ID: p.GetConnectionId(), OrgID: ev.GetOrganizationId(), Provider: p.GetProvider(), Account: p.GetAccount(),
		Status: status, Reason: p.GetReason(), Version: p.GetChangeTime().AsTime().UnixMicro(), At: c.now(),
	})
	if err != nil {
		return fmt.Errorf("connections: apply %s: %w", ev.GetType(), err)
	}
	if !applied {
		c.log.InfoContext(ctx, "older ATS connection status ignored", slog.String("connection_id", p.GetConnectionId()))
		return nil
	}
	c.log.InfoContext(ctx, "ATS connection status", slog.String("connection_id", conn.ID), slog.String("status", conn.Status))
	if conn.Status != store.StatusSyncing {
		return nil
	}
	if _, err := c.jobs.InsertTx(ctx, tx, ImportArgs{ConnectionID: conn.ID, Generation: conn.SyncGeneration}, nil); err != nil {
		return fmt.Errorf("connections: enqueue the import: %w", err)
	}
	if c.reconnected != nil {
		return c.reconnected(ctx, tx, conn.ID)
	}
	return nil
}

// ErrNotConnected is an organization without an ATS connection.
var ErrNotConnected = errors.New("connections: no ATS connection")

// Health is a connection with its health record (SYNC-3).
type Health struct {
	store.Connection
	Errors store.RecentErrors
	Limit  RateLimit
	// Sync is how the pushes and the webhooks are doing.
	Sync store.SyncHealth
	// Budget is the rate limit in use now; nil when the limiter could not
	// tell (the rest of the record still answers).
	Budget *ratelimit.Budget
}

// Get returns the organization's connection and its health over the last
// day; one never connected is reported disconnected.
func (c *Connections) Get(ctx context.Context, orgID string) (Health, error) {
	conn, err := c.store.OrgConnection(ctx, orgID)
	if errors.Is(err, postgres.ErrNotFound) {
		return Health{Connection: store.Connection{OrgID: orgID, Status: store.StatusDisconnected, Reason: "not connected yet", UpdatedAt: c.now()}, Limit: c.limit}, nil
	}
	if err != nil {
		return Health{}, err
	}
	since := c.now().Add(-24 * time.Hour)
	recent, err := c.store.RecentErrors(ctx, conn.ID, since)
	if err != nil {
		return Health{}, err
	}
	sync, err := c.store.SyncHealth(ctx, conn.ID, since)
	if err != nil {
		return Health{}, err
	}
	h := Health{Connection: conn, Errors: recent, Limit: c.limit, Sync: sync}
	if c.limit.Meter != nil {
		// The limiter's keys are the connections' ids (lever.Client).
		b, err := c.limit.Meter.Peek(ctx, conn.ID)
		if err != nil {
			c.log.WarnContext(ctx, "the rate limit budget could not be read", slog.String("connection_id", conn.ID), slog.Any("error", err))
		} else {
			h.Budget = &b
		}
	}
	return h, nil
}

// Page sizes of the lists.
const (
	defaultPageSize = 50
	maxPageSize     = 100
)

func pageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, apperr.InvalidArgument("page_size", "must not be negative")
	case n == 0:
		return defaultPageSize, nil
	}
	return min(n, maxPageSize), nil
}

// Page tokens are the last key of a page, opaque to callers.
func encodeToken(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 {
		return "", apperr.InvalidArgument("page_token", "is not a token this list handed out")
	}
	return string(b), nil
}

// StagePage is a page of stages.
type StagePage struct {
	Stages []store.Stage
	Next   string
}

// Stages lists the organization's ATS stages in the ATS's order.
func (c *Connections) Stages(ctx context.Context, orgID string, size int, token string) (StagePage, error) {
	n, err := pageSize(size)
	if err != nil {
		return StagePage{}, err
	}
	after := -1
	if key, err := decodeToken(token); err != nil {
		return StagePage{}, err
	} else if key != "" {
		if after, err = strconv.Atoi(key); err != nil || after < 0 {
			return StagePage{}, apperr.InvalidArgument("page_token", "is not a token this list handed out")
		}
	}
	rows, err := c.store.Stages(ctx, orgID, after, n+1)
	if err != nil {
		return StagePage{}, err
	}
	p := StagePage{Stages: rows}
	if len(rows) > n {
		p.Stages = rows[:n]
		p.Next = encodeToken(strconv.Itoa(rows[n-1].Position))
	}
	return p, nil
}

// PostingPage is a page of postings.
type PostingPage struct {
	Postings []store.Posting
	Next     string
}

// Postings lists the organization's ATS postings, only published ones
// (those offered for linking) when asked. A token is good for the filter
// it was handed out with.
func (c *Connections) Postings(ctx context.Context, orgID string, publishedOnly bool, size int, token string) (PostingPage, error) {
	n, err := pageSize(size)
	if err != nil {
		return PostingPage{}, err
	}
	after, err := decodeToken(token)
	if err != nil {
		return PostingPage{}, err
	}
	rows, err := c.store.Postings(ctx, orgID, after, publishedOnly, n+1)
	if err != nil {
		return PostingPage{}, err
	}
	p := PostingPage{Postings: rows}
	if len(rows) > n {
		p.Postings = rows[:n]
		p.Next = encodeToken(rows[n-1].RemoteID)
	}
	return p, nil
}

// UserPage is a page of users.
type UserPage struct {
	Users []store.User
	Next  string
}

// Users lists the organization's ATS users.
func (c *Connections) Users(ctx context.Context, orgID string, size int, token string) (UserPage, error) {
	n, err := pageSize(size)
	if err != nil {
		return UserPage{}, err
	}
	after, err := decodeToken(token)
	if err != nil {
		return UserPage{}, err
	}
	rows, err := c.store.Users(ctx, orgID, after, n+1)
	if err != nil {
		return UserPage{}, err
	}
	p := UserPage{Users: rows}
	if len(rows) > n {
		p.Users = rows[:n]
		p.Next = encodeToken(rows[n-1].RemoteID)
	}
	return p, nil
}
