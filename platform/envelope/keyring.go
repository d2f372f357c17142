package envelope

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// KeyRing holds the key-encryption keys. It is immutable and safe for
// concurrent use. Its String and LogValue show key ids only.
type KeyRing struct {
	primary string
	keks    map[string]cipher.AEAD
}

// ParseKeyRing reads a ring from configuration: spec is a comma-separated
// list of id:key with each key 32 bytes in base64 (standard or URL
// alphabet, padded or not), e.g. "k1:<base64>,k2:<base64>"; primary names
// the key that wraps new data keys. Errors name key ids, never key material.
func ParseKeyRing(spec, primary string) (*KeyRing, error) {
	keys := make(map[string][]byte)
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, encoded, ok := strings.Cut(entry, ":")
		if !ok {
			// Not even the id is known; say which entry, not what it holds.
			return nil, fmt.Errorf("%w: entry %d is not id:base64key", ErrInvalidKeyRing, i+1)
		}
		id = strings.TrimSpace(id)
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("%w: key id %q appears twice", ErrInvalidKeyRing, id)
		}
		key, err := decodeKey(strings.TrimSpace(encoded))
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %w", ErrInvalidKeyRing, id, err)
		}
		keys[id] = key
	}
	return NewKeyRing(primary, keys)
}

// NewKeyRing builds a ring from raw 32-byte keys by id.
func NewKeyRing(primary string, keys map[string][]byte) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrInvalidKeyRing)
	}
	r := &KeyRing{primary: primary, keks: make(map[string]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if err := validKeyID(id); err != nil {
			return nil, err
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("%w: key %q is %d bytes, want %d", ErrInvalidKeyRing, id, len(key), KeySize)
		}
		aead, err := newGCM(key)
		if err != nil {
			return nil, err
		}
		r.keks[id] = aead
	}
	if _, ok := r.keks[primary]; !ok {
		return nil, fmt.Errorf("%w: primary key %q is not in the ring", ErrInvalidKeyRing, primary)
	}
	return r, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	// The decoder's message quotes an offset into the secret; leave it out.
	return nil, fmt.Errorf("not valid base64")
}

func validKeyID(id string) error {
	if id == "" || len(id) > maxKeyIDLen {
		return fmt.Errorf("%w: key id must be 1 to %d characters", ErrInvalidKeyRing, maxKeyIDLen)
	}
	for _, c := range id {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return fmt.Errorf("%w: key id %q: only letters, digits, - and _", ErrInvalidKeyRing, id)
		}
	}
	return nil
}

// Primary is the id of the key that wraps new data keys.
func (r KeyRing) Primary() string { return r.primary }

// IDs lists the key ids in the ring, sorted.
func (r KeyRing) IDs() []string {
	ids := make([]string, 0, len(r.keks))
	for id := range r.keks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// The printing methods have value receivers so that a dereferenced
// KeyRing is redacted too; Format covers every verb, %x and %#v included.

// String shows key ids only.
func (r KeyRing) String() string {
	return fmt.Sprintf("envelope.KeyRing{primary: %s, ids: %v}", r.primary, r.IDs())
}

// GoString shows key ids only.
func (r KeyRing) GoString() string { return r.String() }

// Format shows key ids only, whatever the verb.
func (r KeyRing) Format(f fmt.State, _ rune) { fmt.Fprint(f, r.String()) }

// LogValue shows key ids only.
func (r KeyRing) LogValue() slog.Value {
	return slog.GroupValue(slog.String("primary", r.primary), slog.Any("ids", r.IDs()))
}

// Wrap encrypts a data key under the primary KEK, bound to orgID.
func (r *KeyRing) Wrap(orgID string, dk *DataKey) (string, error) {
	return r.wrapWith(r.primary, orgID, dk)
}

func (r *KeyRing) wrapWith(kekID, orgID string, dk *DataKey) (string, error) {
	aead := r.keks[kekID]
	header := make([]byte, 0, 2+len(kekID)+dataKeyIDLen)
	header = append(header, formatVersion, byte(len(kekID)))
	header = append(header, kekID...)
	header = append(header, dk.id[:]...)

	out := make([]byte, len(header), len(header)+aead.NonceSize()+KeySize+aead.Overhead())
	copy(out, header)
	nonce := out[len(out) : len(out)+aead.NonceSize()]
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("envelope: nonce: %w", err)
	}
	out = out[:len(out)+len(nonce)]
	out = aead.Seal(out, nonce, dk.raw[:], additionalData(wrapDomain, header, []string{orgID}))
	return wrappedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// wrappedKey is a parsed wrapped data key.
type wrappedKey struct {
	kekID      string
	dataKeyID  [dataKeyIDLen]byte
	header     []byte
	nonce, box []byte
}

func parseWrapped(s string) (wrappedKey, error) {
	rest, ok := strings.CutPrefix(s, wrappedPrefix)
	if !ok {
		return wrappedKey{}, fmt.Errorf("%w: not a wrapped data key", ErrMalformed)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return wrappedKey{}, fmt.Errorf("%w: wrapped data key is not base64url", ErrMalformed)
	}
	if len(b) < 2 {
		return wrappedKey{}, fmt.Errorf("%w: wrapped data key too short", ErrMalformed)
	}
	if b[0] != formatVersion {
		return wrappedKey{}, fmt.Errorf("%w: wrapped data key version %d", ErrMalformed, b[0])
	}
	idLen := int(b[1])
	const nonceLen, boxLen = 12, KeySize + 16
	headerLen := 2 + idLen + dataKeyIDLen
	if idLen == 0 || idLen > maxKeyIDLen || len(b) != headerLen+nonceLen+boxLen {
		return wrappedKey{}, fmt.Errorf("%w: wrapped data key has the wrong length", ErrMalformed)
	}
	w := wrappedKey{
		kekID:  string(b[2 : 2+idLen]),
		header: b[:headerLen],
		nonce:  b[headerLen : headerLen+nonceLen],
		box:    b[headerLen+nonceLen:],
	}
	copy(w.dataKeyID[:], b[2+idLen:headerLen])
	return w, nil
}

// Unwrap decrypts a wrapped data key with whichever KEK it names, checking
// that it belongs to orgID.
func (r *KeyRing) Unwrap(orgID, wrapped string) (*DataKey, error) {
	w, err := parseWrapped(wrapped)
	if err != nil {
		return nil, err
	}
	aead, ok := r.keks[w.kekID]
	if !ok {
		return nil, fmt.Errorf("%w %q (ring has %v)", ErrUnknownKeyID, w.kekID, r.IDs())
	}
	raw, err := aead.Open(nil, w.nonce, w.box, additionalData(wrapDomain, w.header, []string{orgID}))
	if err != nil {
		return nil, fmt.Errorf("%w: data key wrapped by %q for another organization, or altered", ErrDecrypt, w.kekID)
	}
	dk, err := dataKeyFrom(w.dataKeyID, raw)
	clear(raw)
	return dk, err
}

// Rewrap re-wraps a data key under the primary KEK. It reports whether
// anything changed: a key already under the primary is returned as is, so
// a rotation job can run again safely.
func (r *KeyRing) Rewrap(orgID, wrapped string) (rewrapped string, changed bool, err error) {
	dk, err := r.Unwrap(orgID, wrapped)
	if err != nil {
		return "", false, err
	}
	if kekID, err := WrappedKeyID(wrapped); err == nil && kekID == r.primary {
		return wrapped, false, nil
	}
	rewrapped, err = r.Wrap(orgID, dk)
	if err != nil {
		return "", false, err
	}
	return rewrapped, true, nil
}

// WrappedKeyID returns the id of the KEK a wrapped data key is under,
// without decrypting it: a rotation job uses it to find keys to re-wrap.
func WrappedKeyID(wrapped string) (string, error) {
	w, err := parseWrapped(wrapped)
	if err != nil {
		return "", err
	}
	return w.kekID, nil
}
