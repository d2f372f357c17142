package main

import (
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/redisx"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
	"github.com/tandemhq/tandem/services/mailbox/internal/inbound"
	"github.com/tandemhq/tandem/services/mailbox/internal/mailboxes"
	"github.com/tandemhq/tandem/services/mailbox/internal/server"
	"github.com/tandemhq/tandem/services/mailbox/internal/store"
	"github.com/tandemhq/tandem/services/mailbox/internal/subscriptions"
)

// inboundSide is hearing back: subscriptions, notifications, catch-ups.
type inboundSide struct {
	jobs      *riverRef
	publisher *publisherRef
	subs      *subscriptions.Subscriptions
	inStore   *inbound.Store
	cursors   *inbound.Cursors
	periodic  []*river.PeriodicJob
}

// newInboundSide builds the inbound side and adds its workers.
func newInboundSide(cfg subscriptions.Config, db *pgxpool.Pool, rdb redis.UniversalClient, cursorKeys redisx.Keys,
	gc *graph.Client, st *store.Store, workers *river.Workers, jobsRef *riverRef, pubRef *publisherRef, log *slog.Logger) (*inboundSide, error) {
	// The River client and the publisher are built from the workers: the
	// domain gets references, filled in before any job runs (main.go).
	side := &inboundSide{jobs: jobsRef, publisher: pubRef}
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

// start hooks the inbound side to the registry (a mailbox that connects is
// subscribed in the same transaction) and returns its gRPC handler and its
// reader (for health).
func (side *inboundSide) start(reg *mailboxes.Registry) (*server.Inbound, *inbound.Reader) {
	reg.OnConnected(side.subs.Watch)
	reader := inbound.NewReader(side.inStore, reg, side.cursors)
	return server.NewInbound(side.subs, reader), reader
}
