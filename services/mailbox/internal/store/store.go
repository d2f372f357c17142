// Package store keeps the mailbox service's records in Postgres: the
// connected mailboxes and the messages they send. Every query that a
// caller's request reaches is scoped by organization; driver errors become
// the sentinels of platform/postgres or of this package.
package store

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemhq/tandem/platform/postgres"
)

var tracer = otel.Tracer("github.com/tandemhq/tandem/services/mailbox/internal/store")

// Store is the mailbox schema.
type Store struct {
	db *postgres.DB
}

// New returns a store over db (whose search_path is the mailbox schema).
// Reads and transactions survive a dead pooled connection (postgres.DB).
func New(db *pgxpool.Pool) *Store { return &Store{db: postgres.NewDB(db)} }

// InTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	ctx, sp := span(ctx, "InTx")
	defer func() { end(sp, err) }()
	return postgres.MapError(pgx.BeginFunc(ctx, s.db, fn))
}

func span(ctx context.Context, name string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "store."+name)
}

// end closes a store span, recording err on it. A row that is not there is
// an answer, not a failure.
func end(sp trace.Span, err error) {
	if err != nil && !errors.Is(err, postgres.ErrNotFound) && !errors.Is(err, postgres.ErrConflict) {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, "store call failed")
	}
	sp.End()
}

// isUUID reports whether s can name a row; anything else is NotFound
// without asking Postgres.
func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// postgresNotFound reports whether err is a mapped "no rows".
func postgresNotFound(err error) bool { return errors.Is(err, postgres.ErrNotFound) }
