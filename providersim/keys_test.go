package providersim_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/tandemhq/tandem/providersim"
	"github.com/tandemhq/tandem/providersim/simclient"
)

func tokenKeyID(t *testing.T, idToken string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(idToken, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func published(t *testing.T, e *env, tenant string) []string {
	t.Helper()
	status, body := getJSON(t, e.sim.MicrosoftURL()+"/"+tenant+"/discovery/v2.0/keys")
	if status != 200 {
		t.Fatalf("keys: %d", status)
	}
	var kids []string
	for _, k := range body["keys"].([]any) {
		kids = append(kids, k.(map[string]any)["kid"].(string))
	}
	return kids
}

// The JWKS has more than one key, and a rollover goes as Microsoft's do:
// the new key is published first, then signs, then the old one is retired.
// A verifier with a key cache (go-oidc's, as Tandem's) follows it through.
func TestSigningKeyRollover(t *testing.T) {
	e := start(t)
	contoso := e.tenant(providersim.DemoContosoDomain)
	keys, err := e.c.SigningKeys(e.ctx)
	if err != nil || len(keys) != 2 || keys[0].State != simclient.KeyCurrent || keys[1].State != simclient.KeyNext {
		t.Fatalf("initial keys %+v %v", keys, err)
	}
	first, next := keys[0].KeyID, keys[1].KeyID
	if kids := published(t, e, contoso.ID); len(kids) != 2 || kids[0] != first || kids[1] != next {
		t.Fatalf("JWKS %v", kids)
	}
	provider, err := oidc.NewProvider(e.ctx, e.sim.Issuer(contoso.ID))
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: providersim.DefaultClientID})
	before := e.tokens(providersim.DemoContosoUser, signInScopes).IDToken
	if tokenKeyID(t, before) != first {
		t.Fatalf("signed with %s, want the current key %s", tokenKeyID(t, before), first)
	}
	if _, err := verifier.Verify(e.ctx, before); err != nil {
		t.Fatalf("verify before the rollover: %v", err)
	}
	if _, err := e.c.RolloverKeys(e.ctx, simclient.RolloverPublish); err == nil {
		t.Error("publishing while a next key waits was accepted")
	}

	keys, err = e.c.RolloverKeys(e.ctx, simclient.RolloverActivate)
	if err != nil || len(keys) != 2 {
		t.Fatalf("activate: %+v %v", keys, err)
	}
	after := e.tokens(providersim.DemoContosoUser, signInScopes).IDToken
	if tokenKeyID(t, after) != next {
		t.Errorf("after activate signed with %s, want %s", tokenKeyID(t, after), next)
	}
	// The cache knows only the old key set; an unknown kid makes it refetch.
	for name, tok := range map[string]string{"old": before, "new": after} {
		if _, err := verifier.Verify(e.ctx, tok); err != nil {
			t.Errorf("verify the %s token after activate: %v", name, err)
		}
	}

	keys, err = e.c.RolloverKeys(e.ctx, simclient.RolloverPublish)
	if err != nil || len(keys) != 3 {
		t.Fatalf("publish: %+v %v", keys, err)
	}
	third := keys[2].KeyID
	if kids := published(t, e, contoso.ID); len(kids) != 3 || kids[0] != next || kids[1] != third || kids[2] != first {
		t.Errorf("JWKS during the rollover %v", kids)
	}
	if _, err := e.c.RolloverKeys(e.ctx, simclient.RolloverRetire); err != nil {
		t.Fatal(err)
	}
	if kids := published(t, e, contoso.ID); len(kids) != 2 || kids[0] != next || kids[1] != third {
		t.Errorf("JWKS after retiring %v", kids)
	}
	// A fresh key set (no cache) refuses what the retired key signed.
	fresh := oidc.NewVerifier(e.sim.Issuer(contoso.ID), oidc.NewRemoteKeySet(e.ctx, e.sim.MicrosoftURL()+"/"+contoso.ID+"/discovery/v2.0/keys"), &oidc.Config{ClientID: providersim.DefaultClientID})
	if _, err := fresh.Verify(e.ctx, before); err == nil {
		t.Error("a token of the retired key verified")
	}
	if _, err := fresh.Verify(e.ctx, after); err != nil {
		t.Errorf("a token of the current key: %v", err)
	}
	if _, err := e.c.RolloverKeys(e.ctx, "spin"); err == nil {
		t.Error("an unknown phase was accepted")
	}
	if err := e.c.Reset(e.ctx); err != nil {
		t.Fatal(err)
	}
	if keys, err := e.c.SigningKeys(e.ctx); err != nil || len(keys) != 2 || keys[0].KeyID != first {
		t.Errorf("keys after reset %+v (err %v)", keys, err)
	}
}
