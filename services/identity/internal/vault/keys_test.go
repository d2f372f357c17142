package vault_test

import (
	"testing"

	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// Redis is the credentials' only copy: their key name must not change
// without a migration (ADR 13).
func TestCredentialKeysKeepTheirName(t *testing.T) {
	if got := vault.CredentialKeys("tandem:").Key("conn-1"); got != "tandem:vault:cred:conn-1" {
		t.Fatalf("credentials are named %s; renaming them loses every connection", got)
	}
	if got := vault.LockKeys("tandem:").Key("conn-1"); got != "tandem:identity:vault-lock:conn-1" {
		t.Fatal(got)
	}
}
