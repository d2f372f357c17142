package config_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	platformconfig "github.com/tandemhq/tandem/platform/config"
	"github.com/tandemhq/tandem/platform/config/configtest"
	"github.com/tandemhq/tandem/services/identity/internal/config"
)

// cleanEnv hides every TANDEM_* variable of the machine running the test,
// so only what the test sets counts. Tests that use it cannot be parallel.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "TANDEM_") {
			t.Setenv(name, "") // restores the value after the test
			os.Unsetenv(name)
		}
	}
}

func TestDefaultsValidate(t *testing.T) {
	cleanEnv(t)
	var out bytes.Buffer
	c, err := config.Load(nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("Load printed without -print-config: %s", out.String())
	}
	if c.Command != "serve" || c.Service.GRPCAddr != config.DefaultGRPCAddr || c.KeyRing.Value() != config.DevKeyRing ||
		c.ServiceTokens.Current.Value() != config.DevServiceToken || c.MicrosoftTenant != "organizations" ||
		c.AccessTokenTTL != 10*time.Minute || c.RefreshTokenTTL != 30*24*time.Hour || c.FrontendURL != "" {
		t.Fatalf("defaults: %+v", c)
	}
	if _, err := config.Load([]string{"rotate-keys", "-h"}, &out); err == nil || !strings.Contains(err.Error(), "flags go before it") {
		t.Errorf("rotate-keys -h: %v, want an error and no rotation", err)
	}
	c, err = config.Load([]string{"rotate-keys"}, &out)
	if err != nil || c.Command != "rotate-keys" {
		t.Fatalf("rotate-keys: %+v, %v", c, err)
	}
}

const ring2 = "k1:" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" + ",k2:" + "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="

func TestBadValuesNameTheSetting(t *testing.T) {
	cleanEnv(t)
	for _, tc := range []struct {
		args    []string
		setting string
	}{
		{[]string{"-access-token-ttl=30s"}, "access-token-ttl"},
		{[]string{"-access-token-ttl=2h"}, "access-token-ttl"},
		{[]string{"-refresh-token-ttl=59m"}, "refresh-token-ttl"},
		{[]string{"-vault-refresh-before=-1s"}, "vault-refresh-before"},
		{[]string{"-public-url=localhost:8080"}, "public-url"},
		{[]string{"-public-url=ftp://files.example"}, "public-url"},
		{[]string{"-microsoft-authority=login.microsoftonline.com"}, "microsoft-authority"},
		{[]string{"-frontend-url=/app"}, "frontend-url"},
		{[]string{"-microsoft-client-id="}, "microsoft-client-id"},
		{[]string{"-microsoft-client-secret="}, "microsoft-client-secret"},
		{[]string{"-service-token=short-secret"}, "service-token"},
		{[]string{"-service-token-previous=short-secret"}, "service-token-previous"},
		{[]string{"-key-ring="}, "key-ring"},
		{[]string{"-key-ring=k1:c2hvcnQ="}, "key-ring"},
		{[]string{"-key-ring=not-a-ring"}, "key-ring"},
		{[]string{"-key-ring=" + ring2, "-key-ring-primary=k3"}, "key-ring-primary"},
		{[]string{"-grpc-addr=9101"}, "grpc-addr"},
		{[]string{"-lever-token-url=auth.lever.co/oauth/token"}, "lever-token-url"},
		{[]string{"-lever-authorize-url=auth.lever.co"}, "lever-authorize-url"},
		{[]string{"-lever-client-secret="}, "lever-client-secret"},
		{[]string{"-lever-client-id="}, "lever-client-id"},
		{[]string{"-lever-audience=https://api.lever.co/v1"}, "lever-audience"},
		{[]string{"migrate"}, "command"},
	} {
		_, err := config.Load(tc.args, &bytes.Buffer{})
		if err == nil {
			t.Errorf("%v: accepted", tc.args)
			continue
		}
		want := tc.setting + " (" + platformconfig.EnvName(tc.setting) + ")"
		if tc.setting == "command" {
			want = "command"
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: the error should name %s: %v", tc.args, want, err)
		}
		if strings.Contains(err.Error(), "short-secret") || strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("%v: the error shows a secret: %v", tc.args, err)
		}
	}

	// Good values of the same settings pass.
	c, err := config.Load([]string{"-key-ring=" + ring2, "-key-ring-primary=k2", "-access-token-ttl=1h", "-frontend-url=https://app.example",
		"-service-token-previous=" + strings.Repeat("p", 32)}, &bytes.Buffer{})
	if err != nil || c.KeyRingPrimary != "k2" || c.AccessTokenTTL != time.Hour {
		t.Fatalf("good values: %+v, %v", c, err)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	cleanEnv(t)
	_, err := config.Load([]string{"-access-token-ttl=1s", "-public-url=x", "-service-token=s"}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, s := range []string{"access-token-ttl", "public-url", "service-token"} {
		if !strings.Contains(err.Error(), s+" (") {
			t.Errorf("the error should name %s: %v", s, err)
		}
	}
}

func TestEnvironmentFallsBackAndFlagsWin(t *testing.T) {
	cleanEnv(t)
	t.Setenv("TANDEM_ACCESS_TOKEN_TTL", "15m")
	t.Setenv("TANDEM_PUBLIC_URL", "https://tandem.example")
	c, err := config.Load([]string{"-public-url=https://flag.example"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessTokenTTL != 15*time.Minute || c.PublicURL != "https://flag.example" {
		t.Fatalf("env and flags: %v, %s", c.AccessTokenTTL, c.PublicURL)
	}
	t.Setenv("TANDEM_REFRESH_TOKEN_TTL", "1m")
	if _, err := config.Load(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "TANDEM_REFRESH_TOKEN_TTL") {
		t.Fatalf("a bad environment value should name its variable: %v", err)
	}
}

func TestPrintConfigRedactsSecrets(t *testing.T) {
	cleanEnv(t)
	secrets := map[string]string{
		"key-ring":                ring2,
		"service-token":           "service-token-secret-" + strings.Repeat("s", 20),
		"service-token-previous":  "previous-token-secret-" + strings.Repeat("p", 20),
		"microsoft-client-secret": "client-secret-value",
		"lever-client-secret":     "lever-secret-value",
		"database-url":            "postgres://tandem:db-password@db.example:5432/tandem",
		"redis-url":               "redis://:redis-password@redis.example:6379/0",
	}
	args := []string{"-print-config", "-public-url=https://tandem.example"}
	for k, v := range secrets {
		args = append(args, "-"+k+"="+v)
	}
	var out bytes.Buffer
	c, err := config.Load(args, &out)
	if err != nil {
		t.Fatal(err)
	}
	if c.MicrosoftClientSecret.Value() != "client-secret-value" {
		t.Fatal("the secret itself should still reach the program")
	}
	printed := out.String()
	if !strings.Contains(printed, "public-url=https://tandem.example") || !strings.Contains(printed, "microsoft-client-secret=[redacted]") {
		t.Fatalf("printed configuration:\n%s", printed)
	}
	for _, secret := range []string{secrets["service-token"], secrets["service-token-previous"], "client-secret-value", "lever-secret-value",
		"db-password", "redis-password", "MDEyMzQ1Njc4", "ZmVkY2JhOTg3"} {
		if strings.Contains(printed, secret) {
			t.Errorf("-print-config shows a secret (%.8s...):\n%s", secret, printed)
		}
	}

	// The whole struct, printed every way (fmt, slog, JSON), by value and
	// by pointer.
	leaks := []string{"db-password", "redis-password", "MDEyMzQ1Njc4", "ZmVkY2JhOTg3"}
	for _, v := range secrets {
		leaks = append(leaks, v)
	}
	configtest.NoSecrets(t, *c, leaks...)
}
