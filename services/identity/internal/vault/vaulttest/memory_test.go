package vaulttest_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tandemhq/tandem/services/identity/internal/vault/vaulttest"
)

func TestMemoryContract(t *testing.T) {
	var n atomic.Int64
	vaulttest.Contract(t, func(t *testing.T) vaulttest.Subject {
		return vaulttest.Subject{Store: vaulttest.NewMemory(), Connection: func(*testing.T) (string, string) {
			i := n.Add(1)
			return fmt.Sprintf("org-%d", i), fmt.Sprintf("conn-%d", i)
		}}
	})
}
