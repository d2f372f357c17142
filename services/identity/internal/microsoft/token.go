// Package microsoft talks to the Microsoft identity platform's v2.0 token
// endpoint (providers.md §3.1, §3.4–3.5): it redeems authorization codes
// (with the PKCE verifier) and refresh tokens, and turns Microsoft's error
// JSON into a *GrantError whose Reason is fit to show a person.
//
// Token values never appear in an error, a log line or a formatted value:
// TokenResponse redacts itself, and errors carry the OAuth error code, the
// AADSTS numbers and Microsoft's trace and correlation ids only.
package microsoft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/platform/providerhttp"
)

// DefaultTenant is the tenant segment for work and school accounts, which is
// what a recruiting product for business mailboxes signs in.
const DefaultTenant = "organizations"

// maxResponseBody caps what is read from the token endpoint. Its answers are
// a few kilobytes; anything near this is not Microsoft.
const maxResponseBody = 1 << 20

var (
	// ErrUnavailable means Microsoft could not answer now: a network error,
	// 429, 5xx or temporarily_unavailable. Retrying later may work; the
	// chain may hold a *providerhttp.RetryAfterError saying when.
	ErrUnavailable = errors.New("microsoft: token endpoint unavailable")
	// ErrUnexpectedResponse is an answer that is neither tokens nor
	// Microsoft's error JSON (a proxy's page, a wrong Authority).
	ErrUnexpectedResponse = errors.New("microsoft: unexpected token endpoint response")
)

// TokenClientOptions configure a TokenClient.
type TokenClientOptions struct {
	// Authority is the identity platform's base URL without the tenant:
	// https://login.microsoftonline.com, or the simulator's
	// http://127.0.0.1:9201.
	Authority string
	// Tenant is the {tenant} path segment; default "organizations".
	Tenant       string
	ClientID     string
	ClientSecret string
	// HTTP sends the requests; default a providerhttp client named
	// "msidentity". Its Limiter, if any, applies to every request under
	// the key ClientID (see TokenClient).
	HTTP *providerhttp.Client
}

// TokenClient redeems codes and refresh tokens at one tenant's token
// endpoint. It is safe for concurrent use.
//
// Every request carries the app registration's client id as its
// providerhttp limit key, so the shared limiter bounds the app's calls
// across every replica. Per app rather than per tenant: the requests go to
// the multi-tenant "organizations" endpoint, where a code exchange does not
// know its tenant before the answer, and a bound on the whole app holds for
// each tenant too.
type TokenClient struct {
	endpoint     string
	clientID     string
	clientSecret string
	http         *providerhttp.Client
}

// NewTokenClient checks o and returns a client.
func NewTokenClient(o TokenClientOptions) (*TokenClient, error) {
	if o.Tenant == "" {
		o.Tenant = DefaultTenant
	}
	if o.ClientID == "" || o.ClientSecret == "" {
		return nil, errors.New("microsoft: client id and client secret are required")
	}
	u, err := url.Parse(strings.TrimRight(o.Authority, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, errors.New("microsoft: authority must be an absolute http(s) URL without a query")
	}
	if o.HTTP == nil {
		o.HTTP = providerhttp.New(providerhttp.Options{Provider: "msidentity"})
	}
	return &TokenClient{
		endpoint:     u.String() + "/" + url.PathEscape(o.Tenant) + "/oauth2/v2.0/token",
		clientID:     o.ClientID,
		clientSecret: o.ClientSecret,
		http:         o.HTTP,
	}, nil
}

// TokenResponse is a successful answer of the token endpoint. Printing it
// (fmt, slog) shows no token.
type TokenResponse struct {
	AccessToken  string
	RefreshToken string // empty unless offline_access was granted
	IDToken      string // empty unless openid was asked for
	TokenType    string
	ExpiresIn    time.Duration
	// Scopes are the scopes the access token carries, as Microsoft lists
	// them (Graph's usually without the resource: "Mail.Send").
	Scopes []string
}

// ExpiresAt is when the access token expires, for a response received at
// now.
func (t *TokenResponse) ExpiresAt(now time.Time) time.Time { return now.Add(t.ExpiresIn) }

// String shows everything but the tokens.
func (t TokenResponse) String() string {
	return fmt.Sprintf("microsoft.TokenResponse{type: %s, expires_in: %s, scopes: %q, tokens: REDACTED}", t.TokenType, t.ExpiresIn, t.Scopes)
}

// GoString shows everything but the tokens.
func (t TokenResponse) GoString() string { return t.String() }

// Format shows everything but the tokens, whatever the verb.
func (t TokenResponse) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue shows everything but the tokens.
func (t TokenResponse) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token_type", t.TokenType),
		slog.Duration("expires_in", t.ExpiresIn),
		slog.Any("scopes", t.Scopes),
	)
}

// ExchangeCode redeems an authorization code (grant_type=authorization_code)
// with the PKCE verifier. A code is single use, so the request is never sent
// twice when its outcome is unknown.
func (c *TokenClient) ExchangeCode(ctx context.Context, code, redirectURI, codeVerifier string, scopes []string) (*TokenResponse, error) {
	if code == "" || redirectURI == "" || codeVerifier == "" {
		return nil, errors.New("microsoft: code, redirect URI and PKCE verifier are required")
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {codeVerifier},
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	return c.token(ctx, form, false)
}

// Refresh redeems a refresh token (grant_type=refresh_token). scopes may be
// empty (the original grant's scopes) or a subset of one resource's scopes
// plus the OIDC ones. Microsoft keeps an old refresh token valid after a
// refresh, so a request whose outcome is unknown is safely sent again.
func (c *TokenClient) Refresh(ctx context.Context, refreshToken string, scopes []string) (*TokenResponse, error) {
	if refreshToken == "" {
		return nil, errors.New("microsoft: refresh token is required")
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	return c.token(ctx, form, true)
}

func (c *TokenClient) token(ctx context.Context, form url.Values, retrySafe bool) (*TokenResponse, error) {
	ctx = providerhttp.WithKey(ctx, c.clientID)
	form.Set("client_id", c.clientID)
	form.Set("client_secret", c.clientSecret)
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("microsoft: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// Microsoft echoes client-request-id as the correlation id of an error,
	// which ties our logs to theirs.
	req.Header.Set("client-request-id", uuid.NewString())
	req.Header.Set("return-client-request-id", "true")
	if retrySafe {
		req = providerhttp.RetrySafe(req)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("microsoft: token request: %w", err)
		}
		// providerhttp has removed anything secret from the error; the
		// form is in the body, never in the URL.
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("microsoft: reading token response: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: reading the response: %w", ErrUnavailable, err)
	}
	if resp.StatusCode == http.StatusOK {
		return decodeTokens(data)
	}
	return nil, decodeError(resp, data)
}

// tokenJSON is the token endpoint's success body.
type tokenJSON struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	IDToken      string  `json:"id_token"`
	TokenType    string  `json:"token_type"`
	Scope        string  `json:"scope"`
	ExpiresIn    seconds `json:"expires_in"`
}

// seconds reads expires_in as a number (v2.0) or a numeric string (v1.0
// endpoints and some proxies).
type seconds int64

func (s *seconds) UnmarshalJSON(b []byte) error {
	str := strings.Trim(string(b), `"`)
	if str == "" || str == "null" {
		*s = 0
		return nil
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil || n < 0 {
		return errors.New("expires_in is not a number of seconds")
	}
	*s = seconds(n)
	return nil
}

func decodeTokens(data []byte) (*TokenResponse, error) {
	var tj tokenJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		// The JSON error could quote part of the body, which holds tokens.
		return nil, fmt.Errorf("%w: 200 with a body that is not token JSON", ErrUnexpectedResponse)
	}
	if tj.AccessToken == "" {
		return nil, fmt.Errorf("%w: 200 without an access token", ErrUnexpectedResponse)
	}
	if tj.TokenType != "" && !strings.EqualFold(tj.TokenType, "Bearer") {
		return nil, fmt.Errorf("%w: token type %q", ErrUnexpectedResponse, tj.TokenType)
	}
	return &TokenResponse{
		AccessToken:  tj.AccessToken,
		RefreshToken: tj.RefreshToken,
		IDToken:      tj.IDToken,
		TokenType:    "Bearer",
		ExpiresIn:    time.Duration(tj.ExpiresIn) * time.Second,
		Scopes:       strings.Fields(tj.Scope),
	}, nil
}

// errorJSON is Microsoft's token endpoint error (providers.md §3.5).
type errorJSON struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	Suberror      string `json:"suberror"`
}

func decodeError(resp *http.Response, data []byte) error {
	var ej errorJSON
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")) //nolint:errcheck // an unparsable type leaves mt empty: maybe JSON, tried below
	if (mt == "application/json" || mt == "") && json.Unmarshal(data, &ej) == nil && ej.Error != "" {
		return &GrantError{
			Code:          ej.Error,
			AADSTS:        ej.Codes,
			Description:   ej.Description,
			Suberror:      ej.Suberror,
			TraceID:       ej.TraceID,
			CorrelationID: ej.CorrelationID,
			StatusCode:    resp.StatusCode,
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return fmt.Errorf("%w: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	return fmt.Errorf("%w: HTTP %d without Microsoft's error JSON", ErrUnexpectedResponse, resp.StatusCode)
}
