package envelope_test

import (
	"testing"

	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/envelope/envelopetest"
)

func TestMemoryKeyStoreContract(t *testing.T) {
	envelopetest.TestDataKeyStore(t, func(*testing.T) envelope.DataKeyStore {
		return envelope.NewMemoryKeyStore()
	})
}
