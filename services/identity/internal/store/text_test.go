package store_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tandemhq/tandem/platform/grpcserver"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// The domain checks text before it is stored; should a field slip past,
// Postgres refuses a NUL, and the server's error mapping answers
// InvalidArgument rather than Internal.
func TestTextPostgresCannotStoreIsInvalidArgument(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	org, _ := person(t, st, newID(t), "owner@x.example")
	name := "ci\x00bot"
	_, err := st.UpdateOrganization(t.Context(), org.ID, store.OrganizationUpdate{DisplayName: &name})
	if err == nil {
		t.Fatal("Postgres stored a NUL")
	}
	if st, _ := grpcserver.ToStatus(err); st.Code() != codes.InvalidArgument {
		t.Fatalf("a NUL in a display name: %v (%v), want InvalidArgument", st, err)
	}
}
