package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/config/configtest"
)

// The whole configuration, printed every way (fmt, slog, JSON,
// -print-config), shows no secret.
func TestConfigPrintsNoSecret(t *testing.T) {
	secrets := map[string]string{
		"service-token":          "current-service-token-" + strings.Repeat("c", 20),
		"service-token-previous": "previous-service-token-" + strings.Repeat("p", 20),
		"database-url":           "postgres://tandem:db-password-1@db.example:5432/tandem",
		"redis-url":              "redis://:redis-password-1@redis.example:6379/0",
	}
	args := []string{"-print-config"}
	for k, v := range secrets {
		args = append(args, "-"+k+"="+v)
	}
	var out bytes.Buffer
	c, err := loadConfig(args, &out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Identity.ServiceTokens.Current.Value() != secrets["service-token"] || c.Service.DatabaseURL.Value() != secrets["database-url"] {
		t.Fatal("the secrets themselves should reach the program")
	}
	leaks := []string{"db-password-1", "redis-password-1"}
	for _, v := range secrets {
		leaks = append(leaks, v)
	}
	configtest.NoSecrets(t, c, leaks...)
	for _, s := range leaks {
		if strings.Contains(out.String(), s) {
			t.Errorf("-print-config shows a secret:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "service-token=[redacted]") {
		t.Errorf("-print-config:\n%s", out.String())
	}
}
