package main

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/services/identity/internal/store/storetest"

	"github.com/tandemhq/tandem/platform/envelope"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

func ring(t *testing.T, primary string, ids ...string) *envelope.KeyRing {
	t.Helper()
	var parts []string
	for _, id := range ids {
		parts = append(parts, id+":"+base64.StdEncoding.EncodeToString([]byte(strings.Repeat(id[:1], 32))))
	}
	r, err := envelope.ParseKeyRing(strings.Join(parts, ","), primary)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rotate-keys re-wraps every organization's data key under the new primary
// key, after which the old key can leave the ring and every secret still
// opens.
func TestRotateKeys(t *testing.T) {
	ctx := t.Context()
	st := store.New(storetest.New(t))

	old := envelope.NewVault(ring(t, "a1", "a1"), st.DataKeys(), envelope.VaultOptions{})
	sealed := map[string]string{}
	for _, org := range []string{"org-1", "org-2", "system"} {
		s, err := old.Seal(ctx, org, []byte("secret of "+org), "connection", "c1")
		if err != nil {
			t.Fatal(err)
		}
		sealed[org] = s
	}

	rotating := envelope.NewVault(ring(t, "b2", "b2", "a1"), st.DataKeys(), envelope.VaultOptions{})
	if err := rotateKeys(ctx, st, rotating, logging.Discard()); err != nil {
		t.Fatal(err)
	}
	for org := range sealed {
		w, err := st.DataKeys().GetWrapped(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		if id, err := envelope.WrappedKeyID(w); err != nil || id != "b2" {
			t.Fatalf("%s's data key is wrapped by %q (%v), want b2", org, id, err)
		}
	}
	// Running it again changes nothing and fails nothing.
	if err := rotateKeys(ctx, st, rotating, logging.Discard()); err != nil {
		t.Fatal(err)
	}

	onlyNew := envelope.NewVault(ring(t, "b2", "b2"), st.DataKeys(), envelope.VaultOptions{})
	for org, s := range sealed {
		got, err := onlyNew.Open(ctx, org, s, "connection", "c1")
		if err != nil || string(got) != "secret of "+org {
			t.Fatalf("%s after rotation: %q %v", org, got, err)
		}
	}
}
