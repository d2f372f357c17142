package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/tandemhq/tandem/gateway/internal/rest"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// fakeIdentity records what the routes ask identity.
type fakeIdentity struct {
	identityv1.IdentityServiceClient
	mu       sync.Mutex
	begin    *identityv1.BeginAuthorizationRequest
	complete *identityv1.CompleteAuthorizationRequest
	exchange *identityv1.ExchangeLoginCodeRequest
}

func (f *fakeIdentity) BeginAuthorization(_ context.Context, in *identityv1.BeginAuthorizationRequest, _ ...grpc.CallOption) (*identityv1.BeginAuthorizationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.begin = in
	return &identityv1.BeginAuthorizationResponse{RedirectUrl: "https://login.example/authorize"}, nil
}

func (f *fakeIdentity) CompleteAuthorization(_ context.Context, in *identityv1.CompleteAuthorizationRequest, _ ...grpc.CallOption) (*identityv1.CompleteAuthorizationResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.complete = in
	return &identityv1.CompleteAuthorizationResponse{RedirectUrl: "https://app.example/auth/complete?code=c"}, nil
}

func (f *fakeIdentity) ExchangeLoginCode(_ context.Context, in *identityv1.ExchangeLoginCodeRequest, _ ...grpc.CallOption) (*identityv1.ExchangeLoginCodeResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exchange = in
	return &identityv1.ExchangeLoginCodeResponse{Outcome: "signed_in", Message: "Signed in."}, nil
}

const testToken = "a-service-token-of-at-least-32-characters"

func serve(t *testing.T, publicURL string) (*httptest.Server, *fakeIdentity) {
	t.Helper()
	id := &fakeIdentity{}
	g, err := rest.New(t.Context(), rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	(&Routes{Identity: id, Binding: NewBinding(testToken, publicURL)}).Register(g)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv, id
}

// reply is a response read whole, its body closed.
type reply struct {
	StatusCode int
	Header     http.Header
	Body       []byte
	cookies    []*http.Cookie
}

func (r reply) Cookies() []*http.Cookie { return r.cookies }

// get sends a request carrying cookies and does not follow redirects.
func get(t *testing.T, url string, cookies ...*http.Cookie) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{StatusCode: resp.StatusCode, Header: resp.Header, Body: body, cookies: resp.Cookies()}
}

func hash(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

func setCookie(t *testing.T, resp reply) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if strings.Contains(c.Name, "tandem_oauth_binding") {
			return c
		}
	}
	t.Fatalf("no binding cookie set: %v", resp.Header)
	return nil
}

func TestBindingCookieOverHTTPS(t *testing.T) {
	srv, id := serve(t, "https://tandem.example")
	resp := get(t, srv.URL+"/oauth/microsoft/start?flow=sign_in")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	c := setCookie(t, resp)
	if c.Name != "__Host-tandem_oauth_binding" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie: %+v", c)
	}
	if string(id.begin.GetBrowserBindingHash()) != string(hash(c.Value)) {
		t.Fatal("the flow is not bound to the cookie's value")
	}
	// The plain name is not read where the public URL is HTTPS.
	get(t, srv.URL+"/oauth/microsoft/callback?state=s&code=x", &http.Cookie{Name: "tandem_oauth_binding", Value: c.Value})
	if id.complete.GetBrowserBindingHash() != nil {
		t.Fatal("a cookie without the __Host- prefix was read")
	}
	get(t, srv.URL+"/oauth/microsoft/callback?state=s&code=x", c)
	if string(id.complete.GetBrowserBindingHash()) != string(hash(c.Value)) {
		t.Fatal("the callback did not pass the binding")
	}
}

func TestBindingCookieInDevelopmentOverHTTP(t *testing.T) {
	srv, _ := serve(t, "http://localhost:8080")
	c := setCookie(t, get(t, srv.URL+"/oauth/microsoft/start?flow=sign_in"))
	if c.Name != "tandem_oauth_binding" || c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("cookie: %+v", c)
	}
}

// An attacker who can plant a cookie (a sibling subdomain, plain HTTP)
// must not get a flow bound to a value of their choosing (login CSRF).
func TestPlantedBindingIsNotAdopted(t *testing.T) {
	srv, id := serve(t, "http://localhost:8080")
	planted := &http.Cookie{Name: "tandem_oauth_binding", Value: strings.Repeat("A", 43)}
	c := setCookie(t, get(t, srv.URL+"/oauth/microsoft/start?flow=sign_in", planted))
	if c.Value == planted.Value || string(id.begin.GetBrowserBindingHash()) == string(hash(planted.Value)) {
		t.Fatal("start adopted a planted binding")
	}
	// Nor one signed with another key, nor its own with the signature cut.
	other := setCookie(t, get(t, mustServe(t, "http://localhost:8080", "another-service-token-of-32-characters")+"/oauth/microsoft/start?flow=sign_in"))
	for _, v := range []string{other.Value, c.Value[:strings.IndexByte(c.Value, '.')]} {
		get(t, srv.URL+"/oauth/microsoft/start?flow=sign_in", &http.Cookie{Name: c.Name, Value: v})
		if string(id.begin.GetBrowserBindingHash()) == string(hash(v)) {
			t.Fatalf("start adopted %q", v)
		}
		get(t, srv.URL+"/oauth/microsoft/callback?state=s&code=x", &http.Cookie{Name: c.Name, Value: v})
		if id.complete.GetBrowserBindingHash() != nil {
			t.Fatalf("the callback passed on %q", v)
		}
	}
	// Its own cookie is kept, so flows in two tabs both complete.
	again := get(t, srv.URL+"/oauth/microsoft/start?flow=sign_in", c)
	if string(id.begin.GetBrowserBindingHash()) != string(hash(c.Value)) || setCookie(t, again).Value != c.Value {
		t.Fatal("start did not keep the browser's own binding")
	}
}

func mustServe(t *testing.T, publicURL, token string) string {
	t.Helper()
	g, err := rest.New(t.Context(), rest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	(&Routes{Identity: &fakeIdentity{}, Binding: NewBinding(token, publicURL)}).Register(g)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStartPassesTheFrontendsCodeChallenge(t *testing.T) {
	srv, id := serve(t, "http://localhost:8080")
	challenge := hash("the frontend's verifier")
	enc := base64.RawURLEncoding.EncodeToString(challenge)
	if resp := get(t, srv.URL+"/oauth/microsoft/start?flow=sign_in&code_challenge_method=S256&code_challenge="+enc); resp.StatusCode != http.StatusFound {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	if string(id.begin.GetLoginCodeChallenge()) != string(challenge) {
		t.Fatal("the code challenge was not passed on")
	}
	for _, c := range []struct{ query, field string }{
		{"code_challenge=" + enc, "code_challenge_method"},
		{"code_challenge_method=plain&code_challenge=" + enc, "code_challenge_method"},
		{"code_challenge_method=S256&code_challenge=short", "code_challenge"},
		{"code_challenge_method=S256", "code_challenge"},
	} {
		resp := get(t, srv.URL+"/oauth/microsoft/start?flow=sign_in&"+c.query)
		body := resp.Body
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"`+c.field+`"`) {
			t.Errorf("%s: %d %s", c.query, resp.StatusCode, body)
		}
	}
}

func TestCompletePageProvesTheBrowserWithItsCookie(t *testing.T) {
	srv, id := serve(t, "http://localhost:8080")
	c := setCookie(t, get(t, srv.URL+"/oauth/microsoft/start?flow=sign_in"))
	if resp := get(t, srv.URL+"/app/auth/complete?code=c1", c); resp.StatusCode != http.StatusOK {
		t.Fatalf("complete: %d", resp.StatusCode)
	}
	if id.exchange.GetCode() != "c1" || id.exchange.GetCodeVerifier() != c.Value {
		t.Fatalf("exchange: %v", id.exchange)
	}
	// Another browser, holding only the URL, has nothing to prove it with.
	get(t, srv.URL+"/app/auth/complete?code=c1")
	if id.exchange.GetCodeVerifier() != "" {
		t.Fatalf("exchange without a cookie: %v", id.exchange)
	}
}

func TestBindingValuesExpire(t *testing.T) {
	b := NewBinding(testToken, "https://tandem.example")
	issued := time.Now()
	b.now = func() time.Time { return issued }
	v := b.issue()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(b.cookie(v))
	for _, c := range []struct {
		after  time.Duration
		maxAge time.Duration
		want   bool
	}{
		{0, bindingTTL, true},
		{bindingReuse + time.Second, bindingReuse, false}, // too old to start another flow with
		{bindingReuse + time.Second, bindingTTL, true},    // still good to finish one
		{bindingTTL + time.Second, bindingTTL, false},
	} {
		b.now = func() time.Time { return issued.Add(c.after) }
		if got, ok := b.value(req, c.maxAge); ok != c.want || (ok && got != v) {
			t.Errorf("after %v (max %v): %q %v, want %v", c.after, c.maxAge, got, ok, c.want)
		}
	}
}

func TestLeverRoutes(t *testing.T) {
	srv, id := serve(t, "https://tandem.example")
	// The Lever start takes ConnectLever's ticket only.
	for _, q := range []string{"", "?flow=sign_in", "?ticket=t&flow=sign_in"} {
		if resp := get(t, srv.URL+"/oauth/lever/start"+q); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("lever start %q: %d", q, resp.StatusCode)
		}
	}
	if id.begin != nil {
		t.Fatal("a refused Lever start reached identity")
	}
	resp := get(t, srv.URL+"/oauth/lever/start?ticket=t")
	if resp.StatusCode != http.StatusFound || id.begin.GetTicket() != "t" || id.begin.GetFlow() != "" {
		t.Fatalf("lever start: %d %v", resp.StatusCode, id.begin)
	}
	cookie := setCookie(t, resp)
	// Lever's callback is its own: identity is told which, with the
	// browser's binding.
	resp = get(t, srv.URL+"/oauth/lever/callback?state=s&code=c", cookie)
	if resp.StatusCode != http.StatusFound || id.complete.GetCallback() != "lever" || id.complete.GetState() != "s" ||
		id.complete.GetCode() != "c" || string(id.complete.GetBrowserBindingHash()) != string(hash(cookie.Value)) {
		t.Fatalf("lever callback: %d %v", resp.StatusCode, id.complete)
	}
}
