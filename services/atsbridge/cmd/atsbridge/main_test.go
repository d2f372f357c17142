package main

import (
	"testing"

	"github.com/tandemhq/tandem/platform/config/configtest"
)

// The whole configuration, printed every way (fmt, slog, JSON,
// -print-config), shows no secret.
func TestConfigPrintsNoSecret(t *testing.T) {
	configtest.ServiceBinary(t, loadConfig, func(c Config) (string, string) {
		return c.Identity.ServiceTokens.Current.Value(), c.Service.DatabaseURL.Value()
	})
}
