package vaulttest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// Subject is a DurableStore under test and a way to make connections in
// it.
type Subject struct {
	Store vault.DurableStore
	// Connection makes a connection of a new organization and returns
	// both ids.
	Connection func(t *testing.T) (orgID, connID string)
}

// Contract runs the behaviour every vault.DurableStore must have.
func Contract(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Run("versions", func(t *testing.T) {
		s := newSubject(t)
		ctx := t.Context()
		org, conn := s.Connection(t)
		if _, err := s.Store.Get(ctx, conn); !errors.Is(err, vault.ErrNotKept) {
			t.Fatalf("Get before Put: %v", err)
		}
		v, err := s.Store.Put(ctx, org, conn, "sealed-1")
		if err != nil || v != 1 {
			t.Fatalf("Put: %d %v", v, err)
		}
		want(t, s, conn, vault.Kept{OrgID: org, Sealed: "sealed-1", Version: 1})

		if v, err = s.Store.Swap(ctx, org, conn, 1, "sealed-2"); err != nil || v != 2 {
			t.Fatalf("Swap from 1: %d %v", v, err)
		}
		if _, err := s.Store.Swap(ctx, org, conn, 1, "sealed-stale"); !errors.Is(err, vault.ErrVersionChanged) {
			t.Fatalf("Swap from a version gone: %v", err)
		}
		if _, err := s.Store.Swap(ctx, org, conn, 0, "sealed-stale"); !errors.Is(err, vault.ErrVersionChanged) {
			t.Fatalf("Swap from nothing over something: %v", err)
		}
		want(t, s, conn, vault.Kept{OrgID: org, Sealed: "sealed-2", Version: 2})

		// A reconnect replaces whatever is there.
		if v, err = s.Store.Put(ctx, org, conn, "sealed-3"); err != nil || v != 3 {
			t.Fatalf("Put over: %d %v", v, err)
		}
		if err := s.Store.Refuse(ctx, org, conn, 2, "refused"); !errors.Is(err, vault.ErrVersionChanged) {
			t.Fatalf("Refuse from a version gone: %v", err)
		}
		if err := s.Store.Refuse(ctx, org, conn, 3, "refresh token expired or revoked"); err != nil {
			t.Fatal(err)
		}
		want(t, s, conn, vault.Kept{OrgID: org, Refused: "refresh token expired or revoked", Version: 4})
		if _, err := s.Store.Swap(ctx, org, conn, 3, "sealed-late"); !errors.Is(err, vault.ErrVersionChanged) {
			t.Fatalf("Swap after a refusal: %v", err)
		}
		if v, err = s.Store.Put(ctx, org, conn, "sealed-5"); err != nil || v != 5 {
			t.Fatalf("Put after a refusal: %d %v", v, err)
		}
		want(t, s, conn, vault.Kept{OrgID: org, Sealed: "sealed-5", Version: 5})
	})

	t.Run("organizations", func(t *testing.T) {
		s := newSubject(t)
		ctx := t.Context()
		org, conn := s.Connection(t)
		other, _ := s.Connection(t)
		if _, err := s.Store.Put(ctx, org, conn, "sealed-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Store.Put(ctx, other, conn, "theirs"); !errors.Is(err, vault.ErrNotKept) {
			t.Fatalf("Put by another organization: %v", err)
		}
		if _, err := s.Store.Swap(ctx, other, conn, 1, "theirs"); !errors.Is(err, vault.ErrVersionChanged) {
			t.Fatalf("Swap by another organization: %v", err)
		}
		if err := s.Store.Refuse(ctx, other, conn, 1, "theirs"); !errors.Is(err, vault.ErrVersionChanged) {
			t.Fatalf("Refuse by another organization: %v", err)
		}
		want(t, s, conn, vault.Kept{OrgID: org, Sealed: "sealed-1", Version: 1})
	})

	t.Run("from nothing", func(t *testing.T) {
		s := newSubject(t)
		ctx := t.Context()
		org, conn := s.Connection(t)
		if err := s.Store.Refuse(ctx, org, conn, 0, "refused"); !errors.Is(err, vault.ErrVersionChanged) {
			t.Fatalf("Refuse with nothing kept: %v", err)
		}
		// Credentials stored before the store existed are kept on their
		// first refresh.
		if v, err := s.Store.Swap(ctx, org, conn, 0, "sealed-1"); err != nil || v != 1 {
			t.Fatalf("Swap from nothing: %d %v", v, err)
		}
		want(t, s, conn, vault.Kept{OrgID: org, Sealed: "sealed-1", Version: 1})
	})

	t.Run("delete", func(t *testing.T) {
		s := newSubject(t)
		ctx := t.Context()
		org, conn := s.Connection(t)
		if _, err := s.Store.Put(ctx, org, conn, "sealed-1"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Store.Delete(ctx, conn); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Store.Get(ctx, conn); !errors.Is(err, vault.ErrNotKept) {
			t.Fatalf("Get after Delete: %v", err)
		}
		if _, err := s.Store.Swap(ctx, org, conn, 1, "sealed-late"); !errors.Is(err, vault.ErrVersionChanged) {
			t.Fatalf("Swap after Delete: %v", err)
		}
	})

	t.Run("one swap wins", func(t *testing.T) {
		s := newSubject(t)
		ctx := t.Context()
		org, conn := s.Connection(t)
		if _, err := s.Store.Put(ctx, org, conn, "sealed-1"); err != nil {
			t.Fatal(err)
		}
		var won, lost atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				_, err := s.Store.Swap(ctx, org, conn, 1, "sealed-2")
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, vault.ErrVersionChanged):
					lost.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 || lost.Load() != 7 {
			t.Fatalf("%d swaps from one version won, %d lost", won.Load(), lost.Load())
		}
	})
}

func want(t *testing.T, s Subject, conn string, k vault.Kept) {
	t.Helper()
	got, err := s.Store.Get(t.Context(), conn)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got != k {
		t.Fatalf("kept %+v, want %+v", got, k)
	}
}
