package microsoft

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// signingKey is one key of the JWKS. Microsoft publishes several keys at
// once and rolls them over: a new key is published before it signs, and the
// old one stays published for a while after it stopped.
type signingKey struct {
	priv   *rsa.PrivateKey
	jwk    jose.JSONWebKey
	signer jose.Signer
	state  string // simclient.KeyNext, KeyCurrent or KeyPrevious
}

func newSigningKey(priv *rsa.PrivateKey, state string) (*signingKey, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		// Fixed validity so the certificate, and with it the key id (its
		// thumbprint), is the same for the same key in every simulator:
		// two simulators sharing a process key publish the same kid.
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:  time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("microsoft: self-signed certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("microsoft: parse certificate: %w", err)
	}
	thumb := sha1.Sum(der)
	kid := base64.RawURLEncoding.EncodeToString(thumb[:])
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t", kid),
	)
	if err != nil {
		return nil, fmt.Errorf("microsoft: signer: %w", err)
	}
	return &signingKey{
		priv: priv,
		jwk: jose.JSONWebKey{
			Key: &priv.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig",
			Certificates: []*x509.Certificate{cert}, CertificateThumbprintSHA1: thumb[:],
		},
		signer: signer,
		state:  state,
	}, nil
}

// initKeys sets the keys a platform starts (and resets) with: the current
// one and the next one, both published.
func (p *Platform) initKeys() error {
	cur, err := newSigningKey(p.initialKeys[0], simclient.KeyCurrent)
	if err != nil {
		return err
	}
	keys := []*signingKey{cur}
	if len(p.initialKeys) > 1 {
		next, err := newSigningKey(p.initialKeys[1], simclient.KeyNext)
		if err != nil {
			return err
		}
		keys = append(keys, next)
	}
	p.mu.Lock()
	p.keys = keys
	p.mu.Unlock()
	return nil
}

func (p *Platform) keyLocked(state string) *signingKey {
	for _, k := range p.keys {
		if k.state == state {
			return k
		}
	}
	return nil
}

// sign returns a compact JWS of the claims, signed with the current key.
func (p *Platform) sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	cur := p.keyLocked(simclient.KeyCurrent)
	jws, err := cur.signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// publishedKeys is the JWKS: the current key first, then the next and the
// previous ones, each as Microsoft publishes them (no alg, an issuer).
func (p *Platform) publishedKeys(issuer string) ([]map[string]any, error) {
	p.mu.Lock()
	keys := slices.Clone(p.keys)
	p.mu.Unlock()
	rank := map[string]int{simclient.KeyCurrent: 0, simclient.KeyNext: 1, simclient.KeyPrevious: 2}
	slices.SortStableFunc(keys, func(a, b *signingKey) int { return rank[a.state] - rank[b.state] })
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		raw, err := k.jwk.MarshalJSON()
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		delete(m, "alg") // Microsoft's keys carry no alg
		m["issuer"] = issuer
		out = append(out, m)
	}
	return out, nil
}

// SigningKeys lists the keys and their states, for the control API.
func (p *Platform) SigningKeys() []simclient.SigningKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]simclient.SigningKey, 0, len(p.keys))
	for _, k := range p.keys {
		out = append(out, simclient.SigningKey{KeyID: k.jwk.KeyID, State: k.state})
	}
	return out
}

// RolloverKeys takes one step of a key rollover: publish a new key (not
// used yet), activate it (the current key becomes previous, still
// published), or retire the previous keys (tokens they signed stop
// verifying).
func (p *Platform) RolloverKeys(phase string) ([]simclient.SigningKey, error) {
	switch phase {
	case simclient.RolloverPublish:
		p.mu.Lock()
		exists := p.keyLocked(simclient.KeyNext) != nil
		p.mu.Unlock()
		if exists {
			return nil, fmt.Errorf("%w: a next key is already published; activate it first", ErrConflict)
		}
		priv, err := p.generateKey()
		if err != nil {
			return nil, err
		}
		k, err := newSigningKey(priv, simclient.KeyNext)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		if p.keyLocked(simclient.KeyNext) == nil {
			p.keys = append(p.keys, k)
		}
		p.mu.Unlock()
	case simclient.RolloverActivate:
		p.mu.Lock()
		next := p.keyLocked(simclient.KeyNext)
		if next == nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: no next key is published; publish one first", ErrConflict)
		}
		p.keyLocked(simclient.KeyCurrent).state = simclient.KeyPrevious
		next.state = simclient.KeyCurrent
		p.mu.Unlock()
	case simclient.RolloverRetire:
		p.mu.Lock()
		n := len(p.keys)
		p.keys = slices.DeleteFunc(p.keys, func(k *signingKey) bool { return k.state == simclient.KeyPrevious })
		retired := n - len(p.keys)
		p.mu.Unlock()
		if retired == 0 {
			return nil, fmt.Errorf("%w: no previous key to retire; activate a new key first", ErrConflict)
		}
	default:
		return nil, fmt.Errorf("%w: phase must be %s, %s or %s", ErrInvalid, simclient.RolloverPublish, simclient.RolloverActivate, simclient.RolloverRetire)
	}
	p.counters.Inc("microsoft.keys.rollover/" + phase)
	return p.SigningKeys(), nil
}
