package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tandemhq/tandem/e2e/stack"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/providersim/simbrowser"
	"github.com/tandemhq/tandem/providersim/simclient"
)

// browser is a person's browser: one cookie jar for the gateway and the
// Microsoft simulator, following redirects between them. It plays the
// frontend too: every flow it starts carries the challenge of a verifier
// it keeps, which redeems the flow's one-time code.
type browser struct {
	t  testing.TB
	s  *stack.Stack
	b  *simbrowser.Browser
	gw string // the gateway's host
	// verifier proves to the exchange that this browser started the flow.
	verifier string
	// Consents lists the scopes of every consent page shown, page by page.
	Consents [][]string
}

func newBrowser(t testing.TB, s *stack.Stack) *browser {
	t.Helper()
	b, err := simbrowser.New(s.MicrosoftURL)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.GatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, s: s, b: b, gw: u.Host, verifier: rand.Text()}
}

// withChallenge adds the frontend's code challenge to a start URL of the
// gateway's, as a frontend does when it sends the browser there.
func (br *browser) withChallenge(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host != br.gw || u.Path != "/oauth/microsoft/start" {
		return rawURL
	}
	h := sha256.Sum256([]byte(br.verifier))
	q := u.Query()
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(h[:]))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String()
}

func (br *browser) ctx() context.Context {
	ctx, cancel := context.WithTimeout(br.t.Context(), 30*time.Second)
	br.t.Cleanup(cancel)
	return ctx
}

// open loads a URL and follows the redirects through the gateway.
func (br *browser) open(rawURL string) *simbrowser.Page {
	br.t.Helper()
	p, err := br.b.Get(br.ctx(), br.withChallenge(rawURL))
	if err != nil {
		br.t.Fatalf("open %s: %v", rawURL, err)
	}
	return br.follow(p)
}

func (br *browser) follow(p *simbrowser.Page) *simbrowser.Page {
	br.t.Helper()
	for i := 0; p.Redirect != nil && p.Redirect.Host == br.gw; i++ {
		if i > 10 {
			br.t.Fatal("redirect loop through the gateway")
		}
		next, err := br.b.Get(br.ctx(), p.Redirect.String())
		if err != nil {
			br.t.Fatalf("follow %s: %v", p.Redirect, err)
		}
		p = next
	}
	return p
}

// as says how the person answers the simulator's pages.
type as struct {
	email string
	// consentForOrg ticks "Consent on behalf of your organization".
	consentForOrg bool
	// decline cancels consent pages.
	decline bool
}

// walk answers sign-in, account and consent pages until the flow leaves the
// simulator for good (the frontend) or stops on a page a person must act on.
func (br *browser) walk(p *simbrowser.Page, who as) *simbrowser.Page {
	br.t.Helper()
	for range 12 {
		p = br.follow(p)
		var err error
		switch p.Name {
		case "signin":
			p, err = br.b.Submit(br.ctx(), p, url.Values{"login": {who.email}}, "signin-submit")
		case "pick-account":
			p, err = br.b.Submit(br.ctx(), p, url.Values{"login": {who.email}}, "")
		case "consent", "admin-consent":
			br.Consents = append(br.Consents, p.Scopes())
			button, vals := "accept", url.Values{}
			if who.decline {
				button = "cancel"
			}
			if who.consentForOrg && p.Has("consent-for-org") {
				vals.Set("consent_for_org", "true")
			}
			p, err = br.b.Submit(br.ctx(), p, vals, button)
		default:
			return p
		}
		if err != nil {
			br.t.Fatalf("%s page: %v", p.Name, err)
		}
	}
	br.t.Fatalf("flow did not end; last page %q", p.Name)
	return nil
}

// signIn runs "Sign in with Microsoft" to its end.
func (br *browser) signIn(who as) *simbrowser.Page {
	br.t.Helper()
	return br.walk(br.open(br.s.GatewayURL+"/oauth/microsoft/start?flow=sign_in"), who)
}

// loginCode is the one-time code the flow handed the frontend.
func loginCode(t testing.TB, p *simbrowser.Page) string {
	t.Helper()
	if p.Redirect == nil || p.Redirect.String()[:len(stack.FrontendURL)] != stack.FrontendURL {
		t.Fatalf("flow did not end on the frontend: page %q status %d redirect %v\n%s", p.Name, p.Status, p.Redirect, p.Body)
	}
	code := p.Redirect.Query().Get("code")
	if code == "" || len(p.Redirect.Query()) != 1 {
		t.Fatalf("frontend redirect should carry only the one-time code: %s", p.Redirect)
	}
	return code
}

// testClient is the tests' HTTP client: a gateway that hangs fails the
// request instead of holding the test.
var testClient = &http.Client{Timeout: 30 * time.Second}

// api is a REST client of the gateway.
type api struct {
	t     testing.TB
	s     *stack.Stack
	token string
}

// call sends a request and decodes a 2xx answer into out; it returns the
// status and the body.
func (a api) call(method, path string, in proto.Message, out proto.Message) (int, []byte) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := protojson.Marshal(in)
		if err != nil {
			a.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(a.t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.s.GatewayURL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := testClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode/100 == 2 && out != nil {
		if err := protojson.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// must is call that fails the test unless the answer is 200.
func (a api) must(method, path string, in, out proto.Message) {
	a.t.Helper()
	if code, body := a.call(method, path, in, out); code != http.StatusOK {
		a.t.Fatalf("%s %s: %d %s", method, path, code, body)
	}
}

// exchange redeems a one-time code the way br's frontend does.
func exchange(t testing.TB, br *browser, code string) *identityv1.ExchangeLoginCodeResponse {
	t.Helper()
	out := &identityv1.ExchangeLoginCodeResponse{}
	api{t: t, s: br.s}.must("POST", "/v1/sessions:exchange", &identityv1.ExchangeLoginCodeRequest{Code: code, CodeVerifier: br.verifier}, out)
	return out
}

// signedIn signs who in and returns the exchange and an API client with the
// session.
func signedIn(t testing.TB, s *stack.Stack, br *browser, who as) (*identityv1.ExchangeLoginCodeResponse, api) {
	t.Helper()
	res := exchange(t, br, loginCode(t, br.signIn(who)))
	if res.GetOutcome() != "signed_in" || res.GetSession().GetAccessToken() == "" {
		t.Fatalf("%s: want signed_in with a session, got %v", who.email, res)
	}
	return res, api{t: t, s: s, token: res.GetSession().GetAccessToken()}
}

func sim(t testing.TB, s *stack.Stack) *simclient.Client {
	t.Helper()
	return simclient.New(s.MicrosoftURL, nil)
}

func wantError(t testing.TB, code int, body []byte, wantCode int, wantStatus string) {
	t.Helper()
	if code != wantCode || !strings.Contains(string(body), `"status":"`+wantStatus+`"`) {
		t.Fatalf("want %d %s, got %d %s", wantCode, wantStatus, code, body)
	}
}

func containsScope(scopes []string, s string) bool {
	return slices.ContainsFunc(scopes, func(x string) bool {
		return strings.EqualFold(x, s) || strings.HasSuffix(strings.ToLower(x), "/"+strings.ToLower(s))
	})
}
