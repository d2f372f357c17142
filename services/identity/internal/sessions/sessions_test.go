package sessions_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/store/storetest"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// env is one test's database, Redis prefix and key ring; each replica made
// from it has its own pool, Redis client and envelope vault, as separate
// processes would.
type env struct {
	t      *testing.T
	dbURL  string
	prefix string
	ring   *envelope.KeyRing
	clock  *clock
}

// clock is a settable time, shared by the replicas of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dbURL: pgtest.NewDatabase(t), ring: newRing(t), clock: &clock{now: time.Now()}}
	e.prefix = pgtest.RedisPrefixCleaned(t, e.redis())
	return e
}

func newRing(t *testing.T) *envelope.KeyRing {
	t.Helper()
	kek := make([]byte, envelope.KeySize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	ring, err := envelope.NewKeyRing("k1", map[string][]byte{"k1": kek})
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func (e *env) pool() *pgxpool.Pool {
	e.t.Helper()
	return storetest.Open(e.t, e.dbURL)
}

func (e *env) redis() *redis.Client {
	e.t.Helper()
	return pgtest.NewRedis(e.t)
}

func (e *env) revocations() authz.RedisRevocations {
	return authz.RedisRevocations{Client: e.redis(), Prefix: e.prefix}
}

// replica is what one identity process has: its store, sessions and the
// authenticator's verifier over those sessions.
type replica struct {
	store    *store.Store
	sessions *sessions.Sessions
	verifier *authz.Verifier
}

func (e *env) replica(opts ...func(*sessions.Options)) (replica, error) {
	st := store.New(e.pool())
	o := sessions.Options{
		Store:      st,
		Sealer:     envelope.NewVault(e.ring, st.DataKeys(), envelope.VaultOptions{}),
		Revoker:    e.revocations(),
		AccessTTL:  5 * time.Minute,
		RefreshTTL: 24 * time.Hour,
		Now:        e.clock.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	ss, err := sessions.New(e.t.Context(), o)
	if err != nil {
		return replica{}, err
	}
	return replica{store: st, sessions: ss, verifier: authz.NewVerifier(ss, authz.VerifierOptions{Now: e.clock.Now})}, nil
}

func (e *env) mustReplica(opts ...func(*sessions.Options)) replica {
	e.t.Helper()
	r, err := e.replica(opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) user(r replica, email string) store.User {
	e.t.Helper()
	_, u, _, err := r.store.SignInUser(e.t.Context(), store.SignIn{TenantID: "tenant-1", ObjectID: "oid-" + email, Email: email, DisplayName: email, OrgName: "x"})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: got %v, want %v", what, err, kind)
	}
}

func TestIssueRefreshSignOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.mustReplica()
	ctx := t.Context()
	user := e.user(r, "owner@x.example")
	revoked := e.revocations()

	issued, err := r.sessions.Issue(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(issued.RefreshToken, sessions.RefreshTokenPrefix) {
		t.Fatalf("refresh token %q lacks the prefix", issued.RefreshToken[:4])
	}
	if !issued.AccessExpiresAt.Equal(e.clock.Now().Add(5*time.Minute)) || !issued.RefreshExpiresAt.Equal(e.clock.Now().Add(24*time.Hour)) {
		t.Fatalf("expiries: %v, %v", issued.AccessExpiresAt, issued.RefreshExpiresAt)
	}
	claims, err := r.verifier.Verify(ctx, issued.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if claims.UserID != user.ID || claims.OrgID != user.OrgID || claims.Role != authz.RoleSuperAdmin || claims.SessionID == "" {
		t.Fatalf("claims: %+v", claims)
	}

	// A refresh reads the role from the store, not from the old token. (A
	// role change through the store also ends the sessions; this sets the
	// role underneath to see the refresh alone.)
	if _, err := e.pool().Exec(ctx, `UPDATE users SET role = 'admin' WHERE id = $1`, user.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	refreshed, err := r.sessions.Refresh(ctx, issued.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.RefreshToken == issued.RefreshToken || refreshed.AccessToken == issued.AccessToken {
		t.Fatal("refresh did not rotate the tokens")
	}
	if !refreshed.RefreshExpiresAt.Equal(e.clock.Now().Add(24 * time.Hour)) {
		t.Fatalf("a refresh extends the session: %v", refreshed.RefreshExpiresAt)
	}
	rc, err := r.verifier.Verify(ctx, refreshed.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if rc.SessionID != claims.SessionID || rc.Role != authz.RoleAdmin || rc.UserID != user.ID {
		t.Fatalf("refreshed claims: %+v", rc)
	}

	// Signing out ends the refresh token and marks the access token revoked.
	if err := r.sessions.SignOut(ctx, rc.Principal()); err != nil {
		t.Fatal(err)
	}
	if gone, err := revoked.SessionRevoked(ctx, rc.SessionID); err != nil || !gone {
		t.Fatalf("after sign-out the session is revoked for every verifier: %v, %v", gone, err)
	}
	_, err = r.sessions.Refresh(ctx, refreshed.RefreshToken)
	wantKind(t, "refresh after sign-out", err, apperr.ErrUnauthenticated)

	// Only a session can sign out.
	err = r.sessions.SignOut(ctx, authz.Principal{Kind: authz.KindAPIToken, OrgID: user.OrgID, TokenID: "t", Role: authz.RoleAdmin})
	wantKind(t, "an API token signing out", err, apperr.ErrFailedPrecondition)
	_, err = r.sessions.Refresh(ctx, "not-a-refresh-token")
	wantKind(t, "a foreign refresh token", err, apperr.ErrInvalidArgument)
	_, err = r.sessions.Refresh(ctx, sessions.RefreshTokenPrefix+"made-up")
	wantKind(t, "an unknown refresh token", err, apperr.ErrUnauthenticated)
}

func TestRefreshTokenReuseEndsTheSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.mustReplica()
	ctx := t.Context()
	user := e.user(r, "owner@x.example")

	issued, err := r.sessions.Issue(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	next, err := r.sessions.Refresh(ctx, issued.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := r.verifier.Verify(ctx, next.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	// A stale copy of the first refresh token shows up: the session ends,
	// for the thief and the user alike, access token included.
	_, err = r.sessions.Refresh(ctx, issued.RefreshToken)
	wantKind(t, "reused refresh token", err, apperr.ErrUnauthenticated)
	_, err = r.sessions.Refresh(ctx, next.RefreshToken)
	wantKind(t, "current refresh token after a reuse", err, apperr.ErrUnauthenticated)
	if gone, err := e.revocations().SessionRevoked(ctx, claims.SessionID); err != nil || !gone {
		t.Fatalf("a reused refresh token should revoke the session's access tokens: %v, %v", gone, err)
	}
}

func TestExpiredSessionCannotRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.mustReplica()
	ctx := t.Context()
	issued, err := r.sessions.Issue(ctx, e.user(r, "owner@x.example"))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(24*time.Hour + time.Second)
	_, err = r.sessions.Refresh(ctx, issued.RefreshToken)
	wantKind(t, "refresh after the session expired", err, apperr.ErrUnauthenticated)
	// The old access token is long expired too.
	_, err = r.verifier.Verify(ctx, issued.AccessToken)
	wantKind(t, "access token a day later", err, authz.ErrTokenExpired)
}

func TestReplicasShareOneSigningKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	// Three replicas start together on an empty database.
	replicas := make([]replica, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { replicas[i], errs[i] = e.replica() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	recs, err := replicas[0].store.SigningKeys(ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("signing keys after three starts: %d, %v; want 1", len(recs), err)
	}
	if !strings.HasPrefix(recs[0].SealedPrivateKey, "enc.") {
		t.Fatalf("the private key is stored sealed, got a value of another shape")
	}
	// A replica started later loads the same key too.
	replicas = append(replicas, e.mustReplica())
	for i, r := range replicas {
		keys := r.sessions.PublicKeys()
		if len(keys) != 1 || !keys[recs[0].ID].Equal(ed25519.PublicKey(recs[0].PublicKey)) {
			t.Fatalf("replica %d verifies with %v, want only %s", i, keys, recs[0].ID)
		}
	}

	user := e.user(replicas[0], "owner@x.example")
	for i, signer := range replicas {
		issued, err := signer.sessions.Issue(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		for j, verifier := range replicas {
			if _, err := verifier.verifier.Verify(ctx, issued.AccessToken); err != nil {
				t.Fatalf("a token of replica %d does not verify on replica %d: %v", i, j, err)
			}
		}
		// The refresh token works on any replica too.
		next, err := replicas[(i+1)%len(replicas)].sessions.Refresh(ctx, issued.RefreshToken)
		if err != nil {
			t.Fatalf("refresh on another replica: %v", err)
		}
		if _, err := signer.verifier.Verify(ctx, next.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	if recs, err := replicas[0].store.SigningKeys(ctx); err != nil || len(recs) != 1 {
		t.Fatalf("%d signing keys after use, want 1 (err %v)", len(recs), err)
	}
}

func TestReplicaWithoutTheKeyEncryptionKeyRefusesToStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustReplica()
	e.ring = newRing(t) // same key id, other key material
	_, err := e.replica()
	if err == nil {
		t.Fatal("a replica that cannot open the signing key started")
	}
	if !strings.Contains(err.Error(), "open signing key") {
		t.Fatalf("the error should say which key could not be opened: %v", err)
	}
	st := store.New(e.pool())
	if recs, err := st.SigningKeys(t.Context()); err != nil || len(recs) != 1 {
		t.Fatalf("the failed start must not add a key: %d, %v", len(recs), err)
	}
}

// withRetries gives a replica the retry window over the env's Redis, as
// identity runs.
func (e *env) withRetries(o *sessions.Options) {
	o.Successors = sessions.RedisSuccessors{Client: e.redis(), Prefix: e.prefix}
	o.RetryWindow = 30 * time.Second
}

func TestRefreshRetriedWithinTheWindowGetsTheSameToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.mustReplica(e.withRetries), e.mustReplica(e.withRetries)
	ctx := t.Context()
	user := e.user(a, "owner@x.example")
	issued, err := a.sessions.Issue(ctx, user)
	if err != nil {
		t.Fatal(err)
	}

	// Two tabs (on two replicas) refresh with the same token at once, and
	// one retries after a lost response: everyone gets the same successor.
	var wg sync.WaitGroup
	results := make([]sessions.Issued, 8)
	errs := make([]error, 8)
	for i := range results {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Go(func() { results[i], errs[i] = r.sessions.Refresh(ctx, issued.RefreshToken) })
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("refresh %d: %v", i, errs[i])
		}
		if results[i].RefreshToken != results[0].RefreshToken || results[i].RefreshToken == issued.RefreshToken {
			t.Fatalf("refresh %d got another refresh token", i)
		}
		if _, err := a.verifier.Verify(ctx, results[i].AccessToken); err != nil {
			t.Fatalf("refresh %d: access token: %v", i, err)
		}
	}
	e.clock.Advance(10 * time.Second)
	again, err := b.sessions.Refresh(ctx, issued.RefreshToken)
	if err != nil || again.RefreshToken != results[0].RefreshToken ||
		again.RefreshExpiresAt.Sub(results[0].RefreshExpiresAt).Abs() > time.Millisecond { // Postgres keeps microseconds
		t.Fatalf("a retry 10 s later: %v (same token: %v)", err, again.RefreshToken == results[0].RefreshToken)
	}

	// The successor works, and after that the first token is a reuse.
	third, err := a.sessions.Refresh(ctx, results[0].RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := a.verifier.Verify(ctx, third.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.sessions.Refresh(ctx, issued.RefreshToken)
	wantKind(t, "the first token once its successor was used", err, apperr.ErrUnauthenticated)
	if gone, err := e.revocations().SessionRevoked(ctx, claims.SessionID); err != nil || !gone {
		t.Fatalf("a reuse after the successor was used should end the session: %v, %v", gone, err)
	}
}

func TestRefreshRetriedAfterTheWindowEndsTheSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.mustReplica(e.withRetries)
	ctx := t.Context()
	issued, err := r.sessions.Issue(ctx, e.user(r, "owner@x.example"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := r.sessions.Refresh(ctx, issued.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(31 * time.Second)
	_, err = r.sessions.Refresh(ctx, issued.RefreshToken)
	wantKind(t, "the first token after the window", err, apperr.ErrUnauthenticated)
	_, err = r.sessions.Refresh(ctx, next.RefreshToken)
	wantKind(t, "the successor after a reuse", err, apperr.ErrUnauthenticated)

	// A made-up token is refused before anything is claimed in Redis.
	_, err = r.sessions.Refresh(ctx, sessions.RefreshTokenPrefix+"made-up")
	wantKind(t, "a made-up token", err, apperr.ErrUnauthenticated)
	if keys, err := e.redis().Keys(ctx, sessions.SuccessorKeys(e.prefix).Pattern()).Result(); err != nil || len(keys) != 2 {
		t.Fatalf("successor claims %v (%v), want the two real refreshes' only", keys, err)
	}
}
