// Package envelopetest holds the contract tests that every
// envelope.DataKeyStore implementation runs, so the Postgres stores of each
// service behave exactly like the in-memory one the envelope tests use.
package envelopetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tandemhq/tandem/platform/envelope"
)

// TestDataKeyStore runs the contract against stores made by newStore. Each
// subtest uses fresh organization ids, so newStore may return a store
// shared between subtests (one database per test run).
func TestDataKeyStore(t *testing.T, newStore func(t *testing.T) envelope.DataKeyStore) {
	t.Run("missing organization", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GetWrapped(t.Context(), newOrgID(t)); !errors.Is(err, envelope.ErrDataKeyNotFound) {
			t.Fatalf("GetWrapped of a new organization: %v, want ErrDataKeyNotFound", err)
		}
	})

	t.Run("put then get", func(t *testing.T) {
		s := newStore(t)
		org := newOrgID(t)
		if err := s.PutWrapped(t.Context(), org, "edk.first"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetWrapped(t.Context(), org); err != nil || got != "edk.first" {
			t.Fatalf("GetWrapped = %q, %v", got, err)
		}
		if _, err := s.GetWrapped(t.Context(), newOrgID(t)); !errors.Is(err, envelope.ErrDataKeyNotFound) {
			t.Fatalf("another organization sees the key: %v", err)
		}
	})

	t.Run("put never overwrites", func(t *testing.T) {
		s := newStore(t)
		org := newOrgID(t)
		if err := s.PutWrapped(t.Context(), org, "edk.first"); err != nil {
			t.Fatal(err)
		}
		if err := s.PutWrapped(t.Context(), org, "edk.second"); !errors.Is(err, envelope.ErrDataKeyExists) {
			t.Fatalf("second PutWrapped: %v, want ErrDataKeyExists", err)
		}
		if got, err := s.GetWrapped(t.Context(), org); err != nil || got != "edk.first" {
			t.Fatalf("key overwritten: %q (err %v)", got, err)
		}
	})

	t.Run("racing puts have one winner", func(t *testing.T) {
		s := newStore(t)
		org := newOrgID(t)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				err := s.PutWrapped(t.Context(), org, "edk."+string(rune('a'+i)))
				switch {
				case err == nil:
					wins.Add(1)
				case !errors.Is(err, envelope.ErrDataKeyExists):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d racing puts succeeded, want 1", n)
		}
	})

	t.Run("replace is compare-and-swap", func(t *testing.T) {
		s := newStore(t)
		r, ok := s.(envelope.DataKeyReplacer)
		if !ok {
			t.Skip("store does not implement DataKeyReplacer")
		}
		org := newOrgID(t)
		if err := r.ReplaceWrapped(t.Context(), org, "edk.a", "edk.b"); !errors.Is(err, envelope.ErrDataKeyNotFound) {
			t.Fatalf("replace a missing key: %v, want ErrDataKeyNotFound", err)
		}
		if err := s.PutWrapped(t.Context(), org, "edk.a"); err != nil {
			t.Fatal(err)
		}
		if err := r.ReplaceWrapped(t.Context(), org, "edk.stale", "edk.b"); !errors.Is(err, envelope.ErrDataKeyChanged) {
			t.Fatalf("replace with a stale old value: %v, want ErrDataKeyChanged", err)
		}
		if err := r.ReplaceWrapped(t.Context(), org, "edk.a", "edk.b"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetWrapped(t.Context(), org); err != nil || got != "edk.b" {
			t.Fatalf("after replace: %q (err %v)", got, err)
		}
	})
}

func newOrgID(t *testing.T) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "org_" + hex.EncodeToString(b[:])
}
