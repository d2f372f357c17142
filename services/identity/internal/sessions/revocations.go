package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// DefaultRestoreEvery is how often identity writes the revocation set from
// Postgres into Redis. A Redis that lost everything lost the set's marker
// too, and verifiers ask Postgres until the next write; a Redis that lost
// only its last writes keeps the marker, and a revocation among them is
// missing from Redis until the next write, so this also bounds that window.
const DefaultRestoreEvery = 5 * time.Second

// RevocationRecord is the durable record of ended sessions.
type RevocationRecord interface {
	SessionEnded(ctx context.Context, sessionID string) (bool, error)
	SessionsRevokedSince(ctx context.Context, since time.Time) ([]store.RevokedSession, error)
}

// RevocationSet is the fast copy every verifier reads.
type RevocationSet interface {
	Restore(ctx context.Context, revs []authz.Revocation, epoch string) error
}

// Revocations keeps the revocation set in Redis true to Postgres, and
// answers from Postgres for identity's own verifier while the set is
// incomplete (authz.DurableRevocations asks it then).
type Revocations struct {
	record    RevocationRecord
	set       RevocationSet
	accessTTL time.Duration
	log       *slog.Logger
	now       func() time.Time
	writer    string
}

// NewRevocations returns the keeper of the set; accessTTL is the lifetime
// of session access tokens (zero: the default of Sessions). log may be nil.
func NewRevocations(record RevocationRecord, set RevocationSet, accessTTL time.Duration, log *slog.Logger) *Revocations {
	if accessTTL <= 0 {
		accessTTL = 10 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, err := os.Hostname() // only names the writer, for operators
	if err != nil {
		host = "unknown-host"
	}
	return &Revocations{record: record, set: set, accessTTL: accessTTL, log: log, now: time.Now,
		writer: fmt.Sprintf("identity@%s/%d", host, os.Getpid())}
}

// SessionRevoked implements authz.RevocationChecker from Postgres.
func (r *Revocations) SessionRevoked(ctx context.Context, sessionID string) (bool, error) {
	return r.record.SessionEnded(ctx, sessionID)
}

// Restore writes every session ended within an access token's lifetime
// (plus the verifiers' largest leeway) into the set, and then its marker.
// Older ones need no entry: every token of theirs has expired.
func (r *Revocations) Restore(ctx context.Context) (int, error) {
	now := r.now()
	ended, err := r.record.SessionsRevokedSince(ctx, now.Add(-r.accessTTL-authz.MaxLeeway))
	if err != nil {
		return 0, fmt.Errorf("sessions: reading ended sessions: %w", err)
	}
	revs := make([]authz.Revocation, len(ended))
	for i, e := range ended {
		revs[i] = authz.Revocation{SessionID: e.ID, Until: e.RevokedAt.Add(r.accessTTL)}
	}
	epoch := r.writer + " at " + now.UTC().Format(time.RFC3339Nano)
	if err := r.set.Restore(ctx, revs, epoch); err != nil {
		return 0, err
	}
	return len(revs), nil
}

// Keep restores the set now and then every `every` until ctx ends. Every
// replica runs it: a restore is idempotent and costs one indexed query.
func (r *Revocations) Keep(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultRestoreEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		n, err := r.Restore(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			// Verifiers keep asking Postgres while the marker is missing,
			// so this costs speed, not safety.
			r.log.WarnContext(ctx, "revocation set not restored", slog.Any("error", err))
			failing = true
		case err == nil && failing:
			r.log.InfoContext(ctx, "revocation set restored", slog.Int("revoked_sessions", n))
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
