// Package lever talks to Lever's OAuth token endpoint (providers.md §2.1,
// an Auth0 tenant): it redeems authorization codes (with the PKCE
// verifier) and refresh tokens, and turns the OAuth error JSON into a
// *GrantError whose Reason is fit to show a person.
//
// Lever rotates refresh tokens: every refresh answers a new one and the
// old one dies, and a rotated-away token used again revokes the whole
// family. So a refresh is never sent twice when its outcome is unknown
// (it is not marked retry-safe), and the caller must keep the new refresh
// token before anything else (the vault does).
//
// Token values never appear in an error, a log line or a formatted value:
// TokenResponse redacts itself, and errors carry the OAuth error code and
// the HTTP status only.
package lever

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

	"github.com/tandemhq/tandem/platform/providerhttp"
)

// maxResponseBody caps what is read from the token endpoint: its answers
// are a few kilobytes.
const maxResponseBody = 1 << 20

var (
	// ErrUnavailable means Lever could not answer now: a network error,
	// 429 or 5xx. Retrying later may work; the chain may hold a
	// *providerhttp.RetryAfterError saying when.
	ErrUnavailable = errors.New("lever: token endpoint unavailable")
	// ErrUnexpectedResponse is an answer that is neither tokens nor the
	// OAuth error JSON (a proxy's page, a wrong URL).
	ErrUnexpectedResponse = errors.New("lever: unexpected token endpoint response")
)

// TokenClientOptions configure a TokenClient.
type TokenClientOptions struct {
	// TokenURL is the token endpoint: https://auth.lever.co/oauth/token,
	// or the simulator's http://127.0.0.1:9205/oauth/token.
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Audience is Lever's API identifier, sent with the code exchange as
	// with the authorize request ("https://api.lever.co/v1/", the trailing
	// slash matters).
	Audience string
	// HTTP sends the requests; default a providerhttp client named
	// "leverauth". Its Limiter, if any, applies under the key ClientID.
	HTTP *providerhttp.Client
}

// TokenClient redeems codes and refresh tokens. It is safe for concurrent
// use. Every request is keyed by the client id, so a shared limiter bounds
// the app's calls across every replica.
type TokenClient struct {
	endpoint     string
	clientID     string
	clientSecret string
	audience     string
	http         *providerhttp.Client
}

// NewTokenClient checks o and returns a client.
func NewTokenClient(o TokenClientOptions) (*TokenClient, error) {
	if o.ClientID == "" || o.ClientSecret == "" {
		return nil, errors.New("lever: client id and client secret are required")
	}
	u, err := url.Parse(o.TokenURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return nil, errors.New("lever: token URL must be an absolute http(s) URL without a query")
	}
	if o.HTTP == nil {
		o.HTTP = providerhttp.New(providerhttp.Options{Provider: "leverauth"})
	}
	return &TokenClient{endpoint: u.String(), clientID: o.ClientID, clientSecret: o.ClientSecret, audience: o.Audience, http: o.HTTP}, nil
}

// TokenResponse is a successful answer. Printing it shows no token.
type TokenResponse struct {
	AccessToken  string
	RefreshToken string // empty unless offline_access was granted
	ExpiresIn    time.Duration
	// Scopes are the scopes granted, as Lever lists them.
	Scopes []string
}

// ExpiresAt is when the access token expires, for a response received at
// now.
func (t *TokenResponse) ExpiresAt(now time.Time) time.Time { return now.Add(t.ExpiresIn) }

// String shows everything but the tokens.
func (t TokenResponse) String() string {
	return fmt.Sprintf("lever.TokenResponse{expires_in: %s, scopes: %q, tokens: REDACTED}", t.ExpiresIn, t.Scopes)
}

// GoString shows everything but the tokens.
func (t TokenResponse) GoString() string { return t.String() }

// Format shows everything but the tokens, whatever the verb.
func (t TokenResponse) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue shows everything but the tokens.
func (t TokenResponse) LogValue() slog.Value {
	return slog.GroupValue(slog.Duration("expires_in", t.ExpiresIn), slog.Any("scopes", t.Scopes))
}

// ExchangeCode redeems an authorization code with the PKCE verifier. A
// code is single use, so the request is never sent twice when its outcome
// is unknown.
func (c *TokenClient) ExchangeCode(ctx context.Context, code, redirectURI, codeVerifier string) (*TokenResponse, error) {
	if code == "" || redirectURI == "" || codeVerifier == "" {
		return nil, errors.New("lever: code, redirect URI and PKCE verifier are required")
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"code_verifier": {codeVerifier},
	}
	if c.audience != "" {
		form.Set("audience", c.audience)
	}
	return c.token(ctx, form)
}

// Refresh redeems a refresh token. Lever answers a new refresh token and
// kills this one, so the request is not sent again when its outcome is
// unknown: a lost answer costs the caller a retry later, a resent request
// could cost the whole grant.
func (c *TokenClient) Refresh(ctx context.Context, refreshToken string) (*TokenResponse, error) {
	if refreshToken == "" {
		return nil, errors.New("lever: refresh token is required")
	}
	return c.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}

func (c *TokenClient) token(ctx context.Context, form url.Values) (*TokenResponse, error) {
	ctx = providerhttp.WithKey(ctx, c.clientID)
	form.Set("client_id", c.clientID)
	form.Set("client_secret", c.clientSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("lever: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("lever: token request: %w", err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("lever: reading token response: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: reading the response: %w", ErrUnavailable, err)
	}
	if resp.StatusCode == http.StatusOK {
		return decodeTokens(data)
	}
	return nil, decodeError(resp, data)
}

type tokenJSON struct {
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	TokenType    string  `json:"token_type"`
	Scope        string  `json:"scope"`
	ExpiresIn    seconds `json:"expires_in"`
}

// seconds reads expires_in as a number or a numeric string.
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
	switch {
	case tj.AccessToken == "":
		return nil, fmt.Errorf("%w: 200 without an access token", ErrUnexpectedResponse)
	case tj.TokenType != "" && !strings.EqualFold(tj.TokenType, "Bearer"):
		return nil, fmt.Errorf("%w: token type %q", ErrUnexpectedResponse, tj.TokenType)
	case tj.ExpiresIn <= 0:
		return nil, fmt.Errorf("%w: 200 without expires_in", ErrUnexpectedResponse)
	}
	return &TokenResponse{AccessToken: tj.AccessToken, RefreshToken: tj.RefreshToken,
		ExpiresIn: time.Duration(tj.ExpiresIn) * time.Second, Scopes: strings.Fields(tj.Scope)}, nil
}

type errorJSON struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func decodeError(resp *http.Response, data []byte) error {
	var ej errorJSON
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")) //nolint:errcheck // an unparsable type leaves mt empty: maybe JSON, tried below
	if (mt == "application/json" || mt == "") && json.Unmarshal(data, &ej) == nil && ej.Error != "" {
		return &GrantError{Code: ej.Error, Description: ej.Description, StatusCode: resp.StatusCode}
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return fmt.Errorf("%w: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	return fmt.Errorf("%w: HTTP %d without the OAuth error JSON", ErrUnexpectedResponse, resp.StatusCode)
}
