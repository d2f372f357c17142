// Package envelope encrypts secrets at rest (OAuth tokens, API keys) with
// AES-256-GCM envelope encryption (DESIGN §4).
//
// Keys come in two layers:
//   - key-encryption keys (KEKs) come from configuration, each with an id, in
//     a KeyRing; one is the primary and wraps new data keys;
//   - a data key (DEK) per organization is generated at random on first use,
//     stored wrapped (encrypted under a KEK, bound to the organization id) by
//     the service, and seals that organization's secrets.
//
// Rotating a KEK re-wraps the small DEKs only; sealed secrets stay as they
// are because their DEK does not change.
//
// Stored formats are text: a prefix naming the kind, then unpadded base64url
// of a binary record that starts with a version byte and carries the key
// id. Wrapped data key ("edk."):
//
//	version(1)=1 | len(kek id)(1) | kek id | dek id(8) | nonce(12) | AES-GCM(dek)(32+16)
//
// Sealed value ("enc."):
//
//	version(1)=1 | dek id(8) | nonce(12) | AES-GCM(plaintext)(n+16)
//
// Everything before the nonce is authenticated as additional data, together
// with the organization id (for a DEK) or the caller's bindings (for a
// value), so a changed key id, a value copied to another row, or a DEK
// copied to another organization fails to open.
//
// Nonces are random. NIST caps random 96-bit nonces at 2^32 messages per key;
// one DEK per organization sealing a token on every refresh stays many
// orders of magnitude below that.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the size in bytes of every key: AES-256.
const KeySize = 32

var (
	// ErrInvalidKeyRing is a key ring configuration that cannot be used.
	ErrInvalidKeyRing = errors.New("envelope: invalid key ring")
	// ErrUnknownKeyID means a wrapped data key names a KEK that is not in
	// the ring (it was removed before every data key was re-wrapped).
	ErrUnknownKeyID = errors.New("envelope: unknown key id")
	// ErrMalformed is a stored value that is not one of our formats.
	ErrMalformed = errors.New("envelope: malformed value")
	// ErrDecrypt means authentication failed: the value was altered, is
	// opened with different bindings (another organization or row), or
	// under the wrong key.
	ErrDecrypt = errors.New("envelope: decryption failed")
	// ErrDataKeyMismatch means a value was sealed under a data key other
	// than its organization's current one.
	ErrDataKeyMismatch = errors.New("envelope: value sealed under another data key")
	// ErrDataKeyNotFound is returned by a DataKeyStore for an organization
	// that has no data key yet.
	ErrDataKeyNotFound = errors.New("envelope: data key not found")
	// ErrDataKeyExists is returned by DataKeyStore.PutWrapped when the
	// organization already has a data key.
	ErrDataKeyExists = errors.New("envelope: data key already exists")
	// ErrDataKeyChanged is returned by DataKeyReplacer.ReplaceWrapped when
	// the stored wrapped key is no longer the one being replaced.
	ErrDataKeyChanged = errors.New("envelope: data key changed concurrently")
)

const (
	formatVersion = 1
	dataKeyIDLen  = 8
	maxKeyIDLen   = 32

	wrappedPrefix = "edk."
	sealedPrefix  = "enc."

	// Domain separation: a wrapped DEK can never be mistaken for a sealed
	// value even if both were made under the same key.
	wrapDomain = "tandem/envelope/dek/v1\x00"
	sealDomain = "tandem/envelope/value/v1\x00"
)

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return cipher.NewGCM(block)
}

// additionalData builds domain | header | count | len-prefixed parts. The
// length prefixes keep ("ab", "c") and ("a", "bc") apart.
func additionalData(domain string, header []byte, parts []string) []byte {
	n := len(domain) + len(header) + binary.MaxVarintLen64
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	ad := make([]byte, 0, n)
	ad = append(ad, domain...)
	ad = append(ad, header...)
	ad = binary.AppendUvarint(ad, uint64(len(parts)))
	for _, p := range parts {
		ad = binary.AppendUvarint(ad, uint64(len(p)))
		ad = append(ad, p...)
	}
	return ad
}
