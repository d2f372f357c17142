// Package graphtest runs an in-process Graph simulator for the mailbox's
// tests and signs its demo users in through the simulator's own pages
// (authorization code with PKCE, as identity does), for real access
// tokens.
package graphtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simbrowser"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/mailbox/internal/graph"
)

// Scopes a connected mailbox has.
var Scopes = []string{"openid", "profile", "email", "offline_access", "User.Read", "Mail.Send", "Mail.ReadWrite", "Mail.Read"}

// Start starts a simulator that stops with the test.
func Start(t testing.TB) *providersim.Sim {
	t.Helper()
	sim, err := providersim.Start(t.Context(), providersim.Options{})
	if err != nil {
		t.Fatalf("graphtest: start providersim: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// AccessToken signs upn in (consent granted through the control API
// first) and returns a Graph access token with Scopes.
func AccessToken(t testing.TB, sim *providersim.Sim, upn string) string {
	t.Helper()
	ctx := t.Context()
	ctl := sim.Client()
	u, err := ctl.User(ctx, upn)
	if err != nil {
		t.Fatalf("graphtest: user %s: %v", upn, err)
	}
	if _, err := ctl.GrantConsent(ctx, simclient.Grant{ClientID: providersim.DefaultClientID, UserID: u.ID, Scopes: Scopes}); err != nil {
		t.Fatalf("graphtest: consent: %v", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatal(err)
	}
	verifier := base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(verifier))
	redirect := providersim.DefaultRedirectURIs[0]
	q := url.Values{
		"client_id": {providersim.DefaultClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {strings.Join(Scopes, " ")}, "state": {"graphtest"}, "login_hint": {upn},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	b, err := simbrowser.New(sim.MicrosoftURL())
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Get(ctx, sim.MicrosoftURL()+"/organizations/oauth2/v2.0/authorize?"+q.Encode())
	if err != nil {
		t.Fatalf("graphtest: authorize: %v", err)
	}
	if p.Name == "signin" {
		if p, err = b.Submit(ctx, p, url.Values{"login": {upn}}, "signin-submit"); err != nil {
			t.Fatalf("graphtest: sign in: %v", err)
		}
	}
	if p.Name == "consent" {
		if p, err = b.Submit(ctx, p, nil, "accept"); err != nil {
			t.Fatalf("graphtest: consent: %v", err)
		}
	}
	if p.Redirect == nil || p.Redirect.Query().Get("code") == "" {
		t.Fatalf("graphtest: sign-in ended on page %q without a code", p.Name)
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {p.Redirect.Query().Get("code")}, "redirect_uri": {redirect},
		"code_verifier": {verifier}, "client_id": {providersim.DefaultClientID}, "client_secret": {providersim.DefaultClientSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sim.MicrosoftURL()+"/organizations/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("graphtest: token: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("graphtest: token answer %d: %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// Tokens is a TokenSource of fixed tokens by connection id; a connection
// without one needs reconnecting.
type Tokens struct {
	mu     sync.Mutex
	tokens map[string]string
}

// NewTokens returns an empty source.
func NewTokens() *Tokens { return &Tokens{tokens: map[string]string{}} }

// Set gives connection its token.
func (s *Tokens) Set(connection, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[connection] = token
}

// Remove takes connection's token away, as a revoked grant would.
func (s *Tokens) Remove(connection string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, connection)
}

// AccessToken implements graph.TokenSource.
func (s *Tokens) AccessToken(_ context.Context, connection string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[connection]
	if !ok {
		return "", fmt.Errorf("graphtest: %s: %w", connection, graph.ErrReconnectRequired)
	}
	return tok, nil
}
