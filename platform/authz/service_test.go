package authz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/config/configtest"
)

const (
	secretA = "svc-secret-a-0123456789abcdef0123456789"
	secretB = "svc-secret-b-0123456789abcdef0123456789"
)

func TestServiceTokensAccepts(t *testing.T) {
	cases := []struct {
		name   string
		tokens ServiceTokens
		given  string
		want   bool
	}{
		{"current", ServiceTokens{Current: secretA}, secretA, true},
		{"previous during rotation", ServiceTokens{Current: secretB, Previous: secretA}, secretA, true},
		{"new current during rotation", ServiceTokens{Current: secretB, Previous: secretA}, secretB, true},
		{"previous dropped", ServiceTokens{Current: secretB}, secretA, false},
		{"wrong", ServiceTokens{Current: secretA}, secretB, false},
		{"prefix of the secret", ServiceTokens{Current: secretA}, secretA[:20], false},
		{"empty given", ServiceTokens{Current: secretA}, "", false},
		// The dangerous one: an unconfigured service must not accept an
		// empty token as equal to its empty secret.
		{"unconfigured, empty given", ServiceTokens{}, "", false},
		{"unconfigured", ServiceTokens{}, secretA, false},
		{"empty previous never matches", ServiceTokens{Current: secretA, Previous: ""}, "", false},
	}
	for _, tc := range cases {
		if got := tc.tokens.Accepts(tc.given); got != tc.want {
			t.Errorf("%s: Accepts = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestServiceSecretsNeverPrinted(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	tokens := ServiceTokens{Current: secretA, Previous: secretB}
	creds := ServiceCredentials{Name: "outreach", Token: secretA}
	log.Info("cfg", "tokens", tokens, "creds", creds)
	js, err := json.Marshal(struct {
		C ServiceCredentials
		T ServiceTokens
	}{creds, tokens})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{logged.String(), string(js)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, tokens), fmt.Sprintf(verb, creds), fmt.Sprintf(verb, &creds))
	}
	for _, out := range outs {
		if strings.Contains(out, "svc-secret") || strings.Contains(out, fmt.Sprintf("%x", secretA)[:16]) {
			t.Errorf("secret printed: %s", out)
		}
	}
	configtest.NoSecrets(t, tokens, secretA, secretB)
	configtest.NoSecrets(t, creds, secretA)
}

func TestServiceCredentialsMetadata(t *testing.T) {
	md, err := ServiceCredentials{Name: "outreach", Token: secretA}.GetRequestMetadata(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if md[ServiceNameMetadata] != "outreach" || md[ServiceTokenMetadata] != secretA || len(md) != 2 {
		t.Fatalf("metadata = %v", md)
	}
	for _, bad := range []ServiceCredentials{{Name: "outreach"}, {Token: secretA}, {Name: "Out Reach", Token: secretA}} {
		if _, err := bad.GetRequestMetadata(t.Context()); err == nil {
			t.Errorf("%v produced metadata", bad)
		}
	}
}
