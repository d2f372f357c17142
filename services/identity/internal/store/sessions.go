package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/postgres"
)

// Session is a person's session; its refresh token is stored hashed.
type Session struct {
	ID        string
	OrgID     string
	UserID    string
	ExpiresAt time.Time
}

// CreateSession stores a new session with its refresh token's hash.
func (s *Store) CreateSession(ctx context.Context, orgID, userID string, refreshHash []byte, expiresAt time.Time) (_ Session, err error) {
	ctx, sp := span(ctx, "CreateSession")
	defer func() { end(sp, err) }()
	out := Session{OrgID: orgID, UserID: userID, ExpiresAt: expiresAt}
	err = s.db.QueryRow(ctx, `INSERT INTO sessions (org_id, user_id, refresh_token_hash, expires_at) VALUES ($1, $2, $3, $4) RETURNING id::text`,
		orgID, userID, refreshHash, expiresAt).Scan(&out.ID)
	return out, postgres.MapError(err)
}

// RotateSession swaps the session's refresh token for a new one. Presenting
// a token that was already swapped out revokes the whole session: either
// the client or a thief holds a stale copy, and only one of them is the user.
//
// The one exception is a retry: when retrySince is set, oldHash was swapped
// out at or after it, and its successor, still the current token, is
// newHash, the call is the same rotation asked again (a lost response, two
// tabs at once). It returns ErrRefreshRetry with the session and user and
// changes nothing, so the caller can hand out that successor again.
func (s *Store) RotateSession(ctx context.Context, oldHash, newHash []byte, now, expiresAt, retrySince time.Time) (_ Session, _ User, err error) {
	ctx, sp := span(ctx, "RotateSession")
	defer func() { end(sp, err) }()
	var sess Session
	var user User
	reused, retry := false, false
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var revoked *time.Time
		// The session whose current token this is or, failing that, the
		// session that once had it: any retired token is a reuse, or a
		// retry.
		err := tx.QueryRow(ctx, `SELECT id::text, org_id::text, user_id::text, expires_at, revoked_at
			FROM sessions WHERE refresh_token_hash = $1 FOR UPDATE`, oldHash).
			Scan(&sess.ID, &sess.OrgID, &sess.UserID, &sess.ExpiresAt, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			reused = true
			var retiredAt time.Time
			var successorCurrent bool
			err = tx.QueryRow(ctx, `SELECT s.id::text, s.org_id::text, s.user_id::text, s.expires_at, s.revoked_at,
					r.retired_at, r.successor_hash = s.refresh_token_hash AND r.successor_hash = $2
				FROM retired_refresh_tokens r JOIN sessions s ON s.id = r.session_id
				WHERE r.token_hash = $1 FOR UPDATE OF s`, oldHash, newHash).
				Scan(&sess.ID, &sess.OrgID, &sess.UserID, &sess.ExpiresAt, &revoked, &retiredAt, &successorCurrent)
			retry = err == nil && successorCurrent && !retrySince.IsZero() && !retiredAt.Before(retrySince)
		}
		if err != nil {
			return postgres.MapError(err)
		}
		if revoked != nil || !sess.ExpiresAt.After(now) {
			return postgres.ErrNotFound
		}
		if reused && !retry {
			_, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $2 WHERE id = $1`, sess.ID, now)
			return postgres.MapError(err)
		}
		user, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 AND removed_at IS NULL`, sess.UserID))
		if err != nil || retry {
			return err
		}
		sess.ExpiresAt = expiresAt
		if _, err := tx.Exec(ctx, `INSERT INTO retired_refresh_tokens (token_hash, session_id, successor_hash, retired_at) VALUES ($1, $2, $3, $4)`,
			oldHash, sess.ID, newHash, now); err != nil {
			return postgres.MapError(err)
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET refresh_token_hash = $2, rotated_at = $3, expires_at = $4 WHERE id = $1`,
			sess.ID, newHash, now, expiresAt)
		return postgres.MapError(err)
	})
	switch {
	case err != nil:
		return sess, User{}, err
	case retry:
		return sess, user, ErrRefreshRetry
	case reused:
		return sess, User{}, ErrSessionReused
	}
	return sess, user, nil
}

// RefreshTokenKnown reports whether the hash is a session's current or
// retired refresh token, live or not.
func (s *Store) RefreshTokenKnown(ctx context.Context, hash []byte) (_ bool, err error) {
	ctx, sp := span(ctx, "RefreshTokenKnown")
	defer func() { end(sp, err) }()
	var known bool
	err = s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE refresh_token_hash = $1)
		OR EXISTS (SELECT 1 FROM retired_refresh_tokens WHERE token_hash = $1)`, hash).Scan(&known)
	return known, postgres.MapError(err)
}

// RevokeSession ends a session of the organization.
func (s *Store) RevokeSession(ctx context.Context, orgID, sessionID string, at time.Time) (err error) {
	ctx, sp := span(ctx, "RevokeSession")
	defer func() { end(sp, err) }()
	if !isUUID(sessionID) {
		return postgres.ErrNotFound
	}
	_, err = s.db.Exec(ctx, `UPDATE sessions SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL`, orgID, sessionID, at)
	return postgres.MapError(err)
}

// DeleteEndedSessions deletes at most limit sessions that expired or were
// revoked before `before`, with their retired refresh tokens, and returns
// how many it deleted.
func (s *Store) DeleteEndedSessions(ctx context.Context, before time.Time, limit int) (_ int64, err error) {
	ctx, sp := span(ctx, "DeleteEndedSessions")
	defer func() { end(sp, err) }()
	tag, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, postgres.MapError(err)
	}
	return tag.RowsAffected(), nil
}

// SessionEnded reports whether a session has ended: revoked, or not known
// at all (a token names only sessions identity created, so a session that
// is gone was pruned long after it ended). It is the durable answer the
// revocation set in Redis only speeds up.
func (s *Store) SessionEnded(ctx context.Context, sessionID string) (_ bool, err error) {
	ctx, sp := span(ctx, "SessionEnded")
	defer func() { end(sp, err) }()
	if !isUUID(sessionID) {
		return true, nil
	}
	var revoked bool
	err = s.db.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM sessions WHERE id = $1`, sessionID).Scan(&revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil
	}
	return revoked, postgres.MapError(err)
}

// RevokedSession is a session that ended, and when.
type RevokedSession struct {
	ID        string
	RevokedAt time.Time
}

// SessionsRevokedSince lists the sessions revoked at or after since, for
// rebuilding the revocation set.
func (s *Store) SessionsRevokedSince(ctx context.Context, since time.Time) (_ []RevokedSession, err error) {
	ctx, sp := span(ctx, "SessionsRevokedSince")
	defer func() { end(sp, err) }()
	rows, err := s.db.Query(ctx, `SELECT id::text, revoked_at FROM sessions WHERE revoked_at >= $1`, since)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RevokedSession])
	return out, postgres.MapError(err)
}
