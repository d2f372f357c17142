package authz

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/tandemhq/tandem/platform/apperr"
)

// Why a session token was refused. Every one also matches ErrTokenInvalid;
// none reaches the client, which always sees the same Unauthenticated
// message, so a forger learns nothing about which check stopped them.
var (
	ErrTokenInvalid     = errors.New("authz: invalid session token")
	ErrTokenMalformed   = errors.New("authz: malformed session token")
	ErrTokenAlgorithm   = errors.New("authz: session token algorithm not accepted")
	ErrTokenType        = errors.New("authz: not a session token")
	ErrTokenSignature   = errors.New("authz: session token signature does not verify")
	ErrTokenIssuer      = errors.New("authz: session token issuer not accepted")
	ErrTokenAudience    = errors.New("authz: session token audience not accepted")
	ErrTokenExpired     = errors.New("authz: session token expired")
	ErrTokenNotYetValid = errors.New("authz: session token not yet valid")
	ErrTokenClaims      = errors.New("authz: session token claims missing or invalid")
)

// UnauthenticatedMessage is all a client is told about a refused credential.
const UnauthenticatedMessage = "invalid or expired credentials"

const (
	// DefaultLeeway absorbs clock skew between identity and the verifier.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway bounds the leeway; revocations are kept this much longer
	// than the token they revoke, so a larger leeway would reopen them.
	MaxLeeway = time.Minute
	// maxTokenLen refuses absurd inputs before any decoding. Our tokens are
	// about 400 bytes.
	maxTokenLen = 4096
)

// VerifierOptions tunes a Verifier.
type VerifierOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Leeway is allowed on exp, nbf and iat: 0 means DefaultLeeway, a
	// negative value none; values above MaxLeeway are cut to it.
	Leeway time.Duration
}

// Verifier checks session tokens. It is safe for concurrent use.
type Verifier struct {
	keys   KeySource
	now    func() time.Time
	leeway time.Duration
}

// NewVerifier returns a Verifier trusting the keys of keys.
func NewVerifier(keys KeySource, opts VerifierOptions) *Verifier {
	v := &Verifier{keys: keys, now: opts.Now, leeway: opts.Leeway}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	case v.leeway > MaxLeeway:
		v.leeway = MaxLeeway
	}
	return v
}

// acceptedAlgorithms is the whole list: "none", HMAC and RSA are refused by
// the parser, so a token cannot choose how it is checked.
var acceptedAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA}

// Verify checks token and returns its claims. A refused token is an
// apperr.Unauthenticated with a generic message wrapping ErrTokenInvalid
// and the specific reason; keys that cannot be fetched are an
// apperr.Unavailable. No error ever contains the token.
func (v *Verifier) Verify(ctx context.Context, token string) (SessionClaims, error) {
	c, err := v.verify(ctx, token)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, ErrKeysUnavailable):
		return SessionClaims{}, apperr.Unavailable("cannot verify credentials now", err)
	default:
		return SessionClaims{}, refused(err)
	}
}

func refused(reason error) error {
	return apperr.Unauthenticated(UnauthenticatedMessage).Wrap(fmt.Errorf("%w: %w", ErrTokenInvalid, reason))
}

func (v *Verifier) verify(ctx context.Context, token string) (SessionClaims, error) {
	if len(token) > maxTokenLen || strings.Count(token, ".") != 2 {
		return SessionClaims{}, ErrTokenMalformed
	}
	jws, err := jose.ParseSignedCompact(token, acceptedAlgorithms)
	if err != nil {
		// go-jose's text may quote the header; keep only our sentinel.
		if alg := headerAlgorithm(token); alg != "" && alg != string(jose.EdDSA) {
			return SessionClaims{}, ErrTokenAlgorithm
		}
		return SessionClaims{}, ErrTokenMalformed
	}
	if len(jws.Signatures) != 1 {
		return SessionClaims{}, ErrTokenMalformed
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != sessionTokenType {
		return SessionClaims{}, ErrTokenType
	}
	if h.KeyID == "" {
		return SessionClaims{}, ErrUnknownKey
	}
	key, err := v.keys.VerificationKey(ctx, h.KeyID)
	if err != nil {
		if errors.Is(err, ErrUnknownKey) {
			return SessionClaims{}, ErrUnknownKey
		}
		if errors.Is(err, ErrKeysUnavailable) {
			return SessionClaims{}, err
		}
		return SessionClaims{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return SessionClaims{}, ErrTokenSignature
	}
	var w sessionWire
	if err := json.Unmarshal(payload, &w); err != nil {
		return SessionClaims{}, ErrTokenClaims
	}
	return v.check(w)
}

// check applies the claim rules to a payload whose signature verified.
func (v *Verifier) check(w sessionWire) (SessionClaims, error) {
	if w.Issuer != SessionIssuer {
		return SessionClaims{}, ErrTokenIssuer
	}
	if !w.Audience.Contains(SessionAudience) {
		return SessionClaims{}, ErrTokenAudience
	}
	if w.Subject == "" || w.Org == "" || w.SID == "" || w.ID == "" ||
		w.IssuedAt == nil || w.NotBefore == nil || w.Expiry == nil {
		return SessionClaims{}, fmt.Errorf("%w: a required claim is missing", ErrTokenClaims)
	}
	if !w.Role.Valid() {
		return SessionClaims{}, fmt.Errorf("%w: role", ErrTokenClaims)
	}
	now := v.now()
	exp, nbf, iat := w.Expiry.Time(), w.NotBefore.Time(), w.IssuedAt.Time()
	if !now.Before(exp.Add(v.leeway)) {
		return SessionClaims{}, ErrTokenExpired
	}
	if now.Add(v.leeway).Before(nbf) || now.Add(v.leeway).Before(iat) {
		return SessionClaims{}, ErrTokenNotYetValid
	}
	return SessionClaims{
		UserID:    w.Subject,
		OrgID:     w.Org,
		Role:      w.Role,
		SessionID: w.SID,
		ID:        w.ID,
		IssuedAt:  iat,
		NotBefore: nbf,
		Expiry:    exp,
	}, nil
}

// headerAlgorithm reads "alg" from a token's header without trusting it;
// it only tells a refused algorithm apart from garbage, for the log.
func headerAlgorithm(token string) string {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	return h.Alg
}
