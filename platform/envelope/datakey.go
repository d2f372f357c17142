package envelope

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
)

// DataKey is an unwrapped data key. It is safe for concurrent use. Its
// String and LogValue show its id only.
type DataKey struct {
	id   [dataKeyIDLen]byte
	raw  [KeySize]byte // kept to wrap it again under a new KEK
	aead cipher.AEAD
}

// NewDataKey generates a random data key with a random id.
func NewDataKey() (*DataKey, error) {
	var id [dataKeyIDLen]byte
	var raw [KeySize]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("envelope: data key id: %w", err)
	}
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("envelope: data key: %w", err)
	}
	dk, err := dataKeyFrom(id, raw[:])
	clear(raw[:])
	return dk, err
}

func dataKeyFrom(id [dataKeyIDLen]byte, raw []byte) (*DataKey, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("%w: data key is %d bytes", ErrMalformed, len(raw))
	}
	dk := &DataKey{id: id}
	copy(dk.raw[:], raw)
	aead, err := newGCM(dk.raw[:])
	if err != nil {
		return nil, err
	}
	dk.aead = aead
	return dk, nil
}

// ID is the data key's public identifier, stored in every value it seals.
func (k *DataKey) ID() string { return hex.EncodeToString(k.id[:]) }

// The printing methods have value receivers so that a dereferenced
// DataKey is redacted too; Format covers every verb, %x and %#v included.

// String shows the id only.
func (k DataKey) String() string { return "envelope.DataKey{id: " + k.ID() + ", key: REDACTED}" }

// GoString shows the id only.
func (k DataKey) GoString() string { return k.String() }

// Format shows the id only, whatever the verb.
func (k DataKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue shows the id only.
func (k DataKey) LogValue() slog.Value { return slog.GroupValue(slog.String("id", k.ID())) }

// Seal encrypts plaintext, bound to the given strings: the value opens only
// with the same bindings in the same order. Bind what identifies the row the
// value belongs to (organization id, connection id, field name).
func (k *DataKey) Seal(plaintext []byte, bind ...string) (string, error) {
	header := make([]byte, 0, 1+dataKeyIDLen)
	header = append(header, formatVersion)
	header = append(header, k.id[:]...)

	ns := k.aead.NonceSize()
	out := make([]byte, len(header)+ns, len(header)+ns+len(plaintext)+k.aead.Overhead())
	copy(out, header)
	nonce := out[len(header):]
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("envelope: nonce: %w", err)
	}
	out = k.aead.Seal(out, nonce, plaintext, additionalData(sealDomain, header, bind))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed by Seal with the same bindings.
func (k *DataKey) Open(sealed string, bind ...string) ([]byte, error) {
	v, err := parseSealed(sealed)
	if err != nil {
		return nil, err
	}
	if v.dataKeyID != k.id {
		return nil, fmt.Errorf("%w: sealed under %s, opening with %s", ErrDataKeyMismatch, hex.EncodeToString(v.dataKeyID[:]), k.ID())
	}
	pt, err := k.aead.Open(nil, v.nonce, v.box, additionalData(sealDomain, v.header, bind))
	if err != nil {
		// Bindings are not repeated here: they may be identifying data.
		return nil, fmt.Errorf("%w: value altered or opened with other bindings", ErrDecrypt)
	}
	return pt, nil
}

type sealedValue struct {
	dataKeyID  [dataKeyIDLen]byte
	header     []byte
	nonce, box []byte
}

func parseSealed(s string) (sealedValue, error) {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return sealedValue{}, fmt.Errorf("%w: not a sealed value", ErrMalformed)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return sealedValue{}, fmt.Errorf("%w: sealed value is not base64url", ErrMalformed)
	}
	const headerLen, nonceLen, tagLen = 1 + dataKeyIDLen, 12, 16
	if len(b) < headerLen+nonceLen+tagLen {
		return sealedValue{}, fmt.Errorf("%w: sealed value too short", ErrMalformed)
	}
	if b[0] != formatVersion {
		return sealedValue{}, fmt.Errorf("%w: sealed value version %d", ErrMalformed, b[0])
	}
	v := sealedValue{header: b[:headerLen], nonce: b[headerLen : headerLen+nonceLen], box: b[headerLen+nonceLen:]}
	copy(v.dataKeyID[:], b[1:headerLen])
	return v, nil
}
