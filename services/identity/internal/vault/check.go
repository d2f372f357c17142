package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"
)

// Check reports whether the connection's credentials are really there: in
// Redis, or in the DurableStore, from which a Redis that lost them is
// restored. It refreshes nothing. Credentials lost from both, or that no
// key opens any more, are reported to the ConnectionSink and answered with
// ErrReconnectRequired, as AccessToken would; a Redis or Postgres that
// cannot answer is Unavailable and changes nothing.
func (v *Vault) Check(ctx context.Context, orgID, connID string) error {
	if err := checkIDs(orgID, connID); err != nil {
		return err
	}
	if _, err := v.load(ctx, orgID, connID); err != nil {
		return v.fail(ctx, orgID, connID, err)
	}
	return nil
}

// A connection's status must say what is really there. Reading a status
// checks the credentials (connections.Mailbox), but a connection nobody
// looks at would go on reading `connected` after a Redis loss until its
// next refresh, a week away. So every connected connection, idle or not,
// is checked every CheckEvery: credentials Redis lost come back from the
// DurableStore before anyone needs them, and credentials lost for good
// turn the connection reconnect_required.
const (
	CheckConnectionsKind = "vault_check_connections"

	DefaultCheckEvery = 10 * time.Minute
	checkBatch        = 500
	checkConcurrency  = 8
)

// ConnectedConnections pages through the connections that claim to be
// connected.
type ConnectedConnections interface {
	// ListConnected returns at most limit connected connections whose id
	// sorts after afterID, in id order.
	ListConnected(ctx context.Context, afterID string, limit int) ([]ConnectionRef, error)
}

// Checker is what the worker needs of the Vault.
type Checker interface {
	Check(ctx context.Context, orgID, connID string) error
}

// CheckConnectionsArgs are the arguments of a vault_check_connections job.
type CheckConnectionsArgs struct{}

// Kind implements river.JobArgs.
func (CheckConnectionsArgs) Kind() string { return CheckConnectionsKind }

// CheckConnectionsWorker checks every connected connection, a batch at a
// time, in one job.
type CheckConnectionsWorker struct {
	river.WorkerDefaults[CheckConnectionsArgs]

	vault Checker
	conns ConnectedConnections
	log   *slog.Logger
}

// NewCheckConnectionsWorker returns the worker; log may be nil.
func NewCheckConnectionsWorker(v Checker, conns ConnectedConnections, log *slog.Logger) *CheckConnectionsWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CheckConnectionsWorker{vault: v, conns: conns, log: log}
}

// Timeout gives a pass over every connection more than River's default
// minute: each check is a Redis read, plus a Postgres read for one Redis
// lost.
func (w *CheckConnectionsWorker) Timeout(*river.Job[CheckConnectionsArgs]) time.Duration {
	return 15 * time.Minute
}

// Work checks every connected connection. One whose credentials are gone
// is marked by the vault; one that cannot be checked now (a store down) is
// logged and left for the next run. The job fails only when the list
// cannot be read, and River runs it again.
func (w *CheckConnectionsWorker) Work(ctx context.Context, _ *river.Job[CheckConnectionsArgs]) error {
	var checked, reconnect, failed int
	after := ""
	for {
		refs, err := w.conns.ListConnected(ctx, after, checkBatch)
		if err != nil {
			return fmt.Errorf("vault: listing connected connections: %w", err)
		}
		results := make([]error, len(refs))
		var g errgroup.Group
		g.SetLimit(checkConcurrency)
		for i, ref := range refs {
			g.Go(func() error {
				results[i] = w.vault.Check(ctx, ref.OrgID, ref.ConnectionID)
				return nil
			})
		}
		_ = g.Wait() //nolint:errcheck // every task returns nil; its outcome is in results
		for i, err := range results {
			ref := refs[i]
			switch {
			case err == nil:
				checked++
			case errors.Is(err, ErrReconnectRequired):
				reconnect++
				w.log.InfoContext(ctx, "connection credentials are gone; reconnect required",
					"org_id", ref.OrgID, "connection_id", ref.ConnectionID, "error", err)
			default:
				failed++
				w.log.WarnContext(ctx, "connection could not be checked; next run retries",
					"org_id", ref.OrgID, "connection_id", ref.ConnectionID, "error", err)
			}
		}
		if len(refs) < checkBatch || ctx.Err() != nil {
			break
		}
		after = refs[len(refs)-1].ConnectionID
	}
	w.log.InfoContext(ctx, "connections checked", "ok", checked, "reconnect_required", reconnect, "failed", failed)
	return ctx.Err()
}

// CheckConnectionsPeriodicJob schedules the worker every `every` (zero:
// DefaultCheckEvery), on River's leader only, once per period.
func CheckConnectionsPeriodicJob(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultCheckEvery
	}
	return river.NewPeriodicJob(
		river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			return CheckConnectionsArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
		},
		&river.PeriodicJobOpts{ID: CheckConnectionsKind, RunOnStart: true},
	)
}
