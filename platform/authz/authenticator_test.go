package authz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/logging/logtest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/redis/go-redis/v9"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/grpcserver"
)

const (
	mPublic   = testpb.TestService_EmptyCall_FullMethodName
	mRoles    = testpb.TestService_UnaryCall_FullMethodName
	mInternal = testpb.TestService_CacheableUnaryCall_FullMethodName
	mAnyone   = testpb.TestService_StreamingOutputCall_FullMethodName
	mNoRule   = testpb.TestService_UnimplementedCall_FullMethodName
)

var testPolicy = Policy{
	mPublic:   Public(),
	mRoles:    Roles(RoleAdmin, RoleRecruiter),
	mInternal: Internal(),
	mAnyone:   AnyMember(),
	// mNoRule deliberately has none.
}

// fakeAPITokens is identity's side of API tokens: it stores hashes only.
type fakeAPITokens struct {
	mu     sync.Mutex
	byHash map[string]Principal
	down   bool
}

func (f *fakeAPITokens) issue(p Principal) string {
	tok, hash := NewAPIToken()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byHash == nil {
		f.byHash = map[string]Principal{}
	}
	f.byHash[string(hash)] = p
	return tok
}

func (f *fakeAPITokens) ResolveAPIToken(_ context.Context, token string) (Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return Principal{}, errors.New("identity: connection refused")
	}
	p, ok := f.byHash[string(HashAPIToken(token))]
	if !ok {
		return Principal{}, fmt.Errorf("identity: %w", ErrAPITokenInvalid)
	}
	return p, nil
}

type revocationFunc func(ctx context.Context, sid string) (bool, error)

func (f revocationFunc) SessionRevoked(ctx context.Context, sid string) (bool, error) {
	return f(ctx, sid)
}

var notRevoked = revocationFunc(func(context.Context, string) (bool, error) { return false, nil })

// world is one identity key, its tokens, and an Authenticator trusting them.
type world struct {
	signer *Signer
	auth   *Authenticator
	api    *fakeAPITokens
	logs   *logtest.Buffer
	now    time.Time
}

func newWorld(t testing.TB, revocations RevocationChecker) *world {
	t.Helper()
	k := newKey(t, "k1")
	logs := &logtest.Buffer{}
	api := &fakeAPITokens{}
	return &world{
		signer: newSigner(t, k),
		api:    api,
		logs:   logs,
		now:    t0,
		auth: &Authenticator{
			Policy:      testPolicy,
			Sessions:    NewVerifier(StaticKeys{"k1": k.Public()}, VerifierOptions{Now: fixedClock(t0)}),
			Revocations: revocations,
			APITokens:   api,
			Services:    ServiceTokens{Current: secretB, Previous: secretA},
			Log:         slog.New(slog.NewJSONHandler(logs, nil)),
		},
	}
}

func (w *world) session(t testing.TB, role Role, sid string) string {
	t.Helper()
	tok, err := w.signer.Sign(SessionClaims{UserID: "usr_" + string(role), OrgID: "org_acme", Role: role, SessionID: sid}, 10*time.Minute, w.now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// secretParts are the pieces of a credential that must never be echoed.
func secretParts(cred string) []string {
	var parts []string
	for _, p := range strings.FieldsFunc(cred, func(r rune) bool { return r == '.' || r == ' ' }) {
		if len(p) >= 8 {
			parts = append(parts, p)
		}
	}
	return parts
}

func assertNotLeaked(t *testing.T, where, text string, creds ...string) {
	t.Helper()
	for _, c := range creds {
		for _, p := range secretParts(c) {
			if strings.Contains(text, p) {
				t.Fatalf("%s holds a credential: %s", where, text)
			}
		}
	}
}

func incoming(pairs ...string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(pairs...))
}

func TestAuthenticateUnit(t *testing.T) {
	w := newWorld(t, notRevoked)
	recruiter := w.session(t, RoleRecruiter, "ses_r")
	apiAdmin := w.api.issue(Principal{Kind: KindAPIToken, OrgID: "org_acme", TokenID: "tok_1", Role: RoleAdmin})
	cases := []struct {
		name   string
		method string
		md     []string
		kind   apperr.Kind // expected error kind; -1 for success
		want   Principal
	}{
		{"public, nothing", mPublic, nil, -1, Principal{}},
		{"public ignores garbage", mPublic, []string{"authorization", "Bearer garbage"}, -1, Principal{}},
		{"no rule", mNoRule, []string{"authorization", "Bearer " + recruiter}, apperr.KindPermissionDenied, Principal{}},
		{"no credentials", mRoles, nil, apperr.KindUnauthenticated, Principal{}},
		{"session", mRoles, []string{"authorization", "Bearer " + recruiter}, -1,
			Principal{Kind: KindUser, OrgID: "org_acme", UserID: "usr_recruiter", SessionID: "ses_r", Role: RoleRecruiter}},
		{"scheme is case-insensitive", mRoles, []string{"authorization", "bearer " + recruiter}, -1,
			Principal{Kind: KindUser, OrgID: "org_acme", UserID: "usr_recruiter", SessionID: "ses_r", Role: RoleRecruiter}},
		{"basic", mRoles, []string{"authorization", "Basic dXNlcjpwYXNz"}, apperr.KindUnauthenticated, Principal{}},
		{"bearer without token", mRoles, []string{"authorization", "Bearer "}, apperr.KindUnauthenticated, Principal{}},
		{"two bearers", mRoles, []string{"authorization", "Bearer " + recruiter, "authorization", "Bearer " + recruiter}, apperr.KindUnauthenticated, Principal{}},
		{"bearer and service", mRoles, []string{"authorization", "Bearer " + recruiter, ServiceTokenMetadata, secretB, ServiceNameMetadata, "outreach"}, apperr.KindUnauthenticated, Principal{}},
		{"api token", mRoles, []string{"authorization", "Bearer " + apiAdmin}, -1,
			Principal{Kind: KindAPIToken, OrgID: "org_acme", TokenID: "tok_1", Role: RoleAdmin}},
		{"service", mInternal, []string{ServiceTokenMetadata, secretB, ServiceNameMetadata, "outreach"}, -1,
			Principal{Kind: KindService, Service: "outreach"}},
		{"service, previous secret", mInternal, []string{ServiceTokenMetadata, secretA, ServiceNameMetadata, "mailbox"}, -1,
			Principal{Kind: KindService, Service: "mailbox"}},
		{"service without name", mInternal, []string{ServiceTokenMetadata, secretB}, apperr.KindUnauthenticated, Principal{}},
		{"service with two names", mInternal, []string{ServiceTokenMetadata, secretB, ServiceNameMetadata, "a", ServiceNameMetadata, "b"}, apperr.KindUnauthenticated, Principal{}},
		{"service, bad name", mInternal, []string{ServiceTokenMetadata, secretB, ServiceNameMetadata, "Out\nreach"}, apperr.KindUnauthenticated, Principal{}},
		{"service, wrong secret", mInternal, []string{ServiceTokenMetadata, "x" + secretB, ServiceNameMetadata, "outreach"}, apperr.KindUnauthenticated, Principal{}},
		{"user on internal", mInternal, []string{"authorization", "Bearer " + w.session(t, RoleSuperAdmin, "ses_s")}, apperr.KindPermissionDenied, Principal{}},
		{"service on roles", mRoles, []string{ServiceTokenMetadata, secretB, ServiceNameMetadata, "outreach"}, apperr.KindPermissionDenied, Principal{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, err := w.auth.Authenticate(incoming(tc.md...), tc.method)
			if tc.kind == -1 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				got, ok := FromContext(ctx)
				if tc.want == (Principal{}) {
					if ok {
						t.Fatalf("public method got a principal %+v", got)
					}
					return
				}
				if !ok || got != tc.want {
					t.Fatalf("principal = %+v, want %+v", got, tc.want)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Kind != tc.kind {
				t.Fatalf("err = %v, want kind %v", err, tc.kind)
			}
			if _, ok := FromContext(ctx); ok {
				t.Fatal("a refused call carries a principal")
			}
			assertNotLeaked(t, "error", err.Error(), tc.md...)
		})
	}
	assertNotLeaked(t, "log", w.logs.String(), recruiter, apiAdmin, secretA, secretB)
	if !strings.Contains(w.logs.String(), "credentials refused") {
		t.Fatal("refusals are not logged")
	}
}

func TestAuthenticateKindsNotAccepted(t *testing.T) {
	w := newWorld(t, notRevoked)
	session := w.session(t, RoleAdmin, "ses_1")
	api := w.api.issue(Principal{Kind: KindAPIToken, OrgID: "org_acme", TokenID: "tok_1", Role: RoleAdmin})
	only := &Authenticator{Policy: testPolicy} // accepts nobody
	for name, md := range map[string][]string{
		"session": {"authorization", "Bearer " + session},
		"api":     {"authorization", "Bearer " + api},
		// The dangerous case: an empty secret must not match an empty token.
		"service, empty token": {ServiceTokenMetadata, "", ServiceNameMetadata, "outreach"},
	} {
		_, err := only.Authenticate(incoming(md...), mInternal)
		if !errors.Is(err, apperr.ErrUnauthenticated) {
			t.Errorf("%s: err = %v, want Unauthenticated", name, err)
		}
	}
}

func TestAuthenticateFailsClosed(t *testing.T) {
	t.Run("sessions without a revocation checker", func(t *testing.T) {
		w := newWorld(t, nil)
		_, err := w.auth.Authenticate(incoming("authorization", "Bearer "+w.session(t, RoleAdmin, "s")), mRoles)
		var ae *apperr.Error
		if err == nil || errors.As(err, &ae) {
			t.Fatalf("err = %v, want a plain (Internal) error", err)
		}
	})
	t.Run("revocation store down", func(t *testing.T) {
		down := errors.New("redis: connection refused")
		w := newWorld(t, revocationFunc(func(context.Context, string) (bool, error) { return false, down }))
		_, err := w.auth.Authenticate(incoming("authorization", "Bearer "+w.session(t, RoleAdmin, "s")), mRoles)
		if !errors.Is(err, apperr.ErrUnavailable) || !errors.Is(err, down) {
			t.Fatalf("err = %v, want Unavailable", err)
		}
	})
	t.Run("API token resolver down", func(t *testing.T) {
		w := newWorld(t, notRevoked)
		tok := w.api.issue(Principal{Kind: KindAPIToken, OrgID: "org_acme", TokenID: "tok_1", Role: RoleAdmin})
		w.api.down = true
		_, err := w.auth.Authenticate(incoming("authorization", "Bearer "+tok), mRoles)
		if !errors.Is(err, apperr.ErrUnavailable) {
			t.Fatalf("err = %v, want Unavailable", err)
		}
	})
	t.Run("resolver returns an incomplete principal", func(t *testing.T) {
		w := newWorld(t, notRevoked)
		for _, p := range []Principal{
			{Kind: KindUser, OrgID: "org_acme", TokenID: "tok_1", Role: RoleAdmin},
			{Kind: KindAPIToken, TokenID: "tok_1", Role: RoleAdmin},
			{Kind: KindAPIToken, OrgID: "org_acme", Role: RoleAdmin},
			{Kind: KindAPIToken, OrgID: "org_acme", TokenID: "tok_1", Role: "owner"},
		} {
			tok := w.api.issue(p)
			ctx, err := w.auth.Authenticate(incoming("authorization", "Bearer "+tok), mRoles)
			if err == nil {
				t.Fatalf("accepted %+v", p)
			}
			if _, ok := FromContext(ctx); ok {
				t.Fatal("principal set")
			}
		}
	})
}

// e2e is the Authenticator inside a real gRPC server built by grpcserver.
type e2e struct {
	*world
	client     testpb.TestServiceClient
	serverLogs *logtest.Buffer
	revoke     func(sid string)
}

type whoami struct {
	testpb.UnimplementedTestServiceServer
}

func describe(ctx context.Context) string {
	p, err := Caller(ctx)
	if err != nil {
		return "anonymous"
	}
	who := p.UserID
	switch p.Kind {
	case KindService:
		who = p.Service
	case KindAPIToken:
		who = p.TokenID
	}
	return strings.Join([]string{p.Kind.String(), who, p.OrgID, string(p.Role)}, "/")
}

func (whoami) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	if _, ok := FromContext(ctx); ok {
		return nil, errors.New("public method got a principal")
	}
	return &testpb.Empty{}, nil
}

func (whoami) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Username: describe(ctx)}, nil
}

func (whoami) CacheableUnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Username: describe(ctx)}, nil
}

func (whoami) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, s testpb.TestService_StreamingOutputCallServer) error {
	return s.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(describe(s.Context()))}})
}

func startE2E(t *testing.T) *e2e {
	t.Helper()
	rdb := newRedis(t)
	revocations := RedisRevocations{Client: rdb, Prefix: testPrefix(t, rdb)}
	w := newWorld(t, revocations)
	serverLogs := &logtest.Buffer{}
	srv := grpcserver.New(grpcserver.Options{Auth: w.auth, Logger: slog.New(slog.NewJSONHandler(serverLogs, nil))})
	testpb.RegisterTestServiceServer(srv.GRPC(), whoami{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		_ = conn.Close()
	})
	return &e2e{
		world: w, client: testpb.NewTestServiceClient(conn), serverLogs: serverLogs,
		revoke: func(sid string) {
			if err := revocations.Revoke(t.Context(), sid, time.Now().Add(10*time.Minute)); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// cred is how a test call presents itself.
type cred struct {
	bearer  string
	service *ServiceCredentials
}

func (c cred) apply(ctx context.Context) (context.Context, []grpc.CallOption) {
	var opts []grpc.CallOption
	if c.bearer != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.bearer)
	}
	if c.service != nil {
		opts = append(opts, grpc.PerRPCCredentials(*c.service))
	}
	return ctx, opts
}

func (c cred) secrets() []string {
	s := []string{c.bearer}
	if c.service != nil {
		s = append(s, c.service.Token.Value())
	}
	return s
}

func TestAuthenticatorEndToEnd(t *testing.T) {
	h := startE2E(t)
	recruiter := h.session(t, RoleRecruiter, "ses_rec")
	member := h.session(t, RoleMember, "ses_mem")
	superAdmin := h.session(t, RoleSuperAdmin, "ses_sa")
	revoked := h.session(t, RoleAdmin, "ses_gone")
	h.revoke("ses_gone")
	expired := func() string {
		tok, err := h.signer.Sign(alice, time.Minute, t0.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	apiAdmin := h.api.issue(Principal{Kind: KindAPIToken, OrgID: "org_acme", TokenID: "tok_1", Role: RoleAdmin})
	apiMember := h.api.issue(Principal{Kind: KindAPIToken, OrgID: "org_acme", TokenID: "tok_2", Role: RoleMember})
	unknownAPI, _ := NewAPIToken()
	outreach := &ServiceCredentials{Name: "outreach", Token: secretB}
	rotatedOut := &ServiceCredentials{Name: "outreach", Token: secretA}
	forger := &ServiceCredentials{Name: "outreach", Token: "not-the-secret-0123456789abcdef0123"}

	cases := []struct {
		name   string
		method string
		cred   cred
		code   codes.Code
		who    string // the caller the handler saw, on success
		msg    string // the status message, on failure
	}{
		{"public without credentials", mPublic, cred{}, codes.OK, "", ""},
		{"public ignores a bad token", mPublic, cred{bearer: "garbage"}, codes.OK, "", ""},
		{"public ignores an expired token", mPublic, cred{bearer: expired}, codes.OK, "", ""},
		{"roles: missing metadata", mRoles, cred{}, codes.Unauthenticated, "", "authentication required"},
		{"roles: recruiter", mRoles, cred{bearer: recruiter}, codes.OK, "user/usr_recruiter/org_acme/recruiter", ""},
		{"roles: member refused", mRoles, cred{bearer: member}, codes.PermissionDenied, "", "requires role admin or recruiter"},
		{"roles: super admin is not implied", mRoles, cred{bearer: superAdmin}, codes.PermissionDenied, "", "requires role admin or recruiter"},
		{"roles: API token", mRoles, cred{bearer: apiAdmin}, codes.OK, "api_token/tok_1/org_acme/admin", ""},
		{"roles: API token with a low role", mRoles, cred{bearer: apiMember}, codes.PermissionDenied, "", "requires role admin or recruiter"},
		{"roles: unknown API token", mRoles, cred{bearer: unknownAPI}, codes.Unauthenticated, "", UnauthenticatedMessage},
		{"roles: malformed API token", mRoles, cred{bearer: "tdm_short"}, codes.Unauthenticated, "", UnauthenticatedMessage},
		{"roles: expired session", mRoles, cred{bearer: expired}, codes.Unauthenticated, "", UnauthenticatedMessage},
		{"roles: revoked session", mRoles, cred{bearer: revoked}, codes.Unauthenticated, "", UnauthenticatedMessage},
		{"roles: garbage", mRoles, cred{bearer: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}, codes.Unauthenticated, "", UnauthenticatedMessage},
		{"roles: service refused", mRoles, cred{service: outreach}, codes.PermissionDenied, "", "method not available to services"},
		{"roles: service and bearer", mRoles, cred{bearer: recruiter, service: outreach}, codes.Unauthenticated, "", UnauthenticatedMessage},
		{"internal: service", mInternal, cred{service: outreach}, codes.OK, "service/outreach//", ""},
		{"internal: previous secret", mInternal, cred{service: rotatedOut}, codes.OK, "service/outreach//", ""},
		{"internal: wrong secret", mInternal, cred{service: forger}, codes.Unauthenticated, "", UnauthenticatedMessage},
		{"internal: user refused", mInternal, cred{bearer: superAdmin}, codes.PermissionDenied, "", "internal method"},
		{"internal: API token refused", mInternal, cred{bearer: apiAdmin}, codes.PermissionDenied, "", "internal method"},
		{"internal: missing metadata", mInternal, cred{}, codes.Unauthenticated, "", "authentication required"},
		{"no rule: denied even to a super admin", mNoRule, cred{bearer: superAdmin}, codes.PermissionDenied, "", "method not allowed"},
		{"no rule: denied even to a service", mNoRule, cred{service: outreach}, codes.PermissionDenied, "", "method not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			ctx, opts := tc.cred.apply(ctx)
			var (
				who string
				err error
			)
			switch tc.method {
			case mPublic:
				_, err = h.client.EmptyCall(ctx, &testpb.Empty{}, opts...)
			case mNoRule:
				_, err = h.client.UnimplementedCall(ctx, &testpb.Empty{}, opts...)
			case mRoles:
				var resp *testpb.SimpleResponse
				if resp, err = h.client.UnaryCall(ctx, &testpb.SimpleRequest{}, opts...); err == nil {
					who = resp.GetUsername()
				}
			case mInternal:
				var resp *testpb.SimpleResponse
				if resp, err = h.client.CacheableUnaryCall(ctx, &testpb.SimpleRequest{}, opts...); err == nil {
					who = resp.GetUsername()
				}
			}
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), tc.code)
			}
			if tc.code == codes.OK {
				if who != tc.who {
					t.Fatalf("handler saw %q, want %q", who, tc.who)
				}
				return
			}
			if st.Message() != tc.msg {
				t.Fatalf("message = %q, want %q", st.Message(), tc.msg)
			}
			assertNotLeaked(t, "status", fmt.Sprint(err), tc.cred.secrets()...)
		})
	}
	for _, logs := range []string{h.serverLogs.String(), h.logs.String()} {
		assertNotLeaked(t, "log", logs, recruiter, member, superAdmin, revoked, expired, apiAdmin, apiMember, unknownAPI, secretA, secretB, forger.Token.Value())
	}
	if !strings.Contains(h.logs.String(), ErrTokenExpired.Error()) || !strings.Contains(h.logs.String(), errRevoked.Error()) {
		t.Fatalf("the log should tell why sessions were refused: %s", h.logs.String())
	}
}

func TestAuthenticatorEndToEndStreaming(t *testing.T) {
	h := startE2E(t)
	recv := func(c cred) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		ctx, opts := c.apply(ctx)
		stream, err := h.client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{}, opts...)
		if err != nil {
			return "", err
		}
		resp, err := stream.Recv()
		if err != nil {
			return "", err
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("stream did not end: %w", err)
		}
		return string(resp.GetPayload().GetBody()), nil
	}
	who, err := recv(cred{bearer: h.session(t, RoleMember, "ses_m")})
	if err != nil || who != "user/usr_member/org_acme/member" {
		t.Fatalf("member on an AnyMember stream: %q, %v", who, err)
	}
	if _, err := recv(cred{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("anonymous stream: %v, want Unauthenticated", err)
	}
	if _, err := recv(cred{service: &ServiceCredentials{Name: "outreach", Token: secretB}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("service on a roles stream: %v, want PermissionDenied", err)
	}
	h.revoke("ses_m2")
	if _, err := recv(cred{bearer: h.session(t, RoleMember, "ses_m2")}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("revoked session on a stream: %v, want Unauthenticated", err)
	}
}

func TestAuthenticatorEndToEndRedisDown(t *testing.T) {
	// A session whose revocation cannot be checked is refused as
	// Unavailable, not let through.
	rdb := redis.NewClient(&redis.Options{Addr: newRedis(t).Options().Addr})
	_ = rdb.Close()
	w := newWorld(t, RedisRevocations{Client: rdb, Prefix: "test:unused:"})
	_, err := w.auth.Authenticate(incoming("authorization", "Bearer "+w.session(t, RoleAdmin, "s")), mRoles)
	st, _ := grpcserver.ToStatus(err)
	if st.Code() != codes.Unavailable || strings.Contains(st.Message(), "redis") {
		t.Fatalf("status = %v %q, want Unavailable with a public message", st.Code(), st.Message())
	}
}
