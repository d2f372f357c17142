package signin_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"
	"github.com/tandemhq/tandem/services/identity/internal/lever"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// leverCodes fits the Lever token client to signin.LeverExchanger, as
// cmd/identity does.
type leverCodes struct{ c *lever.TokenClient }

func (e leverCodes) ExchangeLeverCode(ctx context.Context, code, redirectURI, verifier string) (signin.Tokens, error) {
	now := time.Now()
	t, err := e.c.ExchangeCode(ctx, code, redirectURI, verifier)
	if err != nil {
		return signin.Tokens{}, err
	}
	return signin.Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresAt: t.ExpiresAt(now), Scopes: t.Scopes}, nil
}

func leverTokenClient(t testing.TB, sim *providersim.Sim) *lever.TokenClient {
	t.Helper()
	c, err := lever.NewTokenClient(lever.TokenClientOptions{TokenURL: sim.LeverOAuthURL() + "/oauth/token",
		ClientID: providersim.DefaultLeverClientID, ClientSecret: providersim.DefaultLeverClientSecret,
		Audience: providersim.LeverAudience, HTTP: microsofttest.HTTP(logging.Discard())})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leverWalk runs Lever's pages in br's name (its binding, a cookie jar of
// its own at Lever's authorization server) until Lever sends the browser
// back to Tandem, and returns the gateway's callback request.
func (br *browser) leverWalk(authorize, email string, decline bool) signin.CompleteRequest {
	br.e.t.Helper()
	ctx := br.e.t.Context()
	b, err := simbrowser.New(br.e.sim.LeverOAuthURL())
	if err != nil {
		br.e.t.Fatal(err)
	}
	p, err := b.Get(ctx, authorize)
	for range 6 {
		if err != nil {
			br.e.t.Fatalf("Lever page: %v", err)
		}
		if p.Redirect != nil {
			break
		}
		switch p.Name {
		case "signin":
			p, err = b.Submit(ctx, p, url.Values{"login": {email}}, "signin-submit")
		case "consent":
			button := "accept"
			if decline {
				button = "cancel"
			}
			p, err = b.Submit(ctx, p, url.Values{}, button)
		case "not-super-admin":
			p, err = b.Follow(ctx, p, "return-to-app")
		default:
			br.e.t.Fatalf("unexpected Lever page %q (%s)", p.Name, p.ErrorCode)
		}
	}
	if p.Redirect == nil || !strings.HasPrefix(p.Redirect.String(), publicURL+"/oauth/lever/callback?") {
		br.e.t.Fatalf("want Lever's redirect to /oauth/lever/callback, got page %q redirect %v", p.Name, p.Redirect)
	}
	q := p.Redirect.Query()
	return signin.CompleteRequest{Callback: "lever", State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"),
		ErrorDescription: q.Get("error_description"), BindingHash: br.binding}
}

func TestLeverConnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	br := e.browser()
	me := e.signIn(br, who{email: providersim.DemoLeverSuperAdmin})

	start, err := e.flows.NewTicket(ctx, signin.FlowLever, me.OrgID, me.UserID, providersim.DemoLeverSuperAdmin)
	if err != nil || !strings.HasPrefix(start, publicURL+"/oauth/lever/start?ticket=") {
		t.Fatalf("NewTicket = %q, %v", start, err)
	}
	su, err := url.Parse(start)
	if err != nil {
		t.Fatal(err)
	}
	authorize := br.begin(signin.BeginRequest{Ticket: su.Query().Get("ticket")})
	q := mustQuery(t, authorize)
	if !strings.HasPrefix(authorize, e.sim.LeverOAuthURL()+"/authorize?") || q.Get("audience") != providersim.LeverAudience ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("redirect_uri") != publicURL+"/oauth/lever/callback" ||
		q.Get("prompt") != "consent" || !slices.Contains(strings.Fields(q.Get("scope")), "offline_access") {
		t.Fatalf("Lever's authorize URL: %s", authorize)
	}
	cb := br.leverWalk(authorize, providersim.DemoLeverSuperAdmin, false)

	// The state belongs to this browser, and to the Lever callback.
	other := e.browser()
	stolen := cb
	stolen.BindingHash = other.binding
	if _, err := e.flows.Complete(ctx, stolen); !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("a Lever callback in another browser: %v", err)
	}
	// That refusal spent the state (it is single use): start again.
	authorize = br.begin(signin.BeginRequest{Ticket: ticketOf(t, e, me)})
	cb = br.leverWalk(authorize, providersim.DemoLeverSuperAdmin, false)
	wrongCallback := cb
	wrongCallback.Callback = "authorize"
	if _, err := e.flows.Complete(ctx, wrongCallback); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Fatalf("a Lever state at Microsoft's callback: %v", err)
	}
	authorize = br.begin(signin.BeginRequest{Ticket: ticketOf(t, e, me)})
	cb = br.leverWalk(authorize, providersim.DemoLeverSuperAdmin, false)
	res := e.result(br.complete(cb))
	if res.Outcome != signin.OutcomeLeverConnected || res.ConnectionID == "" || res.OrgID != me.OrgID {
		t.Fatalf("result = %+v", res)
	}
	if _, err := e.flows.Complete(ctx, cb); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Fatalf("a replayed Lever callback: %v", err)
	}
	conn, err := e.store.OrgConnection(ctx, me.OrgID, store.ProviderLever)
	if err != nil || conn.ID != res.ConnectionID || conn.Status != store.StatusConnected || conn.UserID != "" {
		t.Fatalf("the organization's Lever connection: %+v, %v", conn, err)
	}
	tok, ok := e.vault.get(conn.ID)
	if !ok || tok.Provider != store.ProviderLever || tok.RefreshToken == "" || tok.AccessToken == "" || !slices.Contains(tok.Scopes, "opportunities:write:admin") {
		t.Fatalf("the vault should hold Lever's tokens: %v %+v", ok, tok.Scopes)
	}

	// Connecting again keeps the one connection of the organization.
	authorize = br.begin(signin.BeginRequest{Ticket: ticketOf(t, e, me)})
	if again := e.result(br.complete(br.leverWalk(authorize, providersim.DemoLeverSuperAdmin, false))); again.ConnectionID != conn.ID {
		t.Fatalf("a reconnect made another connection: %+v", again)
	}
}

func TestLeverRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	br := e.browser()
	me := e.signIn(br, who{email: providersim.DemoLeverSuperAdmin})

	// Lever refuses a user who is not its Super Admin; the Super Admin may
	// decline. Neither records a connection.
	for name, c := range map[string]struct {
		email   string
		decline bool
	}{"team member": {providersim.DemoLeverUser, false}, "declined": {providersim.DemoLeverSuperAdmin, true}} {
		authorize := br.begin(signin.BeginRequest{Ticket: ticketOf(t, e, me)})
		res := e.result(br.complete(br.leverWalk(authorize, c.email, c.decline)))
		if res.Outcome != signin.OutcomeDeclined || res.ConnectionID != "" {
			t.Fatalf("%s: result = %+v", name, res)
		}
	}
	if _, err := e.store.OrgConnection(t.Context(), me.OrgID, store.ProviderLever); err == nil {
		t.Fatal("a refused consent recorded a connection")
	}
}

func ticketOf(t *testing.T, e *env, me signin.LoginResult) string {
	t.Helper()
	start, err := e.flows.NewTicket(t.Context(), signin.FlowLever, me.OrgID, me.UserID, "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(start)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("ticket")
}
