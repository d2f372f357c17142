package store_test

import (
	"testing"

	"github.com/tandemhq/tandem/services/identity/internal/store"
	"github.com/tandemhq/tandem/services/identity/internal/vault/vaulttest"
)

func TestSealedCredentialsContract(t *testing.T) {
	st, _ := newStore(t)
	vaulttest.Contract(t, func(*testing.T) vaulttest.Subject {
		return vaulttest.Subject{Store: st.SealedCredentials(), Connection: func(t *testing.T) (string, string) {
			return mailboxConnection(t, st)
		}}
	})
}

// mailboxConnection makes a person of a new organization and their
// mailbox connection, and returns the organization's and the connection's
// ids.
func mailboxConnection(t *testing.T, st *store.Store) (string, string) {
	t.Helper()
	org, user := person(t, st, newID(t), "someone@example.com")
	c, err := st.UpsertPersonalConnection(t.Context(), store.Connection{OrgID: org.ID, UserID: user.ID,
		Provider: store.ProviderMicrosoftMailbox, Status: store.StatusConnected})
	if err != nil {
		t.Fatal(err)
	}
	return org.ID, c.ID
}
