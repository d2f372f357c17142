package microsoft_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"

	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
)

const adele = providersim.DemoContosoUser

type fixture struct {
	t      *testing.T
	sim    *providersim.Sim
	ctl    *simclient.Client
	client *microsoft.TokenClient
	logs   *bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sim := microsofttest.Start(t)
	logs := new(bytes.Buffer)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &fixture{
		t: t, sim: sim, ctl: sim.Client(), logs: logs,
		client: microsofttest.TokenClient(t, sim, microsofttest.HTTP(log)),
	}
}

func (f *fixture) counter(name string) int64 {
	f.t.Helper()
	n, err := f.ctl.Counter(f.t.Context(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// noSecrets fails if any of the secrets shows in s.
func noSecrets(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Fatalf("%s shows a secret: %.120q", what, s)
		}
	}
}

func grantError(t *testing.T, err error) *microsoft.GrantError {
	t.Helper()
	var ge *microsoft.GrantError
	if !errors.As(err, &ge) {
		t.Fatalf("want a *GrantError, got %v", err)
	}
	return ge
}

func TestExchangeCodeThenRefresh(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	code, verifier := microsofttest.AuthorizationCode(t, f.sim, adele, microsofttest.MailScopes)
	before := time.Now()
	tr, err := f.client.ExchangeCode(ctx, code, microsofttest.RedirectURI, verifier, microsofttest.MailScopes)
	if err != nil {
		t.Fatal(err)
	}
	if tr.AccessToken == "" || tr.RefreshToken == "" || tr.IDToken == "" || tr.TokenType != "Bearer" {
		t.Fatalf("incomplete response: access %t refresh %t id %t type %q",
			tr.AccessToken != "", tr.RefreshToken != "", tr.IDToken != "", tr.TokenType)
	}
	if tr.ExpiresIn != 3599*time.Second {
		t.Errorf("ExpiresIn = %s, want the simulator's default 3599s", tr.ExpiresIn)
	}
	if got := tr.ExpiresAt(before); !got.Equal(before.Add(3599 * time.Second)) {
		t.Errorf("ExpiresAt = %s", got)
	}
	for _, want := range []string{"Mail.Send", "Mail.ReadWrite"} {
		if !slices.Contains(tr.Scopes, want) {
			t.Errorf("scopes %q lack %s", tr.Scopes, want)
		}
	}
	secrets := []string{code, verifier, tr.AccessToken, tr.RefreshToken, tr.IDToken}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("tokens", "resp", tr, "value", *tr)
	printed := fmt.Sprintf("%v %+v %#v %s %q %x", tr, *tr, tr, tr, tr, tr) + logged.String()
	noSecrets(t, "a printed TokenResponse", printed, secrets...)

	// The refresh rotates the refresh token, and Microsoft keeps the old
	// one valid (providers.md §3.5).
	second, err := f.client.Refresh(ctx, tr.RefreshToken, microsofttest.MailScopes)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == "" || second.RefreshToken == tr.RefreshToken || second.AccessToken == tr.AccessToken {
		t.Fatal("refresh did not return a new access and refresh token")
	}
	if _, err := f.client.Refresh(ctx, tr.RefreshToken, nil); err != nil {
		t.Fatalf("the old refresh token stopped working: %v", err)
	}
	if n := f.counter("microsoft.token.refresh_token.issued"); n != 2 {
		t.Errorf("refresh grants issued = %d, want 2", n)
	}

	// A code is single use: AADSTS54005, and a person has to start again.
	_, err = f.client.ExchangeCode(ctx, code, microsofttest.RedirectURI, verifier, nil)
	ge := grantError(t, err)
	if ge.Code != "invalid_grant" || !slices.Contains(ge.AADSTS, 54005) || !ge.Permanent() || ge.Temporary() {
		t.Fatalf("second redemption: %v permanent=%t", ge, ge.Permanent())
	}
	if ge.Reason() != "the authorization code was already used" {
		t.Errorf("reason %q", ge.Reason())
	}
	if ge.TraceID == "" || ge.Description == "" || ge.StatusCode != http.StatusBadRequest {
		t.Errorf("error lacks details: %+v", ge)
	}
	if strings.Contains(err.Error(), "AADSTS54005:") || strings.Contains(err.Error(), ge.Description) {
		t.Errorf("Error() repeats Microsoft's description: %v", err)
	}
	noSecrets(t, "an error", err.Error(), secrets...)
	noSecrets(t, "the log", f.logs.String(), append(secrets, second.AccessToken, second.RefreshToken)...)
}

func TestRefreshRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tenant, err := f.ctl.Tenant(ctx, providersim.DemoContosoDomain)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		upn        string
		breakIt    func(t *testing.T, upn string)
		code       string
		aadsts     int
		permanent  bool
		reason     string
		clientFail bool
		client     *microsoft.TokenClient
	}{
		{
			name: "sessions revoked", upn: providersim.DemoContosoAdmin,
			breakIt: func(t *testing.T, upn string) {
				if _, err := f.ctl.RevokeSessions(ctx, upn); err != nil {
					t.Fatal(err)
				}
			},
			code: "invalid_grant", aadsts: 50173, permanent: true, reason: "refresh token expired or revoked",
		},
		{
			name: "expired by inactivity", upn: adele,
			breakIt: func(t *testing.T, upn string) {
				if _, err := f.ctl.ExpireTokens(ctx, simclient.TokenFilter{UserID: upn, Kind: simclient.TokenRefresh}); err != nil {
					t.Fatal(err)
				}
			},
			code: "invalid_grant", aadsts: 700082, permanent: true, reason: "refresh token expired or revoked",
		},
		{
			name: "consent withdrawn", upn: adele,
			breakIt: func(t *testing.T, upn string) {
				u, err := f.ctl.User(ctx, upn)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.ctl.RevokeConsent(ctx, simclient.Grant{ClientID: providersim.DefaultClientID, TenantID: tenant.ID, UserID: u.ID}); err != nil {
					t.Fatal(err)
				}
			},
			code: "invalid_grant", aadsts: 65001, permanent: true, reason: "consent was withdrawn or never given",
		},
		{
			name: "MFA required", upn: adele,
			breakIt: func(t *testing.T, upn string) {
				on := true
				if _, err := f.ctl.UpdateUser(ctx, upn, simclient.UserUpdate{RequireMFA: &on}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					off := false
					if _, err := f.ctl.UpdateUser(ctx, upn, simclient.UserUpdate{RequireMFA: &off}); err != nil {
						t.Error(err)
					}
				})
			},
			code: "interaction_required", aadsts: 50076, permanent: true,
			reason: "the organization requires the user to sign in again with multi-factor authentication",
		},
		{
			name: "wrong client secret", upn: adele,
			client: func() *microsoft.TokenClient {
				c, err := microsoft.NewTokenClient(microsoft.TokenClientOptions{
					Authority: f.sim.MicrosoftURL(), ClientID: providersim.DefaultClientID,
					ClientSecret: "not-the-secret", HTTP: microsofttest.HTTP(nil),
				})
				if err != nil {
					t.Fatal(err)
				}
				return c
			}(),
			code: "invalid_client", aadsts: 7000215, permanent: true, clientFail: true,
			reason: "the app's client credentials were rejected",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := microsofttest.SignIn(t, f.sim, f.client, tc.upn, microsofttest.MailScopes)
			if tc.breakIt != nil {
				tc.breakIt(t, tc.upn)
			}
			c := f.client
			if tc.client != nil {
				c = tc.client
			}
			_, err := c.Refresh(ctx, tr.RefreshToken, microsofttest.MailScopes)
			ge := grantError(t, err)
			if ge.Code != tc.code || !slices.Contains(ge.AADSTS, tc.aadsts) {
				t.Fatalf("got %v, want %s AADSTS%d", ge, tc.code, tc.aadsts)
			}
			if ge.Permanent() != tc.permanent || ge.Temporary() || errors.Is(err, microsoft.ErrUnavailable) {
				t.Errorf("permanent=%t temporary=%t unavailable=%t", ge.Permanent(), ge.Temporary(), errors.Is(err, microsoft.ErrUnavailable))
			}
			if ge.ClientRejected() != tc.clientFail {
				t.Errorf("ClientRejected = %t", ge.ClientRejected())
			}
			if ge.Reason() != tc.reason {
				t.Errorf("Reason = %q, want %q", ge.Reason(), tc.reason)
			}
			noSecrets(t, "the error", err.Error(), tr.RefreshToken, tr.AccessToken, ge.Description)
		})
	}

	t.Run("invalid scope is neither permanent nor temporary", func(t *testing.T) {
		tr := microsofttest.SignIn(t, f.sim, f.client, adele, microsofttest.MailScopes)
		_, err := f.client.Refresh(ctx, tr.RefreshToken, []string{"https://graph.microsoft.com/No.Such.Scope"})
		ge := grantError(t, err)
		if ge.Code != "invalid_scope" || ge.Permanent() || ge.Temporary() {
			t.Fatalf("%v permanent=%t temporary=%t", ge, ge.Permanent(), ge.Temporary())
		}
		if ge.Reason() != "the requested permissions are not valid" {
			t.Errorf("reason %q", ge.Reason())
		}
	})
}

func TestUnavailable(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tr := microsofttest.SignIn(t, f.sim, f.client, adele, microsofttest.MailScopes)
	code, verifier := microsofttest.AuthorizationCode(t, f.sim, adele, microsofttest.MailScopes)

	fault, err := f.ctl.AddFault(ctx, simclient.Fault{Endpoint: "microsoft.token", Status: http.StatusServiceUnavailable})
	if err != nil {
		t.Fatal(err)
	}
	// A refresh is retried (3 attempts in the test client), then reported
	// as unavailable with the wait providerhttp would have used.
	start := f.counter("microsoft.token")
	_, err = f.client.Refresh(ctx, tr.RefreshToken, nil)
	if !errors.Is(err, microsoft.ErrUnavailable) {
		t.Fatalf("refresh during a 503: %v", err)
	}
	var ra *providerhttp.RetryAfterError
	if !errors.As(err, &ra) {
		t.Errorf("no RetryAfterError in the chain of %v", err)
	}
	if n := f.counter("microsoft.token") - start; n != 3 {
		t.Errorf("refresh sent %d times, want 3", n)
	}
	// A code exchange is not: the code is single use, and a bare 503 does
	// not prove Microsoft did not redeem it.
	start = f.counter("microsoft.token")
	_, err = f.client.ExchangeCode(ctx, code, microsofttest.RedirectURI, verifier, nil)
	if !errors.Is(err, microsoft.ErrUnavailable) {
		t.Fatalf("exchange during a 503: %v", err)
	}
	if ge := grantError(t, err); ge.Code != "temporarily_unavailable" || !ge.Temporary() || ge.Permanent() {
		t.Errorf("exchange during a 503: %v", ge)
	}
	if n := f.counter("microsoft.token") - start; n != 1 {
		t.Errorf("exchange sent %d times, want 1", n)
	}
	if err := f.ctl.RemoveFault(ctx, fault.ID); err != nil {
		t.Fatal(err)
	}

	// A 429 with Retry-After is waited out and retried, for both.
	if _, err := f.ctl.AddFault(ctx, simclient.Fault{Endpoint: "microsoft.token", Status: http.StatusTooManyRequests, RetryAfter: "0.01", Count: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.Refresh(ctx, tr.RefreshToken, nil); err != nil {
		t.Fatalf("refresh after a 429: %v", err)
	}
	if _, err := f.client.ExchangeCode(ctx, code, microsofttest.RedirectURI, verifier, nil); err != nil {
		t.Fatalf("exchange after a 429: %v", err)
	}
}

func TestNetworkErrorIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := microsoft.NewTokenClient(microsoft.TokenClientOptions{
		Authority: "http://" + addr, ClientID: "id", ClientSecret: "secret", HTTP: microsofttest.HTTP(nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Refresh(t.Context(), "rt-secret-value", nil)
	if !errors.Is(err, microsoft.ErrUnavailable) {
		t.Fatalf("got %v", err)
	}
	noSecrets(t, "the error", err.Error(), "rt-secret-value", "secret")
}

// Answers the simulator never gives, served by a stand-in.
func TestDecoding(t *testing.T) {
	var status int
	var body, contentType string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tenant-x/oauth2/v2.0/token" || r.PostFormValue("client_secret") != "s3cret" || r.Header.Get("client-request-id") == "" {
			http.Error(w, "bad request to the stand-in", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := microsoft.NewTokenClient(microsoft.TokenClientOptions{
		Authority: srv.URL + "/", Tenant: "tenant-x", ClientID: "id", ClientSecret: "s3cret",
		HTTP: providerhttp.New(providerhttp.Options{MaxAttempts: 1}),
	})
	if err != nil {
		t.Fatal(err)
	}

	status, contentType = http.StatusOK, "application/json"
	body = `{"token_type":"Bearer","expires_in":"3600","access_token":"at-1","scope":"a b"}`
	tr, err := c.Refresh(t.Context(), "rt", nil)
	if err != nil || tr.ExpiresIn != time.Hour || tr.RefreshToken != "" || !slices.Equal(tr.Scopes, []string{"a", "b"}) {
		t.Fatalf("expires_in as a string: %v %v", tr, err)
	}

	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        error
	}{
		{"proxy page on 502", http.StatusBadGateway, "text/html", "<html>bad gateway</html>", microsoft.ErrUnavailable},
		{"wrong authority", http.StatusNotFound, "text/html", "<html>not found</html>", microsoft.ErrUnexpectedResponse},
		{"200 that is not JSON", http.StatusOK, "application/json", `{"access_token":"at-leak`, microsoft.ErrUnexpectedResponse},
		{"200 without a token", http.StatusOK, "application/json", `{"token_type":"Bearer"}`, microsoft.ErrUnexpectedResponse},
		{"not a bearer token", http.StatusOK, "application/json", `{"token_type":"pop","access_token":"at-leak"}`, microsoft.ErrUnexpectedResponse},
		{"500 with error JSON", http.StatusInternalServerError, "application/json; charset=utf-8", `{"error":"server_error","error_codes":[90033]}`, microsoft.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, contentType, body = tc.status, tc.contentType, tc.body
			_, err := c.Refresh(t.Context(), "rt", nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			noSecrets(t, "the error", err.Error(), "at-leak", "s3cret")
		})
	}
}

func TestNewTokenClientChecksOptions(t *testing.T) {
	for name, o := range map[string]microsoft.TokenClientOptions{
		"no client id":       {Authority: "https://login.microsoftonline.com", ClientSecret: "s"},
		"no secret":          {Authority: "https://login.microsoftonline.com", ClientID: "c"},
		"relative authority": {Authority: "login.microsoftonline.com", ClientID: "c", ClientSecret: "s"},
		"ftp authority":      {Authority: "ftp://login.microsoftonline.com", ClientID: "c", ClientSecret: "s"},
	} {
		if _, err := microsoft.NewTokenClient(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := microsoft.NewTokenClient(microsoft.TokenClientOptions{Authority: "https://login.microsoftonline.com/", ClientID: "c", ClientSecret: "s"}); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}
