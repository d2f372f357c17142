package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/providerhttp"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/grants"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// ReconcileKind names the reconcile jobs.
const ReconcileKind = "atsbridge_reconcile"

// DefaultReconcileEvery is how often every connected Lever connection is
// reconciled.
const DefaultReconcileEvery = 10 * time.Minute

// cursorOverlap re-reads a little before the cursor: Lever's updatedAt and
// our clock are not the same clock.
const cursorOverlap = time.Minute

// ReconcileArgs reconcile one connection; an empty ConnectionID fans out
// to every connected Lever connection. Full ignores the cursor.
type ReconcileArgs struct {
	ConnectionID string `json:"connection_id,omitempty"`
	Full         bool   `json:"full,omitempty"`
}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return ReconcileKind }

// InsertOpts: one waiting run a connection.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateScheduled, rivertype.JobStateRetryable, rivertype.JobStateRunning}}}
}

// ReconcilePeriodicJob runs the fan-out every interval.
func ReconcilePeriodicJob(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultReconcileEvery
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
		&river.PeriodicJobOpts{ID: ReconcileKind})
}

// Cursors keep the reconcile cursors (Redis).
type Cursors interface {
	Get(ctx context.Context, connectionID string) (time.Time, bool, error)
	Set(ctx context.Context, connectionID string, at time.Time) error
}

// OpportunityLister pages through the opportunities Lever changed.
type OpportunityLister interface {
	UpdatedOpportunities(ctx context.Context, a lever.Auth, updatedAtStart int64, offset string) (lever.OpportunityPage, error)
}

// ReconcileStore is what a reconcile reads beside the applier's.
type ReconcileStore interface {
	ConnectionByID(ctx context.Context, id string) (store.Connection, error)
	ConnectedIDs(ctx context.Context, provider string) ([]string, error)
	LinkByOpportunity(ctx context.Context, connectionID, remoteOpportunityID string) (store.LinkState, error)
	InTx(ctx context.Context, fn func(tx pgx.Tx) error) error
	MarkRefused(ctx context.Context, id string, generation int64, reason string) (bool, error)
	RecordError(ctx context.Context, id, kind, description string) error
}

// ReconcileWorker reads the opportunities Lever changed since the cursor
// and applies any linked one whose place differs from the link's, the
// way a webhook would (audit direction reconcile). A lost webhook is
// corrected at the next run; a lost cursor reads everything once, which
// changes only what differs.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	store   ReconcileStore
	applier *Applier
	tokens  AccessTokenGetter
	ats     OpportunityLister
	cursors Cursors
	jobs    JobInserter
	log     *slog.Logger
	now     func() time.Time
}

// NewReconcileWorker returns the worker; jobs enqueues the fan-out's
// per-connection runs.
func NewReconcileWorker(st ReconcileStore, applier *Applier, tokens AccessTokenGetter, ats OpportunityLister, cursors Cursors, jobs JobInserter, log *slog.Logger) *ReconcileWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ReconcileWorker{store: st, applier: applier, tokens: tokens, ats: ats, cursors: cursors, jobs: jobs, log: log, now: time.Now}
}

// Timeout bounds a run: a full one of a large account takes many pages.
func (w *ReconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 30 * time.Minute }

// Work runs one reconcile.
func (w *ReconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	if job.Args.ConnectionID == "" {
		return w.fanOut(ctx)
	}
	_, err := w.Reconcile(ctx, job.Args.ConnectionID, job.Args.Full)
	var ra *providerhttp.RetryAfterError
	if errors.As(err, &ra) {
		return river.JobSnooze(max(ra.RetryAfter, time.Second))
	}
	return err
}

func (w *ReconcileWorker) fanOut(ctx context.Context) error {
	ids, err := w.store.ConnectedIDs(ctx, "lever")
	if err != nil {
		return err
	}
	return w.store.InTx(ctx, func(tx pgx.Tx) error {
		for _, id := range ids {
			if _, err := w.jobs.InsertTx(ctx, tx, ReconcileArgs{ConnectionID: id}, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReconcileResult counts what a run saw and did.
type ReconcileResult struct {
	Read, Linked, Applied int
}

// Reconcile runs one connection's reconcile now.
func (w *ReconcileWorker) Reconcile(ctx context.Context, connectionID string, full bool) (ReconcileResult, error) {
	var res ReconcileResult
	conn, err := w.store.ConnectionByID(ctx, connectionID)
	if errors.Is(err, postgres.ErrNotFound) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if conn.Status != store.StatusConnected {
		return res, nil // a reconnect imports, then reconciles
	}
	tok, err := w.tokens.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: conn.ID})
	if c := status.Code(err); c == codes.FailedPrecondition || c == codes.NotFound {
		return res, nil
	} else if err != nil {
		return res, fmt.Errorf("inbound: token: %w", err)
	}
	auth := lever.Auth{ConnectionID: conn.ID, Token: tok.GetAccessToken()}
	started := w.now()
	var since int64
	if !full {
		cursor, ok, err := w.cursors.Get(ctx, conn.ID)
		if err != nil {
			w.log.WarnContext(ctx, "reconcile: the cursor is unreadable; reading everything", slog.Any("error", err))
		} else if ok {
			since = cursor.Add(-cursorOverlap).UnixMilli()
		}
	}
	plan, err := w.applier.Prepare(ctx, conn)
	if err != nil {
		return res, err
	}
	run := "reconcile:" + started.UTC().Format(time.RFC3339Nano)
	offset := ""
	for range 100_000 {
		page, err := w.ats.UpdatedOpportunities(ctx, auth, since, offset)
		if errors.Is(err, lever.ErrUnauthorized) {
			return res, w.refused(ctx, conn, err)
		}
		if err != nil {
			return res, fmt.Errorf("inbound: reconcile: %w", err)
		}
		for _, opp := range page.Opportunities {
			res.Read++
			applied, linked, err := w.one(ctx, conn, plan, opp, run)
			if err != nil {
				return res, err
			}
			if linked {
				res.Linked++
			}
			if applied {
				res.Applied++
			}
		}
		if page.Next == "" {
			if err := w.cursors.Set(ctx, conn.ID, started); err != nil {
				// The next run reads a little more; nothing is lost.
				w.log.WarnContext(ctx, "reconcile: the cursor was not saved", slog.Any("error", err))
			}
			w.log.InfoContext(ctx, "reconciled", slog.String("connection_id", conn.ID), slog.Bool("full", since == 0),
				slog.Int("read", res.Read), slog.Int("linked", res.Linked), slog.Int("applied", res.Applied))
			return res, nil
		}
		offset = page.Next
	}
	return res, fmt.Errorf("inbound: reconcile: too many pages")
}

// refused sorts Lever's refusal of the token: identity refreshes it and
// the run is tried again (River retries it), or identity's refresh is
// refused too and the connection waits for a reconnect, which imports and
// then reconciles.
func (w *ReconcileWorker) refused(ctx context.Context, conn store.Connection, err error) error {
	if !grants.Revoked(ctx, w.tokens, conn.ID) {
		w.log.InfoContext(ctx, "reconcile: Lever refused the token; identity refreshed it and the run goes again", slog.String("connection_id", conn.ID))
		return fmt.Errorf("inbound: reconcile: %w", err)
	}
	if rerr := w.store.RecordError(ctx, conn.ID, store.ErrorUnauthorized, "Lever refused the access token"); rerr != nil {
		return rerr
	}
	marked, merr := w.store.MarkRefused(ctx, conn.ID, conn.SyncGeneration, grants.ReasonRefused)
	if merr != nil {
		return merr
	}
	w.log.WarnContext(ctx, "reconcile: Lever refused Tandem's access; reconnect required", slog.String("connection_id", conn.ID), slog.Bool("marked", marked))
	return nil
}

// one applies an opportunity whose place differs from its link's.
func (w *ReconcileWorker) one(ctx context.Context, conn store.Connection, plan Plan, opp lever.OpportunityPlace, run string) (applied, linked bool, err error) {
	link, err := w.store.LinkByOpportunity(ctx, conn.ID, opp.ID)
	if errors.Is(err, postgres.ErrNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	place := store.Place{StageID: opp.Stage}
	if opp.Archived != nil {
		place = store.Place{ArchiveReasonID: opp.Archived.Reason}
	}
	if place == link.ATS || place == (store.Place{}) {
		return false, true, nil
	}
	at := time.UnixMilli(opp.UpdatedAt)
	if opp.UpdatedAt == 0 {
		at = w.now()
	}
	o := Observed{Connection: conn, OpportunityID: opp.ID, Place: place, At: at, Origin: OriginReconcile, TriggerID: run, TriggerType: "reconcile",
		Request: map[string]any{"opportunityId": opp.ID, "stage": opp.Stage, "archived": opp.Archived, "updatedAt": opp.UpdatedAt}}
	var dec Decision
	err = w.store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		dec, err = w.applier.ApplyTx(ctx, tx, plan, o)
		return err
	})
	return dec.Applied, true, err
}

// ResyncStore is what an on-demand resync reads.
type ResyncStore interface {
	OrgConnection(ctx context.Context, orgID string) (store.Connection, error)
	InTx(ctx context.Context, fn func(tx pgx.Tx) error) error
}

// ErrNotConnected is a resync of an organization whose ATS is not
// connected.
var ErrNotConnected = errors.New("inbound: the ATS is not connected")

// Resync queues a reconcile of the organization's connection now (full:
// every opportunity) and returns the connection's id.
func Resync(ctx context.Context, st ResyncStore, jobs JobInserter, orgID string, full bool) (string, error) {
	conn, err := st.OrgConnection(ctx, orgID)
	if errors.Is(err, postgres.ErrNotFound) {
		return "", ErrNotConnected
	}
	if err != nil {
		return "", err
	}
	if conn.Status != store.StatusConnected {
		return "", ErrNotConnected
	}
	err = st.InTx(ctx, func(tx pgx.Tx) error {
		_, err := jobs.InsertTx(ctx, tx, ReconcileArgs{ConnectionID: conn.ID, Full: full}, nil)
		return err
	})
	return conn.ID, err
}
