// Package sessions issues people's sessions: short-lived access tokens
// signed with identity's Ed25519 keys, and refresh tokens that rotate on every
// use and are stored only as hashes. Signing out revokes both.
package sessions

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// RefreshTokenPrefix marks Tandem refresh tokens so secret scanners find them.
const RefreshTokenPrefix = "tdr_"

// Sealer seals and opens secrets with envelope encryption.
type Sealer interface {
	Seal(ctx context.Context, orgID string, plaintext []byte, bind ...string) (string, error)
	Open(ctx context.Context, orgID, sealed string, bind ...string) ([]byte, error)
}

// Revoker marks sessions revoked for every service's verifier.
type Revoker interface {
	Revoke(ctx context.Context, sessionID string, until time.Time) error
}

// Issued is a new session's tokens.
type Issued struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
}

// Store is what sessions needs of the identity store.
type Store interface {
	SigningKeys(ctx context.Context) ([]store.SigningKeyRecord, error)
	AddSigningKeyIfNone(ctx context.Context, k store.SigningKeyRecord) (bool, error)
	CreateSession(ctx context.Context, orgID, userID string, refreshHash []byte, expiresAt time.Time) (store.Session, error)
	RefreshTokenKnown(ctx context.Context, hash []byte) (bool, error)
	RotateSession(ctx context.Context, oldHash, newHash []byte, now, expiresAt, retrySince time.Time) (store.Session, store.User, error)
	RevokeSession(ctx context.Context, orgID, sessionID string, at time.Time) error
}

// Options configures Sessions.
type Options struct {
	Store      Store
	Sealer     Sealer
	Revoker    Revoker
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// Logger hears of failures the caller is not told about; nil discards.
	Logger *slog.Logger
	// Successors, when set, makes a refresh asked again within RetryWindow
	// (a lost response, two tabs at once) get the same tokens instead of
	// ending the session as a reuse would.
	Successors  Successors
	RetryWindow time.Duration
	Now         func() time.Time
}

// Sessions issues, refreshes and ends sessions, and keeps the signing keys.
type Sessions struct {
	o Options

	mu     sync.RWMutex
	signer *authz.Signer
	public map[string]ed25519.PublicKey
}

// systemOrg binds identity's own secrets (signing keys) in envelope
// encryption; no organization has this id.
const systemOrg = "system"

// New loads the signing keys, creating the first one if there is none (one
// replica wins; the others load it).
func New(ctx context.Context, o Options) (*Sessions, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = 10 * time.Minute
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 30 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RetryWindow <= 0 {
		o.RetryWindow = DefaultRetryWindow
	}
	s := &Sessions{o: o}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sessions) loadKeys(ctx context.Context) error {
	recs, err := s.o.Store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if len(recs) == 0 {
		key, err := authz.NewSigningKey("sk-" + randomString(9))
		if err != nil {
			return err
		}
		sealed, err := s.o.Sealer.Seal(ctx, systemOrg, key.Key.Seed(), "signing-key", key.ID)
		if err != nil {
			return fmt.Errorf("seal signing key: %w", err)
		}
		if _, err := s.o.Store.AddSigningKeyIfNone(ctx, store.SigningKeyRecord{ID: key.ID, SealedPrivateKey: sealed, PublicKey: key.Public()}); err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		if recs, err = s.o.Store.SigningKeys(ctx); err != nil {
			return fmt.Errorf("signing keys: %w", err)
		}
	}
	public := map[string]ed25519.PublicKey{}
	var signer *authz.Signer
	for _, r := range recs {
		public[r.ID] = ed25519.PublicKey(r.PublicKey)
		if signer != nil || r.RetiredAt != nil {
			continue
		}
		seed, err := s.o.Sealer.Open(ctx, systemOrg, r.SealedPrivateKey, "signing-key", r.ID)
		if err != nil {
			return fmt.Errorf("open signing key %s: %w", r.ID, err)
		}
		key, err := authz.SigningKeyFromSeed(r.ID, seed)
		if err != nil {
			return err
		}
		if signer, err = authz.NewSigner(key); err != nil {
			return err
		}
	}
	if signer == nil {
		return errors.New("no active signing key")
	}
	s.mu.Lock()
	s.signer, s.public = signer, public
	s.mu.Unlock()
	return nil
}

// VerificationKey implements authz.KeySource for identity's own verifier.
func (s *Sessions) VerificationKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if k, ok := s.public[kid]; ok {
		return k, nil
	}
	return nil, authz.ErrUnknownKey
}

// PublicKeys returns every verification key by id.
func (s *Sessions) PublicKeys() map[string]ed25519.PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]ed25519.PublicKey, len(s.public))
	for k, v := range s.public {
		out[k] = v
	}
	return out
}

func randomString(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error: it crashes the program instead.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashRefresh(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func (s *Sessions) accessToken(u store.User, sessionID string, now time.Time) (string, time.Time, error) {
	s.mu.RLock()
	signer := s.signer
	s.mu.RUnlock()
	tok, err := signer.Sign(authz.SessionClaims{UserID: u.ID, OrgID: u.OrgID, Role: u.Role, SessionID: sessionID}, s.o.AccessTTL, now)
	return tok, now.Add(s.o.AccessTTL), err
}

// Issue starts a session for u.
func (s *Sessions) Issue(ctx context.Context, u store.User) (Issued, error) {
	now := s.o.Now()
	refresh := RefreshTokenPrefix + randomString(32)
	sess, err := s.o.Store.CreateSession(ctx, u.OrgID, u.ID, hashRefresh(refresh), now.Add(s.o.RefreshTTL))
	if err != nil {
		return Issued{}, err
	}
	access, exp, err := s.accessToken(u, sess.ID, now)
	if err != nil {
		return Issued{}, err
	}
	return Issued{AccessToken: access, AccessExpiresAt: exp, RefreshToken: refresh, RefreshExpiresAt: sess.ExpiresAt}, nil
}

// Refresh rotates a refresh token into a new session pair. A token used twice
// ends its session, unless it is the same refresh asked again within the
// retry window: that gets the same refresh token (and a fresh access token).
func (s *Sessions) Refresh(ctx context.Context, refreshToken string) (Issued, error) {
	if !strings.HasPrefix(refreshToken, RefreshTokenPrefix) {
		return Issued{}, apperr.InvalidArgument("refresh_token", "is not a Tandem refresh token")
	}
	now := s.o.Now()
	old := hashRefresh(refreshToken)
	next := RefreshTokenPrefix + randomString(32)
	var retrySince time.Time
	if s.o.Successors != nil {
		// Only a token we issued gets a successor claimed in Redis: made-up
		// ones must not fill it.
		known, err := s.o.Store.RefreshTokenKnown(ctx, old)
		if err != nil {
			return Issued{}, err
		}
		if !known {
			return Issued{}, apperr.Unauthenticated("session ended; sign in again")
		}
		next = s.successor(ctx, old, next)
		retrySince = now.Add(-s.o.RetryWindow)
	}
	sess, user, err := s.o.Store.RotateSession(ctx, old, hashRefresh(next), now, now.Add(s.o.RefreshTTL), retrySince)
	switch {
	case errors.Is(err, store.ErrRefreshRetry):
		// The same rotation again: sess already expires when it said.
	case errors.Is(err, store.ErrSessionReused):
		// The session is already ended in Postgres, so no refresh works
		// again; the revocation set is what refuses its access tokens now.
		// If it cannot be written they stay valid until they expire, which
		// nothing here can undo: say so loudly, and still refuse the caller.
		if err := s.o.Revoker.Revoke(ctx, sess.ID, now.Add(s.o.AccessTTL)); err != nil {
			s.o.Logger.ErrorContext(ctx, "refresh token reused, but its session's access tokens could not be revoked; they stay valid until they expire",
				slog.String("session_id", sess.ID), slog.Time("valid_until", now.Add(s.o.AccessTTL)), slog.Any("error", err))
		}
		return Issued{}, apperr.Unauthenticated("session ended; sign in again")
	case errors.Is(err, postgres.ErrNotFound):
		return Issued{}, apperr.Unauthenticated("session ended; sign in again")
	case err != nil:
		return Issued{}, err
	}
	access, exp, err := s.accessToken(user, sess.ID, now)
	if err != nil {
		return Issued{}, err
	}
	return Issued{AccessToken: access, AccessExpiresAt: exp, RefreshToken: next, RefreshExpiresAt: sess.ExpiresAt}, nil
}

// SignOut ends the caller's session: its refresh token stops working at once
// and its access token is refused by every service until it would expire.
func (s *Sessions) SignOut(ctx context.Context, p authz.Principal) error {
	if p.SessionID == "" {
		return apperr.FailedPrecondition("not_a_session", "only a session can sign out")
	}
	now := s.o.Now()
	if err := s.o.Store.RevokeSession(ctx, p.OrgID, p.SessionID, now); err != nil {
		return err
	}
	return s.o.Revoker.Revoke(ctx, p.SessionID, now.Add(s.o.AccessTTL))
}

// RevokeSessions marks sessions revoked (a removed user's).
func (s *Sessions) RevokeSessions(ctx context.Context, ids []string) error {
	until := s.o.Now().Add(s.o.AccessTTL)
	for _, id := range ids {
		if err := s.o.Revoker.Revoke(ctx, id, until); err != nil {
			return err
		}
	}
	return nil
}
