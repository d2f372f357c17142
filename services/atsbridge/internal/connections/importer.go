package connections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/providerhttp"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/grants"
	"github.com/tandemhq/tandem/services/atsbridge/internal/lever"
	"github.com/tandemhq/tandem/services/atsbridge/internal/store"
)

// ImportArgs import a connection's catalog for one sync generation.
type ImportArgs struct {
	ConnectionID string `json:"connection_id"`
	Generation   int64  `json:"generation"`
}

// Kind implements river.JobArgs.
func (ImportArgs) Kind() string { return "atsbridge_import_catalog" }

// InsertOpts: one import per connection and generation, however often the
// event is redelivered.
func (ImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: importAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

const importAttempts = 10

// ATS is what the import reads of the ATS (the Lever client).
type ATS interface {
	Stages(ctx context.Context, a lever.Auth) ([]lever.Stage, error)
	Postings(ctx context.Context, a lever.Auth) ([]lever.Posting, error)
	Users(ctx context.Context, a lever.Auth) ([]lever.User, error)
	ArchiveReasons(ctx context.Context, a lever.Auth) ([]lever.ArchiveReason, error)
}

// AccessTokenGetter is identity's GetAccessToken.
type AccessTokenGetter interface {
	GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error)
}

// Reasons shown on the connection.
const (
	ReasonNoToken      = "Tandem holds no working Lever authorization; a Super Admin must connect Lever again"
	reasonImportFailed = "the import from Lever failed; it runs again when Lever is reconnected"
)

// ImportWorker imports a connection's stages, postings, users and archive
// reasons: read from the ATS outside any transaction, then replaced in one.
type ImportWorker struct {
	river.WorkerDefaults[ImportArgs]
	store  Store
	tokens AccessTokenGetter
	ats    ATS
	pub    Publisher
	log    *slog.Logger
	now    func() time.Time
	// onConnected runs in the transaction that marks the import done
	// (the inbound sync enqueues its webhooks' registration there).
	onConnected func(ctx context.Context, tx pgx.Tx, conn store.Connection) error
}

// OnConnected sets fn to run in the transaction that marks an import done
// and the connection connected. Set it before the worker runs.
func (w *ImportWorker) OnConnected(fn func(ctx context.Context, tx pgx.Tx, conn store.Connection) error) {
	w.onConnected = fn
}

// afterImport chains the import's postings hook and onConnected.
func (w *ImportWorker) afterImport(conn store.Connection, at time.Time) store.PostingsChanged {
	jobs := w.publishJobs(conn, at)
	if w.onConnected == nil {
		return jobs
	}
	return func(ctx context.Context, tx pgx.Tx, changed []store.Posting) error {
		if jobs != nil {
			if err := jobs(ctx, tx, changed); err != nil {
				return err
			}
		}
		return w.onConnected(ctx, tx, conn)
	}
}

// NewImportWorker returns the worker.
//
// pub (may be nil: nothing is published) mirrors the postings that changed
// into outreach's jobs (ats.job_synced).
func NewImportWorker(st Store, tokens AccessTokenGetter, ats ATS, pub Publisher, log *slog.Logger) *ImportWorker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ImportWorker{store: st, tokens: tokens, ats: ats, pub: pub, log: log, now: time.Now}
}

// Timeout bounds one attempt: large accounts take many pages at 10 a
// second.
func (w *ImportWorker) Timeout(*river.Job[ImportArgs]) time.Duration { return 30 * time.Minute }

// Work runs one attempt.
func (w *ImportWorker) Work(ctx context.Context, job *river.Job[ImportArgs]) error {
	a := job.Args
	conn, err := w.store.ConnectionByID(ctx, a.ConnectionID)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if conn.SyncGeneration != a.Generation || conn.Status != store.StatusSyncing {
		return nil // superseded: a newer status or import
	}
	log := w.log.With(slog.String("connection_id", conn.ID), slog.Int64("generation", a.Generation))
	tok, err := w.tokens.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: conn.ID})
	switch status.Code(err) {
	case codes.OK:
	case codes.FailedPrecondition, codes.NotFound:
		// Identity holds no working token: its event with the new status
		// is on its way; the import waits for the next connection.
		log.InfoContext(ctx, "no token for the import; waiting for a reconnect")
		w.record(ctx, conn.ID, store.ErrorUnauthorized, "identity holds no working token for the connection")
		if _, err := w.store.MarkRefused(ctx, conn.ID, a.Generation, ReasonNoToken); err != nil {
			return err
		}
		return nil
	default:
		return w.retry(ctx, conn, job, store.ErrorUnavailable, "identity could not hand out a token", err)
	}
	auth := lever.Auth{ConnectionID: conn.ID, Token: tok.GetAccessToken()}
	cat, err := w.read(ctx, auth)
	if err != nil {
		return w.callFailed(ctx, conn, job, err)
	}
	at := w.now()
	applied, err := w.store.ReplaceCatalog(ctx, conn.ID, a.Generation, cat, at, w.afterImport(conn, at))
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "catalog imported", slog.Bool("applied", applied), slog.Int("stages", len(cat.Stages)),
		slog.Int("postings", len(cat.Postings)), slog.Int("users", len(cat.Users)), slog.Int("archive_reasons", len(cat.ArchiveReasons)))
	return nil
}

func (w *ImportWorker) read(ctx context.Context, auth lever.Auth) (store.Catalog, error) {
	var cat store.Catalog
	stages, err := w.ats.Stages(ctx, auth)
	if err != nil {
		return cat, err
	}
	for i, s := range stages {
		cat.Stages = append(cat.Stages, store.Stage{RemoteID: s.ID, Name: s.Text, Position: i})
	}
	postings, err := w.ats.Postings(ctx, auth)
	if err != nil {
		return cat, err
	}
	for _, p := range postings {
		sp := store.Posting{RemoteID: p.ID, Title: p.Text, State: p.State, Team: p.Categories.Team, Department: p.Categories.Department,
			Location: p.Categories.Location, Commitment: p.Categories.Commitment}
		if t := p.Updated(); !t.IsZero() {
			sp.RemoteUpdatedAt = &t
		}
		cat.Postings = append(cat.Postings, sp)
	}
	users, err := w.ats.Users(ctx, auth)
	if err != nil {
		return cat, err
	}
	for _, u := range users {
		cat.Users = append(cat.Users, store.User{RemoteID: u.ID, Name: u.Name, Email: u.Email, AccessRole: u.AccessRole, Deactivated: u.DeactivatedAt != nil})
	}
	reasons, err := w.ats.ArchiveReasons(ctx, auth)
	if err != nil {
		return cat, err
	}
	for _, r := range reasons {
		cat.ArchiveReasons = append(cat.ArchiveReasons, store.ArchiveReason{RemoteID: r.ID, Text: r.Text, Type: r.Type})
	}
	return cat, nil
}

// callFailed sorts an ATS failure: a refused token is refreshed and the
// import tried again, and only a refused refresh ends the connection's
// work until a reconnect; a rate limit snoozes the job; anything else is
// retried, and after the last attempt the import is given up.
func (w *ImportWorker) callFailed(ctx context.Context, conn store.Connection, job *river.Job[ImportArgs], err error) error {
	var ra *providerhttp.RetryAfterError
	switch {
	case errors.Is(err, lever.ErrUnauthorized) && !grants.Revoked(ctx, w.tokens, conn.ID):
		// Identity refreshed the token (or could not ask now): the next
		// attempt reads with the new one.
		return w.retry(ctx, conn, job, store.ErrorUnauthorized, "Lever refused the access token; the import goes again with a refreshed one", err)
	case errors.Is(err, lever.ErrUnauthorized):
		w.record(ctx, conn.ID, store.ErrorUnauthorized, "Lever refused the access token")
		marked, merr := w.store.MarkRefused(ctx, conn.ID, job.Args.Generation, grants.ReasonRefused)
		if merr != nil {
			return merr
		}
		w.log.WarnContext(ctx, "Lever refused the token; reconnect required", slog.String("connection_id", conn.ID), slog.Bool("marked", marked))
		return nil
	case errors.As(err, &ra) && errors.Is(err, providerhttp.ErrRateLimited):
		w.record(ctx, conn.ID, store.ErrorRateLimited, "Lever's rate limit was reached; the import waits")
		return river.JobSnooze(max(ra.RetryAfter, time.Second))
	case errors.Is(err, lever.ErrForbidden):
		return w.fail(ctx, conn, job.Args, store.ErrorForbidden, "Lever's grant does not allow reading the stages, postings, users or archive reasons")
	}
	return w.retry(ctx, conn, job, store.ErrorUnavailable, "Lever could not answer the import", err)
}

// retry records the failure and lets River try again; the last attempt
// gives the import up.
func (w *ImportWorker) retry(ctx context.Context, conn store.Connection, job *river.Job[ImportArgs], kind, what string, err error) error {
	w.log.WarnContext(ctx, what, slog.String("connection_id", conn.ID), slog.Int("attempt", job.Attempt), slog.Any("error", err))
	w.record(ctx, conn.ID, kind, what)
	if job.Attempt >= importAttempts {
		if merr := w.store.MarkSyncFailed(ctx, conn.ID, job.Args.Generation, reasonImportFailed); merr != nil {
			return merr
		}
		return river.JobCancel(fmt.Errorf("connections: import given up: %w", err))
	}
	return fmt.Errorf("connections: import: %w", err)
}

// fail gives the import up at once: retrying cannot help.
func (w *ImportWorker) fail(ctx context.Context, conn store.Connection, a ImportArgs, kind, what string) error {
	w.record(ctx, conn.ID, kind, what)
	if err := w.store.MarkSyncFailed(ctx, conn.ID, a.Generation, what); err != nil {
		return err
	}
	return nil
}

func (w *ImportWorker) record(ctx context.Context, id, kind, what string) {
	if err := w.store.RecordError(ctx, id, kind, what); err != nil {
		w.log.WarnContext(ctx, "could not record an ATS error", slog.String("connection_id", id), slog.Any("error", err))
	}
}
