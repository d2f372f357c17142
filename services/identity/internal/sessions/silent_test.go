package sessions_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
)

// records keeps the log records of a test.
type records struct {
	mu  sync.Mutex
	got []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rec)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// find returns the first record at level or above whose message has part.
func (r *records) find(level slog.Level, part string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.got {
		if rec.Level >= level && strings.Contains(rec.Message, part) {
			return rec, true
		}
	}
	return slog.Record{}, false
}

// failingRevoker cannot reach the revocation set.
type failingRevoker struct{}

func (failingRevoker) Revoke(context.Context, string, time.Time) error {
	return errors.New("redis: connection refused")
}

func TestRefreshTokenReuse_AFailedRevocationIsLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	logs := &records{}
	r := e.mustReplica(func(o *sessions.Options) {
		o.Revoker = failingRevoker{}
		o.Logger = slog.New(logs)
	})
	ctx := t.Context()
	user := e.user(r, "owner@x.example")
	issued, err := r.sessions.Issue(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.sessions.Refresh(ctx, issued.RefreshToken); err != nil {
		t.Fatal(err)
	}
	// The reuse still ends the session (in Postgres) and refuses the
	// caller, but the access tokens stay valid until they expire: an
	// operator must hear of it.
	_, err = r.sessions.Refresh(ctx, issued.RefreshToken)
	wantKind(t, "reused refresh token", err, apperr.ErrUnauthenticated)
	rec, ok := logs.find(slog.LevelError, "revoke")
	if !ok {
		t.Fatalf("no error logged for the failed revocation; got %d records", len(logs.got))
	}
	var hasSession, hasErr bool
	rec.Attrs(func(a slog.Attr) bool {
		hasSession = hasSession || a.Key == "session_id" && a.Value.String() != ""
		hasErr = hasErr || a.Key == "error"
		return true
	})
	if !hasSession || !hasErr {
		t.Fatalf("the record should name the session and the error: %v", rec)
	}
}
