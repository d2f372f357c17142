package signin_test

import (
	"testing"

	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
	"github.com/tandemhq/tandem/services/identity/internal/microsoft/microsofttest"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
)

// The verifier's key cache follows Microsoft's signing-key rollover: tokens
// of the new key verify once it signs, tokens of the old one until it is
// retired.
func TestMicrosoftIDVerifierThroughAKeyRollover(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	sim := microsofttest.Start(t)
	ctl := sim.Client()
	client := microsofttest.TokenClient(t, sim, microsofttest.HTTP(logging.Discard()))
	v := signin.NewMicrosoftIDVerifier(sim.MicrosoftURL(), "organizations", providersim.DefaultClientID, nil)

	before := microsofttest.SignIn(t, sim, client, adele, signin.SignInScopes).IDToken
	if _, err := v.Verify(ctx, before); err != nil {
		t.Fatalf("before the rollover: %v", err)
	}
	if _, err := ctl.RolloverKeys(ctx, simclient.RolloverActivate); err != nil {
		t.Fatal(err)
	}
	after := microsofttest.SignIn(t, sim, client, adele, signin.SignInScopes).IDToken
	for name, tok := range map[string]string{"old key": before, "new key": after} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("%s after the new key signs: %v", name, err)
		}
	}
	if _, err := ctl.RolloverKeys(ctx, simclient.RolloverPublish); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.RolloverKeys(ctx, simclient.RolloverRetire); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, after); err != nil {
		t.Errorf("the current key after retiring the old one: %v", err)
	}
	fresh := signin.NewMicrosoftIDVerifier(sim.MicrosoftURL(), "organizations", providersim.DefaultClientID, nil)
	if _, err := fresh.Verify(ctx, before); err == nil {
		t.Error("a token of the retired key verified")
	}
}
