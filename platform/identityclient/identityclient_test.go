package identityclient

import (
	"context"
	"errors"
	"flag"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

const serviceToken = "a-service-token-of-at-least-32-characters"

// fakeIdentity answers the two internal RPCs identityclient calls, and only
// to a caller with the service token, as identity's policy requires.
type fakeIdentity struct {
	identityv1.UnimplementedIdentityServiceServer
	key authz.SigningKey

	mu       sync.Mutex
	tokens   map[string]*identityv1.AuthenticateApiTokenResponse
	ended    map[string]bool // sessions identity's record says have ended
	down     bool
	sidCalls atomic.Int64
	keyCalls atomic.Int64
	apiCalls atomic.Int64
	callers  []string
}

func (f *fakeIdentity) checkCaller(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get(authz.ServiceTokenMetadata); len(got) != 1 || got[0] != serviceToken {
		return status.Error(codes.Unauthenticated, "no service token")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.callers = append(f.callers, strings.Join(md.Get(authz.ServiceNameMetadata), ","))
	if f.down {
		return status.Error(codes.Unavailable, "identity database down: postgres://secret@db")
	}
	return nil
}

func (f *fakeIdentity) ListSigningKeys(ctx context.Context, _ *identityv1.ListSigningKeysRequest) (*identityv1.ListSigningKeysResponse, error) {
	f.keyCalls.Add(1)
	if err := f.checkCaller(ctx); err != nil {
		return nil, err
	}
	return &identityv1.ListSigningKeysResponse{Keys: []*identityv1.SigningKey{{KeyId: f.key.ID, PublicKey: f.key.Public()}}}, nil
}

func (f *fakeIdentity) AuthenticateApiToken(ctx context.Context, req *identityv1.AuthenticateApiTokenRequest) (*identityv1.AuthenticateApiTokenResponse, error) {
	f.apiCalls.Add(1)
	if err := f.checkCaller(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp, ok := f.tokens[req.GetToken()]
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "invalid or revoked API token")
	}
	return resp, nil
}

func (f *fakeIdentity) CheckSession(ctx context.Context, req *identityv1.CheckSessionRequest) (*identityv1.CheckSessionResponse, error) {
	f.sidCalls.Add(1)
	if err := f.checkCaller(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &identityv1.CheckSessionResponse{Revoked: f.ended[req.GetSessionId()]}, nil
}

func (f *fakeIdentity) endSession(sid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended[sid] = true
}

func (f *fakeIdentity) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeIdentity) grant(token string, resp *identityv1.AuthenticateApiTokenResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = resp
}

func (f *fakeIdentity) revoke(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, token)
}

func startIdentity(t *testing.T) (*fakeIdentity, string) {
	t.Helper()
	key, err := authz.NewSigningKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIdentity{key: key, tokens: map[string]*identityv1.AuthenticateApiTokenResponse{}, ended: map[string]bool{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	identityv1.RegisterIdentityServiceServer(srv, f)
	go func() {
		if err := srv.Serve(lis); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(srv.Stop)
	return f, lis.Addr().String()
}

func dial(t *testing.T, addr string, ttl time.Duration) *Client {
	t.Helper()
	c, err := Dial(Config{Addr: addr, ServiceTokens: config.ServiceTokens{Current: serviceToken}, APITokenTTL: ttl}, "outreach")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// incoming is a call's context as the server sees it, with the caller's
// metadata.
func incoming(kv ...string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(kv...))
}

const (
	mUser     = "/tandem.outreach.v1.OutreachService/ListFlows"
	mInternal = "/tandem.outreach.v1.OutreachService/Enroll"
)

var policy = authz.Policy{
	mUser:     authz.AtLeast(authz.RoleRecruiter),
	mInternal: authz.Internal(),
}

func TestAuthenticatorWithIdentity(t *testing.T) {
	t.Parallel()
	fake, addr := startIdentity(t)
	c := dial(t, addr, time.Minute)
	rdb := pgtest.NewRedis(t)
	prefix := pgtest.RedisPrefixCleaned(t, rdb)
	auth := c.Authenticator(policy, rdb, prefix, logging.Discard())

	// A session token signed by identity's key: verified here without a
	// call per request, after one key fetch.
	signer, err := authz.NewSigner(fake.key)
	if err != nil {
		t.Fatal(err)
	}
	claims := authz.SessionClaims{UserID: "u1", OrgID: "o1", Role: authz.RoleRecruiter, SessionID: "s1"}
	tok, err := signer.Sign(claims, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ctx, err := auth.Authenticate(incoming("authorization", "Bearer "+tok), mUser)
		if err != nil {
			t.Fatalf("a session token: %v", err)
		}
		if p, _ := authz.FromContext(ctx); p.Kind != authz.KindUser || p.OrgID != "o1" || p.UserID != "u1" {
			t.Fatalf("principal %+v", p)
		}
	}
	if n := fake.keyCalls.Load(); n != 1 {
		t.Errorf("three calls fetched the keys %d times, want once", n)
	}
	fake.mu.Lock()
	if len(fake.callers) == 0 || fake.callers[0] != "outreach" {
		t.Errorf("identity saw callers %v, want the service's name", fake.callers)
	}
	fake.mu.Unlock()

	// Signed out at identity (a revocation in the shared Redis): refused.
	if err := (authz.RedisRevocations{Client: rdb, Prefix: prefix}).Revoke(t.Context(), "s1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+tok), mUser); kind(err) != apperr.KindUnauthenticated {
		t.Errorf("a signed-out session: %v, want Unauthenticated", err)
	}

	// A token of another key is refused.
	other, err := authz.NewSigningKey("k2")
	if err != nil {
		t.Fatal(err)
	}
	otherSigner, err := authz.NewSigner(other)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := otherSigner.Sign(claims, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+forged), mUser); kind(err) != apperr.KindUnauthenticated {
		t.Errorf("a token of an unknown key: %v, want Unauthenticated", err)
	}

	// Another service with the shared token reaches internal methods; a
	// user does not.
	if _, err := auth.Authenticate(incoming(authz.ServiceTokenMetadata, serviceToken, authz.ServiceNameMetadata, "mailbox"), mInternal); err != nil {
		t.Errorf("a service on an internal method: %v", err)
	}
	if _, err := auth.Authenticate(incoming(authz.ServiceTokenMetadata, "wrong-token-wrong-token-wrong-token", authz.ServiceNameMetadata, "mailbox"), mInternal); kind(err) != apperr.KindUnauthenticated {
		t.Errorf("a wrong service token: %v, want Unauthenticated", err)
	}
	user2, err := signer.Sign(authz.SessionClaims{UserID: "u2", OrgID: "o1", Role: authz.RoleSuperAdmin, SessionID: "s2"}, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+user2), mInternal); kind(err) != apperr.KindPermissionDenied {
		t.Errorf("a user on an internal method: %v, want PermissionDenied", err)
	}
}

// While the revocation set in Redis is not known to be complete (identity
// has not written its marker, or Redis lost it), a session is checked with
// identity's record, and an ended one stays refused (issue 16, item 1).
func TestAuthenticatorAsksIdentityWhileRedisCannotSay(t *testing.T) {
	t.Parallel()
	fake, addr := startIdentity(t)
	c := dial(t, addr, time.Minute)
	rdb := pgtest.NewRedis(t)
	prefix := pgtest.RedisPrefixCleaned(t, rdb)
	auth := c.Authenticator(policy, rdb, prefix, logging.Discard())
	signer, err := authz.NewSigner(fake.key)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(sid string) string {
		tok, err := signer.Sign(authz.SessionClaims{UserID: "u1", OrgID: "o1", Role: authz.RoleRecruiter, SessionID: sid}, time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ended, live := sign("s-ended"), sign("s-live")
	fake.endSession("s-ended")

	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+ended), mUser); kind(err) != apperr.KindUnauthenticated {
		t.Fatalf("a session identity ended, no revocation set: %v, want Unauthenticated", err)
	}
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+live), mUser); err != nil {
		t.Fatalf("a live session, no revocation set: %v", err)
	}
	if n := fake.sidCalls.Load(); n != 2 {
		t.Fatalf("identity was asked %d times, want 2", n)
	}

	// Once the set is complete again, Redis answers and identity is not asked.
	fast := authz.RedisRevocations{Client: rdb, Prefix: prefix}
	if err := fast.Restore(t.Context(), []authz.Revocation{{SessionID: "s-ended", Until: time.Now().Add(time.Minute)}}, "test"); err != nil {
		t.Fatal(err)
	}
	fake.sidCalls.Store(0)
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+ended), mUser); kind(err) != apperr.KindUnauthenticated {
		t.Fatalf("an ended session in a complete set: %v, want Unauthenticated", err)
	}
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+live), mUser); err != nil {
		t.Fatalf("a live session in a complete set: %v", err)
	}
	if n := fake.sidCalls.Load(); n != 0 {
		t.Fatalf("a complete set still asked identity %d times", n)
	}

	// Redis loses everything while identity is down: refused, not let in.
	if _, err := pgtest.DeleteRedisPrefix(t.Context(), rdb, prefix); err != nil {
		t.Fatal(err)
	}
	fake.setDown(true)
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+ended), mUser); kind(err) != apperr.KindUnavailable {
		t.Fatalf("no set and identity down: %v, want Unavailable", err)
	}
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	fake, addr := startIdentity(t)
	c := dial(t, addr, time.Minute)
	now := time.Now()
	c.tokens.now = func() time.Time { return now }
	auth := c.Authenticator(policy, pgtest.NewRedis(t), pgtest.RedisPrefix(t), logging.Discard())

	tok, _ := authz.NewAPIToken()
	fake.grant(tok, &identityv1.AuthenticateApiTokenResponse{OrganizationId: "o1", ApiTokenId: "t1", Role: identityv1.Role_ROLE_ADMIN, CreatedByUserId: "u9"})
	for range 3 {
		ctx, err := auth.Authenticate(incoming("authorization", "Bearer "+tok), mUser)
		if err != nil {
			t.Fatalf("an API token: %v", err)
		}
		p, _ := authz.FromContext(ctx)
		if p != (authz.Principal{Kind: authz.KindAPIToken, OrgID: "o1", TokenID: "t1", UserID: "u9", Role: authz.RoleAdmin}) {
			t.Fatalf("principal %+v", p)
		}
	}
	if n := fake.apiCalls.Load(); n != 1 {
		t.Errorf("three calls asked identity %d times, want once (then cached)", n)
	}

	// Revoked at identity: still trusted until the cache entry ends, then
	// refused.
	fake.revoke(tok)
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+tok), mUser); err != nil {
		t.Errorf("within the cache period: %v", err)
	}
	now = now.Add(time.Minute)
	if _, err := auth.Authenticate(incoming("authorization", "Bearer "+tok), mUser); kind(err) != apperr.KindUnauthenticated {
		t.Errorf("a revoked token after the cache period: %v, want Unauthenticated", err)
	}

	// Unknown tokens are not remembered: each is asked about.
	unknown, _ := authz.NewAPIToken()
	before := fake.apiCalls.Load()
	for range 2 {
		if _, err := auth.Authenticate(incoming("authorization", "Bearer "+unknown), mUser); kind(err) != apperr.KindUnauthenticated {
			t.Fatalf("an unknown token: %v", err)
		}
	}
	if n := fake.apiCalls.Load() - before; n != 2 {
		t.Errorf("two calls with an unknown token asked identity %d times, want 2", n)
	}

	// Identity down: Unavailable, and neither the token nor identity's
	// text in the error.
	fake.setDown(true)
	_, err := c.ResolveAPIToken(t.Context(), unknown)
	if err == nil || errors.Is(err, authz.ErrAPITokenInvalid) || strings.Contains(err.Error(), unknown) || strings.Contains(err.Error(), "secret") {
		t.Errorf("identity down: %v", err)
	}
	if _, err = auth.Authenticate(incoming("authorization", "Bearer "+unknown), mUser); kind(err) != apperr.KindUnavailable {
		t.Errorf("identity down through the authenticator: %v, want Unavailable", err)
	}

	// TTL 0 asks every time.
	fake.setDown(false)
	fake.grant(tok, &identityv1.AuthenticateApiTokenResponse{OrganizationId: "o1", ApiTokenId: "t1", Role: identityv1.Role_ROLE_ADMIN})
	uncached := dial(t, addr, 0)
	before = fake.apiCalls.Load()
	for range 2 {
		if _, err := uncached.ResolveAPIToken(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.apiCalls.Load() - before; n != 2 {
		t.Errorf("with no cache, two resolutions asked identity %d times", n)
	}
}

// kind is the class of an authenticator's error, -1 for none or another.
func kind(err error) apperr.Kind {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return -1
	}
	return ae.Kind
}

func TestTokenCacheStaysBounded(t *testing.T) {
	t.Parallel()
	c := newTokenCache(time.Minute, 3)
	for i := range 10 {
		c.put([32]byte{byte(i)}, authz.Principal{TokenID: "t"})
		if len(c.entries) > 3 {
			t.Fatalf("%d entries, want at most 3", len(c.entries))
		}
	}
	if _, ok := c.get([32]byte{9}); !ok {
		t.Error("the newest entry is gone")
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("svc", flag.ContinueOnError)
	var c Config
	c.Register(fs)
	if err := config.Parse(fs, nil); err != nil {
		t.Fatal(err)
	}
	var p config.Problems
	c.Validate(&p)
	if err := p.Err(); err != nil || c.Addr != DefaultAddr || c.ServiceTokens.Current.Value() != authz.DevServiceToken {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c = Config{Addr: "nope", ServiceTokens: config.ServiceTokens{Current: "short"}, APITokenTTL: time.Hour}
	p = config.Problems{}
	c.Validate(&p)
	err := p.Err()
	for _, field := range []string{"identity-addr", "service-token", "api-token-cache-ttl"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("bad config: %v, want %s named", err, field)
		}
	}
}
