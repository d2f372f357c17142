package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"
)

// Refresh tokens age out when unused: Microsoft's after 90 days of
// inactivity (AADSTS700082), Lever's after 90 days too. A connection that
// sends nothing for a while would die quietly; the background job refreshes
// every connection not refreshed for a week, checking every hour.
const (
	RefreshIdleKind = "vault_refresh_idle"

	DefaultRefreshIdleEvery = time.Hour
	DefaultIdleFor          = 7 * 24 * time.Hour
	DefaultIdleBatch        = 500

	idleConcurrency = 4
)

// ConnectionRef names a connection.
type ConnectionRef struct {
	OrgID        string
	ConnectionID string
}

// IdleConnections finds connections to refresh in the background.
type IdleConnections interface {
	// ListIdle returns at most limit connections, least recently
	// refreshed first, that have credentials in the vault, are not
	// waiting for a reconnect, and were last refreshed before
	// refreshedBefore.
	ListIdle(ctx context.Context, refreshedBefore time.Time, limit int) ([]ConnectionRef, error)
}

// ForceRefresher is what the worker needs of the Vault.
type ForceRefresher interface {
	ForceRefresh(ctx context.Context, orgID, connID string) error
}

// RefreshIdleArgs are the arguments of a vault_refresh_idle job.
type RefreshIdleArgs struct {
	// IdleFor: connections not refreshed for this long are refreshed.
	// Default DefaultIdleFor.
	IdleFor time.Duration `json:"idle_for"`
	// Limit is the most connections one run refreshes; the rest wait for
	// the next run. Default DefaultIdleBatch.
	Limit int `json:"limit"`
}

// Kind implements river.JobArgs.
func (RefreshIdleArgs) Kind() string { return RefreshIdleKind }

// RefreshIdleWorker refreshes idle connections, one batch per job.
type RefreshIdleWorker struct {
	river.WorkerDefaults[RefreshIdleArgs]

	vault ForceRefresher
	conns IdleConnections
	log   *slog.Logger
	now   func() time.Time
}

// NewRefreshIdleWorker returns the worker; log may be nil.
func NewRefreshIdleWorker(v ForceRefresher, conns IdleConnections, log *slog.Logger) *RefreshIdleWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RefreshIdleWorker{vault: v, conns: conns, log: log, now: time.Now}
}

// Timeout gives a batch more than River's default minute: each refresh is
// a provider round trip, and a slow provider is retried.
func (w *RefreshIdleWorker) Timeout(*river.Job[RefreshIdleArgs]) time.Duration {
	return 15 * time.Minute
}

// Work refreshes one batch. A connection that fails is logged and left for
// the next run (or, if its grant was refused, marked reconnect_required by
// the vault); it never stops the others. The job fails only when the list
// cannot be read.
func (w *RefreshIdleWorker) Work(ctx context.Context, job *river.Job[RefreshIdleArgs]) error {
	idleFor, limit := job.Args.IdleFor, job.Args.Limit
	if idleFor <= 0 {
		idleFor = DefaultIdleFor
	}
	if limit <= 0 {
		limit = DefaultIdleBatch
	}
	refs, err := w.conns.ListIdle(ctx, w.now().Add(-idleFor), limit)
	if err != nil {
		return fmt.Errorf("vault: listing idle connections: %w", err)
	}

	var refreshed, reconnect, failed atomic.Int64
	var g errgroup.Group
	g.SetLimit(idleConcurrency)
	for _, ref := range refs {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			err := w.vault.ForceRefresh(ctx, ref.OrgID, ref.ConnectionID)
			switch {
			case err == nil:
				refreshed.Add(1)
			case errors.Is(err, ErrReconnectRequired):
				reconnect.Add(1)
				w.log.InfoContext(ctx, "idle connection needs a reconnect",
					"org_id", ref.OrgID, "connection_id", ref.ConnectionID, "error", err)
			default:
				failed.Add(1)
				w.log.WarnContext(ctx, "idle connection refresh failed; next run retries",
					"org_id", ref.OrgID, "connection_id", ref.ConnectionID, "error", err)
			}
			return nil
		})
	}
	// Every task returns nil (its failure is counted and logged above), so
	// Wait has no error to report.
	_ = g.Wait() //nolint:errcheck // every task returns nil; failures are counted and logged above
	w.log.InfoContext(ctx, "idle connections refreshed",
		"listed", len(refs), "refreshed", refreshed.Load(), "reconnect_required", reconnect.Load(), "failed", failed.Load())
	return ctx.Err()
}

// RefreshIdlePeriodicJob schedules the worker every `every`, refreshing
// connections idle for idleFor (zero values take the defaults). River's
// leader alone enqueues periodic jobs, and uniqueness per period guards
// against a leader change enqueueing twice.
func RefreshIdlePeriodicJob(every, idleFor time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultRefreshIdleEvery
	}
	if idleFor <= 0 {
		idleFor = DefaultIdleFor
	}
	return river.NewPeriodicJob(
		river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			return RefreshIdleArgs{IdleFor: idleFor, Limit: DefaultIdleBatch},
				&river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
		},
		&river.PeriodicJobOpts{ID: RefreshIdleKind, RunOnStart: true},
	)
}
