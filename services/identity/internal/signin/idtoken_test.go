package signin_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/providerhttp"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
)

func TestMicrosoftIDVerifier(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sim := microsofttest.Start(t)
	client := microsofttest.TokenClient(t, sim, microsofttest.HTTP(logging.Discard()))
	idToken := microsofttest.SignIn(t, sim, client, adele, signin.SignInScopes).IDToken
	ctl := sim.Client()
	tenant, err := ctl.Tenant(ctx, providersim.DemoContosoDomain)
	if err != nil {
		t.Fatal(err)
	}
	user, err := ctl.User(ctx, adele)
	if err != nil {
		t.Fatal(err)
	}

	// Discovery and the signing keys go through the provider client given.
	var paths []string
	var mu sync.Mutex
	counting := providerhttp.New(providerhttp.Options{Provider: "msidentity", Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})})
	v := signin.NewMicrosoftIDVerifier(sim.MicrosoftURL()+"/", "organizations", providersim.DefaultClientID, counting)
	c, err := v.Verify(ctx, idToken)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(paths) != 2 || !strings.HasSuffix(paths[0], "/openid-configuration") || !strings.HasSuffix(paths[1], "/keys") {
		t.Errorf("requests through the provider client: %q, want discovery then keys", paths)
	}
	mu.Unlock()
	if c.TenantID != tenant.ID || c.ObjectID != user.ID || c.Email != adele || c.Name == "" {
		t.Fatalf("claims %+v, want tenant %s and user %s", c, tenant.ID, user.ID)
	}

	if _, err := v.Verify(ctx, ""); err == nil {
		t.Error("an empty ID token verified")
	}
	parts := strings.Split(idToken, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	if _, err := v.Verify(ctx, tampered); err == nil {
		t.Error("a tampered ID token verified")
	}
	other := signin.NewMicrosoftIDVerifier(sim.MicrosoftURL(), "organizations", "another-app", nil)
	if _, err := other.Verify(ctx, idToken); err == nil {
		t.Error("an ID token for another app verified")
	}

	// A second simulator signs with the same key (one per process) but is
	// another authority: its tokens carry its own issuer and are refused.
	sim2 := microsofttest.Start(t)
	foreign := microsofttest.SignIn(t, sim2, microsofttest.TokenClient(t, sim2, microsofttest.HTTP(logging.Discard())), adele, signin.SignInScopes).IDToken
	_, err = v.Verify(ctx, foreign)
	if err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("an ID token of another authority: %v, want an issuer error", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
