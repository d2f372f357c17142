package config_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/config/configtest"
)

const plaintext = "hunter2-the-plaintext"

func TestSecretNeverPrints(t *testing.T) {
	s := config.Secret(plaintext)
	configtest.NoSecrets(t, s, plaintext)
	// Inside structs, exported fields, by value and by pointer.
	type settings struct {
		Name   string
		Token  config.Secret
		Tokens []config.Secret
		ByName map[string]config.Secret
		Ptr    *config.Secret
	}
	configtest.NoSecrets(t, settings{Name: "x", Token: s, Tokens: []config.Secret{s}, ByName: map[string]config.Secret{"a": s}, Ptr: &s}, plaintext)
	if s.Value() != plaintext {
		t.Fatalf("Value() = %q", s.Value())
	}
}

// The check itself must see a plaintext that does print: every rendering
// but the type name leaks a plain string field.
func TestLeaksCatchesAPlainString(t *testing.T) {
	type leaky struct{ Token string }
	leaks := configtest.Leaks(t, leaky{Token: plaintext}, plaintext)
	if want := len(configtest.Prints(t, leaky{})) - 2; len(leaks) != want {
		t.Fatalf("%d renderings leak, want %d (all but %%T by value and by pointer):\n%s", len(leaks), want, strings.Join(leaks, "\n"))
	}
}

func TestSecretPrintsWhatItIs(t *testing.T) {
	s := config.Secret(plaintext)
	for verb, want := range map[string]string{"%v": "[redacted]", "%s": "[redacted]", "%q": `"[redacted]"`, "%#v": `config.Secret("[redacted]")`, "%x": "[redacted]"} {
		if got := fmt.Sprintf(verb, s); got != want {
			t.Errorf("%s = %s, want %s", verb, got, want)
		}
	}
	if got := fmt.Sprintf("%v|%q", config.Secret(""), config.Secret("")); got != `|""` {
		t.Errorf("an empty secret prints %s, want it empty", got)
	}
	var p *config.Secret
	if got := fmt.Sprint(p); got != "<nil>" {
		t.Errorf("nil pointer printed %q", got)
	}
}

func TestSecretFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var s config.Secret
	config.SecretFlag(fs, &s, "key", "default-secret", "a key")
	if s.Value() != "default-secret" {
		t.Fatalf("default not applied: %q", s.Value())
	}
	if err := fs.Parse([]string{"-key", plaintext}); err != nil {
		t.Fatal(err)
	}
	f := fs.Lookup("key")
	if s.Value() != plaintext || f.Value.String() != "[redacted]" || strings.Contains(f.DefValue, "default-secret") {
		t.Fatalf("value %q, String %q, DefValue %q", s.Value(), f.Value.String(), f.DefValue)
	}
	var usage strings.Builder
	fs.SetOutput(&usage)
	fs.PrintDefaults()
	if strings.Contains(usage.String(), "default-secret") || strings.Contains(usage.String(), plaintext) {
		t.Fatalf("usage prints the secret:\n%s", usage.String())
	}
}
