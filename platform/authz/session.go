package authz

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	// SessionIssuer is the only issuer of session tokens.
	SessionIssuer = "tandem-identity"
	// SessionAudience is the audience every Tandem service accepts.
	SessionAudience = "tandem"
	// sessionTokenType is the JOSE "typ" header. Explicit typing (RFC 8725
	// §3.11) stops any other JWS that identity might one day sign with the
	// same key from being accepted as a session.
	sessionTokenType = "tandem-session+jwt"
)

// SessionClaims is what a session token says about its bearer.
type SessionClaims struct {
	UserID    string // "sub"
	OrgID     string // "org"
	Role      Role   // "role"
	SessionID string // "sid": the login session, which can be revoked
	// Set by Sign and filled by Verify; Sign ignores what the caller put here.
	ID        string // "jti"
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
}

// Principal is the caller these claims describe.
func (c SessionClaims) Principal() Principal {
	return Principal{Kind: KindUser, OrgID: c.OrgID, UserID: c.UserID, SessionID: c.SessionID, Role: c.Role}
}

// sessionWire is the JSON payload of a session token.
type sessionWire struct {
	jwt.Claims
	Org  string `json:"org,omitempty"`
	Role Role   `json:"role,omitempty"`
	SID  string `json:"sid,omitempty"`
}

// SigningKey is identity's private key for session tokens. ID becomes the
// "kid" header so verifiers pick the matching public key during rotation.
type SigningKey struct {
	ID  string
	Key ed25519.PrivateKey
}

// NewSigningKey generates a fresh key.
func NewSigningKey(id string) (SigningKey, error) {
	if id == "" {
		return SigningKey{}, errors.New("authz: signing key needs an id")
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("authz: generating signing key: %w", err)
	}
	return SigningKey{ID: id, Key: priv}, nil
}

// SigningKeyFromSeed rebuilds a key from its 32-byte seed, the form in which
// identity keeps it in configuration.
func SigningKeyFromSeed(id string, seed []byte) (SigningKey, error) {
	if id == "" {
		return SigningKey{}, errors.New("authz: signing key needs an id")
	}
	if len(seed) != ed25519.SeedSize {
		return SigningKey{}, fmt.Errorf("authz: signing key seed must be %d bytes", ed25519.SeedSize)
	}
	return SigningKey{ID: id, Key: ed25519.NewKeyFromSeed(seed)}, nil
}

// Public is the key verifiers need.
func (k SigningKey) Public() ed25519.PublicKey {
	// An ed25519.PrivateKey's Public is always an ed25519.PublicKey.
	pub, _ := k.Key.Public().(ed25519.PublicKey)
	return pub
}

func (k SigningKey) String() string { return "SigningKey{ID: " + k.ID + ", Key: [redacted]}" }

// GoString keeps %#v from printing the private key.
func (k SigningKey) GoString() string { return k.String() }

// Format makes every fmt verb print the redacted form; without it %d or %x
// on the struct would print the key bytes.
func (k SigningKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue redacts the key.
func (k SigningKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("key", "[redacted]"))
}

// MarshalJSON redacts the key, so a config dump or a debug endpoint cannot
// leak it. Persist k.Key.Seed() explicitly (and encrypted) instead.
func (k SigningKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"id": k.ID, "key": "[redacted]"})
}

// Signer mints session tokens. It is safe for concurrent use.
type Signer struct {
	kid    string
	signer jose.Signer
}

// NewSigner returns a Signer for key.
func NewSigner(key SigningKey) (*Signer, error) {
	if key.ID == "" || len(key.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("authz: signing key needs an id and an Ed25519 private key")
	}
	opts := (&jose.SignerOptions{}).WithType(sessionTokenType)
	s, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.EdDSA,
		Key:       jose.JSONWebKey{Key: key.Key, KeyID: key.ID, Algorithm: string(jose.EdDSA)},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("authz: session signer: %w", err)
	}
	return &Signer{kid: key.ID, signer: s}, nil
}

// KeyID is the "kid" this signer puts in tokens.
func (s *Signer) KeyID() string { return s.kid }

// Sign mints a token for c valid from now for ttl. It sets the token id and
// times itself, so callers cannot mint a token that is valid in the past or
// for ever by mistake.
func (s *Signer) Sign(c SessionClaims, ttl time.Duration, now time.Time) (string, error) {
	if c.UserID == "" || c.OrgID == "" || c.SessionID == "" {
		return "", errors.New("authz: session claims need a user, an organization and a session")
	}
	if !c.Role.Valid() {
		return "", ErrInvalidRole
	}
	if ttl <= 0 {
		return "", errors.New("authz: session token ttl must be positive")
	}
	w := sessionWire{
		Claims: jwt.Claims{
			Issuer:    SessionIssuer,
			Audience:  jwt.Audience{SessionAudience},
			Subject:   c.UserID,
			ID:        newTokenID(),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(ttl)),
		},
		Org:  c.OrgID,
		Role: c.Role,
		SID:  c.SessionID,
	}
	return s.sign(w)
}

func (s *Signer) sign(w sessionWire) (string, error) {
	payload, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("authz: encoding session claims: %w", err)
	}
	jws, err := s.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("authz: signing session token: %w", err)
	}
	return jws.CompactSerialize()
}

// newTokenID is a random "jti": 128 bits, so ids never collide across
// identity replicas without coordination.
func newTokenID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b[:])
}
