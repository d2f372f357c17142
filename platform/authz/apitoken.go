package authz

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"
)

// APITokenPrefix starts every API token, so people, log scrubbers and
// secret scanners can recognize one, and the Authenticator can tell it from
// a session token without parsing.
const APITokenPrefix = "tdm_"

// ErrAPITokenInvalid is what an APITokenResolver returns (wrapped) for a
// token that does not authenticate: unknown, revoked or expired. Any other
// error is taken as "cannot tell now" and the call is refused as
// Unavailable.
var ErrAPITokenInvalid = errors.New("authz: invalid API token")

// APITokenResolver finds who an API token stands for. Identity implements
// it over its store; other services over a gRPC call to identity. The
// Principal must be of KindAPIToken with an organization, a token id and a
// valid role. Errors must never contain the token.
type APITokenResolver interface {
	ResolveAPIToken(ctx context.Context, token string) (Principal, error)
}

// apiTokenEncoding is lower-case base32 without padding: only letters and
// digits, so a double click selects the whole token and no URL or shell
// escaping is ever needed.
var apiTokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// apiTokenBytes is the token's entropy: 256 bits, beyond any guessing.
const apiTokenBytes = 32

// NewAPIToken returns a fresh token, to show its creator once, and the hash
// identity stores instead of it.
func NewAPIToken() (token string, hash []byte) {
	var b [apiTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead
	token = APITokenPrefix + apiTokenEncoding.EncodeToString(b[:])
	return token, HashAPIToken(token)
}

// HashAPIToken is the lookup key of a token. A plain SHA-256 is enough, and
// a slow password hash would be wrong: the input has 256 bits of entropy,
// so there is nothing to brute-force, and the lookup happens on every call.
// Looking the hash up (rather than comparing secrets) also means no
// timing of a byte-by-byte compare can leak the token.
func HashAPIToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// IsAPIToken reports whether s has the shape of an API token.
func IsAPIToken(s string) bool {
	rest, ok := strings.CutPrefix(s, APITokenPrefix)
	if !ok || len(rest) != apiTokenEncoding.EncodedLen(apiTokenBytes) {
		return false
	}
	_, err := apiTokenEncoding.DecodeString(rest)
	return err == nil
}
