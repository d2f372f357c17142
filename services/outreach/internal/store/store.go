// Package store keeps the outreach service's records in Postgres:
// candidates, their e-mail addresses and their timelines. Every query is
// scoped by organization; driver errors become the sentinels of
// platform/postgres or of this package.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tandemhq/tandem/platform/postgres"
)

var tracer = otel.Tracer("github.com/tandemhq/tandem/services/outreach/internal/store")

// Sentinels of this package; postgres.ErrNotFound comes through too.
var (
	// ErrNotLive is a change asked of a deleted or merged candidate.
	ErrNotLive = errors.New("candidate is deleted or merged")
	// ErrNotDeleted is a restore asked of a candidate that is not deleted.
	ErrNotDeleted = errors.New("candidate is not deleted")
)

// DuplicateEmailError says an address belongs to a candidate already.
type DuplicateEmailError struct {
	// Email is the address as the request gave it.
	Email string
	// CandidateID is the candidate that has it.
	CandidateID string
}

func (e *DuplicateEmailError) Error() string {
	return fmt.Sprintf("e-mail address belongs to candidate %s", e.CandidateID)
}

// Store is the outreach schema.
type Store struct {
	db *postgres.DB
}

// New returns a store over db (whose search_path is the outreach schema).
// Reads and transactions survive a dead pooled connection (postgres.DB).
func New(db *pgxpool.Pool) *Store { return &Store{db: postgres.NewDB(db)} }

func span(ctx context.Context, name string) (context.Context, trace.Span) {
	return tracer.Start(ctx, "store."+name)
}

// end closes a store span, recording err on it. A row that is not there, or
// a refusal the caller asked for, is an answer, not a failure.
func end(sp trace.Span, err error) {
	if err != nil && !isAnswer(err) {
		sp.RecordError(err)
		sp.SetStatus(codes.Error, "store call failed")
	}
	sp.End()
}

// isUUID reports whether s is a UUID in its canonical form, the only form
// the store's ids take: anything else cannot name a row.
func isUUID(s string) bool {
	return len(s) == 36 && uuid.Validate(s) == nil
}

// newID returns a time-ordered id.
func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// inTx runs fn in a transaction of the pool.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db, fn)
}

// answers are the errors that refuse a request rather than fail it.
var answers = []error{postgres.ErrNotFound, ErrFieldKeyTaken, ErrNotLive, ErrNotDeleted, ErrStageNotFound, ErrStageNameTaken, ErrStageOrder, ErrLastStage, ErrJobNotOpen,
	ErrConversationNotFound, ErrBadCursor, ErrAlreadyEnrolled}

func isAnswer(err error) bool {
	for _, a := range answers {
		if errors.Is(err, a) {
			return true
		}
	}
	var dup *DuplicateEmailError
	var full *StageHasCandidatesError
	var taken *ExternalJobTakenError
	var referred *ReferralExistsError
	var other *InAnotherFlowError
	return errors.As(err, &dup) || errors.As(err, &full) || errors.As(err, &taken) || errors.As(err, &referred) || errors.As(err, &other)
}
