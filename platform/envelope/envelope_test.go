package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/config/configtest"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t testing.TB, primary string, keys map[string][]byte) *KeyRing {
	t.Helper()
	r, err := NewKeyRing(primary, keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseKeyRing(t *testing.T) {
	k1, k2 := randomKey(t), randomKey(t)
	spec := fmt.Sprintf(" k1:%s , k-2_b:%s ,", base64.StdEncoding.EncodeToString(k1), base64.RawURLEncoding.EncodeToString(k2))
	r, err := ParseKeyRing(spec, "k-2_b")
	if err != nil {
		t.Fatal(err)
	}
	if r.Primary() != "k-2_b" || fmt.Sprint(r.IDs()) != "[k-2_b k1]" {
		t.Fatalf("ring = %v", r)
	}
	// The parsed keys are the configured ones: k1 in the ring opens what
	// a ring built from the raw k1 wrapped.
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := mustRing(t, "k1", map[string][]byte{"k1": k1}).Wrap("org", dk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Unwrap("org", wrapped); err != nil {
		t.Fatalf("parsed k1 differs from the configured one: %v", err)
	}

	good := base64.StdEncoding.EncodeToString(k1)
	secretish := "c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LWlzLXRvby1zaG9ydA" // 37 bytes
	for name, tc := range map[string]struct{ spec, primary string }{
		"empty":           {"", "k1"},
		"no colon":        {good, "k1"},
		"duplicate id":    {"k1:" + good + ",k1:" + good, "k1"},
		"short key":       {"k1:" + base64.StdEncoding.EncodeToString(k1[:16]), "k1"},
		"wrong length":    {"k1:" + secretish, "k1"},
		"bad base64":      {"k1:" + good[:20] + "!!" + good[22:], "k1"},
		"missing primary": {"k1:" + good, "k9"},
		"bad id":          {"k 1:" + good, "k 1"},
		"long id":         {strings.Repeat("k", 33) + ":" + good, strings.Repeat("k", 33)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseKeyRing(tc.spec, tc.primary)
			if !errors.Is(err, ErrInvalidKeyRing) {
				t.Fatalf("err = %v, want ErrInvalidKeyRing", err)
			}
			for _, secret := range []string{good, good[:20], secretish} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q shows key material", err)
				}
			}
		})
	}
}

func newTestVault(t testing.TB, ring *KeyRing, store DataKeyStore) *Vault {
	t.Helper()
	return NewVault(ring, store, VaultOptions{})
}

func TestVaultRoundTrip(t *testing.T) {
	ctx := t.Context()
	v := newTestVault(t, mustRing(t, "k1", map[string][]byte{"k1": randomKey(t)}), NewMemoryKeyStore())
	for _, pt := range [][]byte{[]byte("refresh-token-value"), {}, bytes.Repeat([]byte{0xAB}, 64<<10)} {
		sealed, err := v.Seal(ctx, "org_1", pt, "conn_1", "refresh_token")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "enc.") || strings.ContainsAny(sealed, "+/=") {
			t.Fatalf("sealed value %.20q is not a prefixed base64url string", sealed)
		}
		if len(pt) > 4 && strings.Contains(sealed, base64.RawURLEncoding.EncodeToString(pt[:4])) {
			t.Fatal("plaintext visible in the sealed value")
		}
		got, err := v.Open(ctx, "org_1", sealed, "conn_1", "refresh_token")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("round trip changed %d bytes of plaintext", len(pt))
		}
	}
	a, err := v.Seal(ctx, "org_1", []byte("same"), "conn_1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Seal(ctx, "org_1", []byte("same"), "conn_1")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two seals of the same plaintext are identical: nonce reuse")
	}
}

func TestVaultDetectsTampering(t *testing.T) {
	ctx := t.Context()
	v := newTestVault(t, mustRing(t, "k1", map[string][]byte{"k1": randomKey(t)}), NewMemoryKeyStore())
	sealed, err := v.Seal(ctx, "org_1", []byte("api-key-123"), "conn_1")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "enc."))
	if err != nil {
		t.Fatal(err)
	}
	reseal := func(mutate func([]byte) []byte) string {
		b := mutate(bytes.Clone(raw))
		return "enc." + base64.RawURLEncoding.EncodeToString(b)
	}
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 0x01; return b }
	}
	headerLen := 1 + dataKeyIDLen
	for name, tc := range map[string]struct {
		sealed string
		bind   []string
		org    string
		want   error
	}{
		"ciphertext byte":   {reseal(flip(headerLen + 12)), []string{"conn_1"}, "org_1", ErrDecrypt},
		"tag byte":          {reseal(flip(len(raw) - 1)), []string{"conn_1"}, "org_1", ErrDecrypt},
		"nonce byte":        {reseal(flip(headerLen)), []string{"conn_1"}, "org_1", ErrDecrypt},
		"data key id":       {reseal(flip(1)), []string{"conn_1"}, "org_1", ErrDataKeyMismatch},
		"version":           {reseal(flip(0)), []string{"conn_1"}, "org_1", ErrMalformed},
		"truncated":         {reseal(func(b []byte) []byte { return b[:headerLen+20] }), []string{"conn_1"}, "org_1", ErrMalformed},
		"appended":          {reseal(func(b []byte) []byte { return append(b, 0) }), []string{"conn_1"}, "org_1", ErrDecrypt},
		"other connection":  {sealed, []string{"conn_2"}, "org_1", ErrDecrypt},
		"missing binding":   {sealed, nil, "org_1", ErrDecrypt},
		"extra binding":     {sealed, []string{"conn_1", "x"}, "org_1", ErrDecrypt},
		"bindings re-split": {sealed, []string{"conn", "_1"}, "org_1", ErrDecrypt},
		"not base64":        {"enc.***", []string{"conn_1"}, "org_1", ErrMalformed},
		"wrong prefix":      {"edk." + strings.TrimPrefix(sealed, "enc."), []string{"conn_1"}, "org_1", ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			pt, err := v.Open(ctx, tc.org, tc.sealed, tc.bind...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %q, %v; want %v", pt, err, tc.want)
			}
			if strings.Contains(err.Error(), "api-key-123") {
				t.Fatalf("error shows plaintext: %v", err)
			}
		})
	}

	// Copied to another organization's row: that organization has its
	// own data key, so the value does not even reach decryption.
	if _, err := v.Seal(ctx, "org_2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(ctx, "org_2", sealed, "conn_1"); !errors.Is(err, ErrDataKeyMismatch) {
		t.Fatalf("value opened under another organization: %v", err)
	}
}

func TestWrappedDataKeyTampering(t *testing.T) {
	ring := mustRing(t, "k1", map[string][]byte{"k1": randomKey(t), "k2": randomKey(t)})
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := ring.Wrap("org_1", dk)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(wrapped, "edk."))
	if err != nil {
		t.Fatal(err)
	}
	reseal := func(mutate func([]byte) []byte) string {
		return "edk." + base64.RawURLEncoding.EncodeToString(mutate(bytes.Clone(raw)))
	}
	for name, tc := range map[string]struct {
		wrapped, org string
		want         error
	}{
		"another organization":  {wrapped, "org_2", ErrDecrypt},
		"key id to another kek": {reseal(func(b []byte) []byte { b[3] = '2'; return b }), "org_1", ErrDecrypt},
		"key id to unknown":     {reseal(func(b []byte) []byte { b[3] = '9'; return b }), "org_1", ErrUnknownKeyID},
		"data key id":           {reseal(func(b []byte) []byte { b[5] ^= 1; return b }), "org_1", ErrDecrypt},
		"wrapped key byte":      {reseal(func(b []byte) []byte { b[len(b)-20] ^= 1; return b }), "org_1", ErrDecrypt},
		"version":               {reseal(func(b []byte) []byte { b[0] = 2; return b }), "org_1", ErrMalformed},
		"truncated":             {reseal(func(b []byte) []byte { return b[:len(b)-1] }), "org_1", ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ring.Unwrap(tc.org, tc.wrapped); !errors.Is(err, tc.want) {
				t.Fatalf("Unwrap = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	ctx := t.Context()
	k1, k2 := randomKey(t), randomKey(t)
	store := NewMemoryKeyStore()

	// Sealed while k1 is the only key.
	v1 := newTestVault(t, mustRing(t, "k1", map[string][]byte{"k1": k1}), store)
	sealed, err := v1.Seal(ctx, "org_1", []byte("token"), "conn_1")
	if err != nil {
		t.Fatal(err)
	}

	// k2 added and made primary; the data key is still under k1 and opens.
	ring2 := mustRing(t, "k2", map[string][]byte{"k1": k1, "k2": k2})
	v2 := newTestVault(t, ring2, store)
	if pt, err := v2.Open(ctx, "org_1", sealed, "conn_1"); err != nil || string(pt) != "token" {
		t.Fatalf("open after adding k2: %q, %v", pt, err)
	}
	// New organizations get data keys under k2 at once.
	if _, err := v2.Seal(ctx, "org_new", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if w, err := store.GetWrapped(ctx, "org_new"); err != nil || mustKeyID(t, w) != "k2" {
		t.Fatalf("new data key wrapped by %s, want k2 (err %v)", mustKeyID(t, w), err)
	}

	// Rewrap moves org_1's data key to k2, once.
	if changed, err := v2.Rewrap(ctx, "org_1"); err != nil || !changed {
		t.Fatalf("Rewrap = %v, %v", changed, err)
	}
	if changed, err := v2.Rewrap(ctx, "org_1"); err != nil || changed {
		t.Fatalf("second Rewrap = %v, %v; want no change", changed, err)
	}
	if w, err := store.GetWrapped(ctx, "org_1"); err != nil || mustKeyID(t, w) != "k2" {
		t.Fatalf("after Rewrap the data key is under %s (err %v)", mustKeyID(t, w), err)
	}

	// k1 removed: the old value still opens, through the re-wrapped key.
	v3 := newTestVault(t, mustRing(t, "k2", map[string][]byte{"k2": k2}), store)
	if pt, err := v3.Open(ctx, "org_1", sealed, "conn_1"); err != nil || string(pt) != "token" {
		t.Fatalf("open after removing k1: %q, %v", pt, err)
	}
}

func TestUnknownKeyID(t *testing.T) {
	ctx := t.Context()
	store := NewMemoryKeyStore()
	v1 := newTestVault(t, mustRing(t, "k1", map[string][]byte{"k1": randomKey(t)}), store)
	sealed, err := v1.Seal(ctx, "org_1", []byte("token"))
	if err != nil {
		t.Fatal(err)
	}
	// k1 was removed before this organization's key was re-wrapped.
	v2 := newTestVault(t, mustRing(t, "k2", map[string][]byte{"k2": randomKey(t)}), store)
	_, err = v2.Open(ctx, "org_1", sealed)
	if !errors.Is(err, ErrUnknownKeyID) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("Open = %v; want ErrUnknownKeyID naming k1", err)
	}
	if _, err := v2.Seal(ctx, "org_1", []byte("x")); !errors.Is(err, ErrUnknownKeyID) {
		t.Fatalf("Seal = %v; want ErrUnknownKeyID (never a second data key)", err)
	}
}

func TestKeysNeverPrinted(t *testing.T) {
	k1 := randomKey(t)
	ring := mustRing(t, "k1", map[string][]byte{"k1": k1})
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "ring", ring, "dek", dk)

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		out = append(out, fmt.Sprintf(verb, ring), fmt.Sprintf(verb, *ring), fmt.Sprintf(verb, dk), fmt.Sprintf(verb, *dk),
			fmt.Sprintf(verb, struct{ K *DataKey }{dk}), fmt.Sprintf(verb, []any{ring, dk}))
	}
	out = append(out, logged.String())
	for _, key := range [][]byte{k1, dk.raw[:]} {
		for _, enc := range []string{
			string(key), hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key)[:12],
			base64.RawURLEncoding.EncodeToString(key)[:12], fmt.Sprintf("%v", key[:6])[1:15],
		} {
			for _, s := range out {
				if strings.Contains(s, enc) {
					t.Fatalf("key material printed: %q", s)
				}
			}
		}
	}
	// And every rendering configtest knows, by value and by pointer.
	configtest.NoSecrets(t, *ring, string(k1))
	configtest.NoSecrets(t, *dk, string(dk.raw[:]))
	if !strings.Contains(logged.String(), `"primary":"k1"`) || !strings.Contains(logged.String(), dk.ID()) {
		t.Fatalf("log output lost the ids: %s", logged.String())
	}
}

// countingStore counts reads to check the cache.
type countingStore struct {
	*MemoryKeyStore
	gets atomic.Int32
}

func (s *countingStore) GetWrapped(ctx context.Context, orgID string) (string, error) {
	s.gets.Add(1)
	return s.MemoryKeyStore.GetWrapped(ctx, orgID)
}

func TestVaultCachesDataKeys(t *testing.T) {
	ctx := t.Context()
	store := &countingStore{MemoryKeyStore: NewMemoryKeyStore()}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := NewVault(mustRing(t, "k1", map[string][]byte{"k1": randomKey(t)}), store, VaultOptions{
		CacheTTL: time.Minute,
		Now:      func() time.Time { return now },
	})
	sealed, err := v.Seal(ctx, "org_1", []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	base := store.gets.Load()
	for range 5 {
		if _, err := v.Open(ctx, "org_1", sealed); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.gets.Load() - base; n != 0 {
		t.Fatalf("%d store reads within the TTL, want 0", n)
	}
	now = now.Add(time.Minute)
	if _, err := v.Open(ctx, "org_1", sealed); err != nil {
		t.Fatal(err)
	}
	if n := store.gets.Load() - base; n != 1 {
		t.Fatalf("%d store reads after the TTL, want 1", n)
	}

	// A value under a data key the organization no longer has: one
	// reload from the store, then a clear error.
	other, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Seal([]byte("x"), "org_1")
	if err != nil {
		t.Fatal(err)
	}
	base = store.gets.Load()
	if _, err := v.Open(ctx, "org_1", foreign); !errors.Is(err, ErrDataKeyMismatch) {
		t.Fatalf("Open = %v, want ErrDataKeyMismatch", err)
	}
	if n := store.gets.Load() - base; n != 1 {
		t.Fatalf("%d store reads on a mismatch, want 1", n)
	}
}

func TestVaultOneDataKeyWhenReplicasRace(t *testing.T) {
	store := NewMemoryKeyStore()
	ring := mustRing(t, "k1", map[string][]byte{"k1": randomKey(t)})
	replicas := []*Vault{newTestVault(t, ring, store), newTestVault(t, ring, store)}

	sealed := make([]string, 16)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range sealed {
		wg.Go(func() {
			<-start
			s, err := replicas[i%2].Seal(t.Context(), "org_race", []byte("v"), fmt.Sprint(i))
			if err != nil {
				t.Error(err)
			}
			sealed[i] = s
		})
	}
	close(start)
	wg.Wait()
	fresh := newTestVault(t, ring, store)
	for i, s := range sealed {
		if _, err := fresh.Open(t.Context(), "org_race", s, fmt.Sprint(i)); err != nil {
			t.Fatalf("value %d sealed under a data key that lost the race: %v", i, err)
		}
	}
}

func TestVaultOpenWithoutDataKey(t *testing.T) {
	v := newTestVault(t, mustRing(t, "k1", map[string][]byte{"k1": randomKey(t)}), NewMemoryKeyStore())
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := dk.Seal([]byte("x"), "org_1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Open(t.Context(), "org_1", sealed); !errors.Is(err, ErrDataKeyNotFound) {
		t.Fatalf("Open = %v, want ErrDataKeyNotFound", err)
	}
}

func mustKeyID(t *testing.T, wrapped string) string {
	t.Helper()
	id, err := WrappedKeyID(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func BenchmarkSeal(b *testing.B) {
	v := newTestVault(b, mustRing(b, "k1", map[string][]byte{"k1": randomKey(b)}), NewMemoryKeyStore())
	token := bytes.Repeat([]byte("t"), 1500) // a Microsoft refresh token is about this size
	ctx := b.Context()
	b.SetBytes(int64(len(token)))
	for b.Loop() {
		if _, err := v.Seal(ctx, "org_1", token, "conn_1", "refresh_token"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	v := newTestVault(b, mustRing(b, "k1", map[string][]byte{"k1": randomKey(b)}), NewMemoryKeyStore())
	token := bytes.Repeat([]byte("t"), 1500)
	ctx := b.Context()
	sealed, err := v.Seal(ctx, "org_1", token, "conn_1", "refresh_token")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(token)))
	for b.Loop() {
		if _, err := v.Open(ctx, "org_1", sealed, "conn_1", "refresh_token"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrap(b *testing.B) {
	ring := mustRing(b, "k1", map[string][]byte{"k1": randomKey(b)})
	dk, err := NewDataKey()
	if err != nil {
		b.Fatal(err)
	}
	wrapped, err := ring.Wrap("org_1", dk)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ring.Unwrap("org_1", wrapped); err != nil {
			b.Fatal(err)
		}
	}
}
