package store_test

import (
	"slices"
	"testing"

	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/envelope/envelopetest"
)

func TestDataKeysContract(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	envelopetest.TestDataKeyStore(t, func(*testing.T) envelope.DataKeyStore { return st.DataKeys() })
}

func TestDataKeysOrgIDs(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := t.Context()
	keys := st.DataKeys()
	if ids, err := keys.OrgIDs(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("no data keys yet: %v, %v", ids, err)
	}
	for _, org := range []string{"org-b", "system", "org-a"} {
		if err := keys.PutWrapped(ctx, org, "edk."+org); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := keys.OrgIDs(ctx)
	if err != nil || !slices.Equal(ids, []string{"org-a", "org-b", "system"}) {
		t.Fatalf("OrgIDs: %v, %v", ids, err)
	}
}
