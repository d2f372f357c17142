package lever_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/identity/internal/lever"
	"github.com/tandemhq/tandem/services/identity/internal/lever/levertest"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
)

func TestExchangeAndRotate(t *testing.T) {
	t.Parallel()
	sim := microsofttest.Start(t)
	ctx := t.Context()
	c := levertest.TokenClient(t, sim, microsofttest.HTTP(logging.Discard()))

	first := levertest.Connect(t, sim, c)
	if first.AccessToken == "" || first.RefreshToken == "" || first.ExpiresIn <= 0 || !strings.Contains(strings.Join(first.Scopes, " "), "stages:read:admin") {
		t.Fatalf("exchange: %v", first)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", first, first, first, first); strings.Contains(s, first.AccessToken) || strings.Contains(s, first.RefreshToken) {
		t.Fatalf("a printed TokenResponse shows a token: %s", s)
	}

	// Every refresh rotates the refresh token.
	second, err := c.Refresh(ctx, first.RefreshToken)
	if err != nil || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatalf("refresh: %v, %v", second, err)
	}
	// The rotated-away token is refused for good, and its reuse kills the
	// family: the newest token too.
	_, err = c.Refresh(ctx, first.RefreshToken)
	var ge *lever.GrantError
	if !errors.As(err, &ge) || ge.Code != "invalid_grant" || !ge.Permanent() || ge.ClientRejected() || ge.Temporary() {
		t.Fatalf("reuse of a rotated refresh token: %v", err)
	}
	if strings.Contains(err.Error(), "Unknown") || strings.Contains(ge.Reason(), "Unknown") {
		t.Fatalf("the error shows Lever's text: %v / %s", err, ge.Reason())
	}
	if _, err := c.Refresh(ctx, second.RefreshToken); !errors.As(err, &ge) || ge.Code != "invalid_grant" {
		t.Fatalf("after reuse the newest token is revoked too: %v", err)
	}

	// A code needs its verifier, and is single use.
	code, verifier := levertest.Code(t, sim)
	if _, err := c.ExchangeCode(ctx, code, levertest.RedirectURI, "wrong-verifier-wrong-verifier-wrong-verifier"); !errors.As(err, &ge) || ge.Code != "invalid_grant" {
		t.Fatalf("a wrong PKCE verifier: %v", err)
	}
	if _, err := c.ExchangeCode(ctx, code, levertest.RedirectURI, verifier); err != nil {
		t.Fatalf("the code with its verifier: %v", err)
	}
	if _, err := c.ExchangeCode(ctx, code, levertest.RedirectURI, verifier); !errors.As(err, &ge) || !ge.Permanent() {
		t.Fatalf("a code used once already: %v", err)
	}
}

func TestClientRejectedAndUnavailable(t *testing.T) {
	t.Parallel()
	sim := microsofttest.Start(t)
	ctx := t.Context()
	bad, err := lever.NewTokenClient(lever.TokenClientOptions{TokenURL: sim.LeverOAuthURL() + "/oauth/token",
		ClientID: providersim.DefaultLeverClientID, ClientSecret: "wrong", HTTP: microsofttest.HTTP(logging.Discard())})
	if err != nil {
		t.Fatal(err)
	}
	var ge *lever.GrantError
	if _, err := bad.Refresh(ctx, "rt"); !errors.As(err, &ge) || !ge.ClientRejected() {
		t.Fatalf("a wrong client secret: %v", err)
	}

	c := levertest.TokenClient(t, sim, microsofttest.HTTP(logging.Discard()))
	if _, err := sim.Client().AddFault(ctx, simclient.Fault{Endpoint: "lever.oauth.token", Status: 503, Count: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(ctx, "rt"); !errors.Is(err, lever.ErrUnavailable) {
		t.Fatalf("a 503: want ErrUnavailable, got %v", err)
	}

	if _, err := lever.NewTokenClient(lever.TokenClientOptions{TokenURL: "not a url", ClientID: "a", ClientSecret: "b"}); err == nil {
		t.Fatal("a token URL that is not a URL was accepted")
	}
}
