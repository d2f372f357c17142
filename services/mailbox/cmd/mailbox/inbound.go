package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/mailboxes"
	"github.com/tandemhq/tandem/services/mailbox/internal/server"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
	"github.com/tandemhq/tandem/services/mailbox/internal/subscriptions"
)

// The inbound side's jobs need the River client and the event publisher,
// which are built from the workers: the domain gets them through these
// references, filled in once they exist and before any job runs (Serve
// starts the workers).

// lateJobs forwards to the River client once it is set.
type lateJobs struct{ c *jobs.Client }

func (l *lateJobs) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return l.c.Insert(ctx, args, opts)
}

func (l *lateJobs) InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return l.c.InsertTx(ctx, tx, args, opts)
}

func (l *lateJobs) InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	return l.c.InsertManyTx(ctx, tx, params)
}

// latePublisher forwards to the event publisher once it is set.
type latePublisher struct{ p *events.Publisher }

func (l *latePublisher) Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error) {
	return l.p.Publish(ctx, tx, ev)
}

// inboundSide is hearing back: subscriptions, notifications, catch-ups.
type inboundSide struct {
	jobs      *lateJobs
	publisher *latePublisher
	subs      *subscriptions.Subscriptions
	inStore   *inbound.Store
	cursors   *inbound.Cursors
	periodic  []*river.PeriodicJob
}

// newInboundSide builds the inbound side and adds its workers.
func newInboundSide(cfg subscriptions.Config, db *pgxpool.Pool, rdb redis.UniversalClient, cursorKeys redisx.Keys,
	gc *graph.Client, st *store.Store, workers *river.Workers, log *slog.Logger) (*inboundSide, error) {
	side := &inboundSide{jobs: &lateJobs{}, publisher: &latePublisher{}}
	subStore := subscriptions.NewStore(db)
	subs, err := subscriptions.New(subscriptions.Options{Store: subStore, DB: db, Graph: gc, Mailboxes: st, Jobs: side.jobs, Config: cfg, Log: log})
	if err != nil {
		return nil, err
	}
	inStore := inbound.NewStore(db)
	cursors := inbound.NewCursors(rdb, cursorKeys)
	inbox := inbound.New(inbound.Options{Store: inStore, Graph: gc, Mailboxes: st, Sent: inbound.NewSentLog(db),
		Publisher: side.publisher, Cursors: cursors, CaughtUp: subStore, Log: log})
	river.AddWorker(workers, subscriptions.NewEnsureWorker(subs))
	river.AddWorker(workers, subscriptions.NewLifecycleWorker(subs))
	river.AddWorker(workers, subscriptions.NewRenewWorker(subs))
	river.AddWorker(workers, inbound.NewFetchWorker(inbox))
	river.AddWorker(workers, inbound.NewCatchUpWorker(inbox))
	river.AddWorker(workers, inbound.NewCatchUpAllWorker(subStore, side.jobs, log))
	side.subs, side.inStore, side.cursors = subs, inStore, cursors
	side.periodic = []*river.PeriodicJob{
		subscriptions.RenewPeriodicJob(time.Hour),
		inbound.CatchUpPeriodicJob(cfg.CatchUpEvery),
	}
	return side, nil
}

// start gives the inbound side the River client and the publisher, hooks
// it to the registry (a mailbox that connects is subscribed in the same
// transaction) and returns its gRPC handler and its reader (for health).
func (side *inboundSide) start(jc *jobs.Client, pub *events.Publisher, reg *mailboxes.Registry) (*server.Inbound, *inbound.Reader) {
	side.jobs.c, side.publisher.p = jc, pub
	reg.OnConnected(side.subs.Watch)
	reader := inbound.NewReader(side.inStore, reg, side.cursors)
	return server.NewInbound(side.subs, reader), reader
}
