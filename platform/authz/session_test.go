package authz

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tandemhq/tandem/platform/apperr"

	"github.com/tandemhq/tandem/platform/config/configtest"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func newKey(t testing.TB, id string) SigningKey {
	t.Helper()
	k, err := NewSigningKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSigner(t testing.TB, k SigningKey) *Signer {
	t.Helper()
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fixedClock(at time.Time) func() time.Time { return func() time.Time { return at } }

var alice = SessionClaims{UserID: "usr_alice", OrgID: "org_acme", Role: RoleRecruiter, SessionID: "ses_1"}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := newKey(t, "k1")
	s := newSigner(t, k)
	tok, err := s.Sign(alice, 15*time.Minute, t0.Add(123*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(StaticKeys{"k1": k.Public()}, VerifierOptions{Now: fixedClock(t0.Add(time.Minute))})
	got, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.UserID != alice.UserID || got.OrgID != alice.OrgID || got.Role != alice.Role || got.SessionID != alice.SessionID {
		t.Fatalf("claims = %+v", got)
	}
	if !got.IssuedAt.Equal(t0) || !got.NotBefore.Equal(t0) || !got.Expiry.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("times = %v %v %v", got.IssuedAt, got.NotBefore, got.Expiry)
	}
	if len(got.ID) < 20 {
		t.Fatalf("jti %q too short to be random", got.ID)
	}
	if p := got.Principal(); p.Kind != KindUser || p.UserID != "usr_alice" || p.SessionID != "ses_1" {
		t.Fatalf("principal = %+v", p)
	}
	// The header is what verifiers in other services rely on.
	jws, err := jose.ParseSignedCompact(tok, acceptedAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Header
	if h.KeyID != "k1" || h.Algorithm != "EdDSA" || h.ExtraHeaders[jose.HeaderType] != sessionTokenType {
		t.Fatalf("header = %+v", h)
	}
	again, err := s.Sign(alice, 15*time.Minute, t0)
	if err != nil {
		t.Fatal(err)
	}
	if again == tok {
		t.Fatal("two tokens are identical: jti is not random")
	}
}

func TestSignRefusesIncompleteClaims(t *testing.T) {
	s := newSigner(t, newKey(t, "k1"))
	for name, c := range map[string]SessionClaims{
		"no user":    {OrgID: "o", SessionID: "s", Role: RoleMember},
		"no org":     {UserID: "u", SessionID: "s", Role: RoleMember},
		"no session": {UserID: "u", OrgID: "o", Role: RoleMember},
		"bad role":   {UserID: "u", OrgID: "o", SessionID: "s", Role: "owner"},
	} {
		if _, err := s.Sign(c, time.Minute, t0); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if _, err := s.Sign(alice, 0, t0); err == nil {
		t.Error("zero ttl signed")
	}
}

func TestSigningKeyFromSeed(t *testing.T) {
	k := newKey(t, "k1")
	again, err := SigningKeyFromSeed("k1", k.Key.Seed())
	if err != nil || !again.Public().Equal(k.Public()) {
		t.Fatalf("seed round trip: %v", err)
	}
	if _, err := SigningKeyFromSeed("k1", []byte("short")); err == nil {
		t.Fatal("short seed accepted")
	}
	if _, err := SigningKeyFromSeed("", k.Key.Seed()); err == nil {
		t.Fatal("key without id accepted")
	}
}

func TestSigningKeyNeverPrintsTheKey(t *testing.T) {
	k := newKey(t, "k1")
	secrets := []string{
		hex.EncodeToString(k.Key.Seed()),
		base64.StdEncoding.EncodeToString(k.Key),
		base64.StdEncoding.EncodeToString(k.Key.Seed()),
		fmt.Sprintf("%v", []byte(k.Key)[:8]),
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key", "k", k)
	js, err := json.Marshal(struct{ K SigningKey }{k})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{logged.String(), string(js)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, &k))
	}
	configtest.NoSecrets(t, k, append(secrets, string(k.Key))...)
	for _, out := range outs {
		if !strings.Contains(out, "k1") {
			t.Errorf("output lost the key id: %q", out)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output holds key material: %q", out)
			}
		}
	}
}

// segment is base64url of v's JSON.
func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func validWire(now time.Time) sessionWire {
	return sessionWire{
		Claims: jwt.Claims{
			Issuer: SessionIssuer, Audience: jwt.Audience{SessionAudience}, Subject: "usr_alice", ID: "jti-1",
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(10 * time.Minute)),
		},
		Org: "org_acme", Role: RoleRecruiter, SID: "ses_1",
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := newKey(t, "k1")
	other := newKey(t, "k1") // same kid, different key: a forger's guess
	stranger := newKey(t, "k9")
	s := newSigner(t, k)
	keys := StaticKeys{"k1": k.Public()}
	v := NewVerifier(keys, VerifierOptions{Now: fixedClock(t0)})

	sign := func(s *Signer, mutate func(*sessionWire)) string {
		w := validWire(t0)
		if mutate != nil {
			mutate(&w)
		}
		tok, err := s.sign(w)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(s, nil)
	parts := strings.Split(good, ".")
	header := map[string]any{"alg": "EdDSA", "kid": "k1", "typ": sessionTokenType}
	withAlg := func(alg string) map[string]any {
		h := map[string]any{"kid": "k1", "typ": sessionTokenType, "alg": alg}
		return h
	}
	hs256 := func() string {
		// The classic confusion: the public key used as an HMAC secret.
		input := segment(t, withAlg("HS256")) + "." + parts[1]
		mac := hmac.New(sha256.New, k.Public())
		mac.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	tamperedPayload := func() string {
		w := validWire(t0)
		w.Role = RoleSuperAdmin
		return parts[0] + "." + segment(t, w) + "." + parts[2]
	}
	tamperedSignature := func() string {
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		sig[10] ^= 0x01
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	wrongType := func() string {
		js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: k.Key, KeyID: "k1"}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(validWire(t0))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := js.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	noKid := func() string {
		h := map[string]any{"alg": "EdDSA", "typ": sessionTokenType}
		input := segment(t, h) + "." + parts[1]
		return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.Key, []byte(input)))
	}

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrTokenMalformed},
		{"garbage", "not a token", ErrTokenMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrTokenMalformed},
		{"huge", strings.Repeat("a", 3000) + "." + strings.Repeat("b", 3000) + "." + parts[2], ErrTokenMalformed},
		{"bad base64", parts[0] + ".%%%." + parts[2], ErrTokenMalformed},
		{"alg none", segment(t, withAlg("none")) + "." + parts[1] + ".", ErrTokenAlgorithm},
		{"alg none with signature", segment(t, withAlg("none")) + "." + parts[1] + "." + parts[2], ErrTokenAlgorithm},
		{"HS256 with the public key", hs256(), ErrTokenAlgorithm},
		{"RS256", segment(t, withAlg("RS256")) + "." + parts[1] + "." + parts[2], ErrTokenAlgorithm},
		{"ES256", segment(t, withAlg("ES256")) + "." + parts[1] + "." + parts[2], ErrTokenAlgorithm},
		{"typ JWT", wrongType(), ErrTokenType},
		{"no kid", noKid(), ErrUnknownKey},
		{"unknown kid", sign(newSigner(t, stranger), nil), ErrUnknownKey},
		{"known kid, other key", sign(newSigner(t, other), nil), ErrTokenSignature},
		{"tampered payload", tamperedPayload(), ErrTokenSignature},
		{"tampered signature", tamperedSignature(), ErrTokenSignature},
		{"header swapped", segment(t, header) + "x." + parts[1] + "." + parts[2], ErrTokenMalformed},
		{"wrong issuer", sign(s, func(w *sessionWire) { w.Issuer = "tandem-evil" }), ErrTokenIssuer},
		{"no issuer", sign(s, func(w *sessionWire) { w.Issuer = "" }), ErrTokenIssuer},
		{"wrong audience", sign(s, func(w *sessionWire) { w.Audience = jwt.Audience{"other"} }), ErrTokenAudience},
		{"no audience", sign(s, func(w *sessionWire) { w.Audience = nil }), ErrTokenAudience},
		{"no subject", sign(s, func(w *sessionWire) { w.Subject = "" }), ErrTokenClaims},
		{"no org", sign(s, func(w *sessionWire) { w.Org = "" }), ErrTokenClaims},
		{"no sid", sign(s, func(w *sessionWire) { w.SID = "" }), ErrTokenClaims},
		{"no jti", sign(s, func(w *sessionWire) { w.ID = "" }), ErrTokenClaims},
		{"no exp", sign(s, func(w *sessionWire) { w.Expiry = nil }), ErrTokenClaims},
		{"no nbf", sign(s, func(w *sessionWire) { w.NotBefore = nil }), ErrTokenClaims},
		{"no iat", sign(s, func(w *sessionWire) { w.IssuedAt = nil }), ErrTokenClaims},
		{"no role", sign(s, func(w *sessionWire) { w.Role = "" }), ErrTokenClaims},
		{"unknown role", sign(s, func(w *sessionWire) { w.Role = "owner" }), ErrTokenClaims},
		{"expired", sign(s, func(w *sessionWire) { w.Expiry = jwt.NewNumericDate(t0.Add(-DefaultLeeway)) }), ErrTokenExpired},
		{"not yet valid", sign(s, func(w *sessionWire) { w.NotBefore = jwt.NewNumericDate(t0.Add(DefaultLeeway + time.Second)) }), ErrTokenNotYetValid},
		{"issued in the future", sign(s, func(w *sessionWire) { w.IssuedAt = jwt.NewNumericDate(t0.Add(DefaultLeeway + time.Second)) }), ErrTokenNotYetValid},
	}
	if _, err := v.Verify(t.Context(), good); err != nil {
		t.Fatalf("the untampered token must verify: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			assertRefusal(t, err, tc.token)
		})
	}
}

// assertRefusal checks what every refused token has in common: the
// client sees Unauthenticated with the generic message, and no part of the
// token appears in the error.
func assertRefusal(t *testing.T, err error, token string) {
	t.Helper()
	if !errors.Is(err, ErrTokenInvalid) || !errors.Is(err, apperr.ErrUnauthenticated) {
		t.Fatalf("err = %v, want Unauthenticated wrapping ErrTokenInvalid", err)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Public != UnauthenticatedMessage {
		t.Fatalf("public message = %q", ae.Public)
	}
	for _, part := range strings.Split(token, ".") {
		if len(part) >= 8 && strings.Contains(err.Error(), part) {
			t.Fatalf("error echoes the token: %v", err)
		}
	}
}

func TestVerifyTimeBoundaries(t *testing.T) {
	k := newKey(t, "k1")
	tok, err := newSigner(t, k).Sign(alice, 10*time.Minute, t0)
	if err != nil {
		t.Fatal(err)
	}
	exp := t0.Add(10 * time.Minute)
	cases := []struct {
		name   string
		leeway time.Duration
		now    time.Time
		want   error
	}{
		{"fresh", 0, t0, nil},
		{"just before expiry plus default leeway", 0, exp.Add(DefaultLeeway - time.Second), nil},
		{"at expiry plus default leeway", 0, exp.Add(DefaultLeeway), ErrTokenExpired},
		{"no leeway: at expiry", -1, exp, ErrTokenExpired},
		{"no leeway: a second before", -1, exp.Add(-time.Second), nil},
		{"no leeway: before nbf", -1, t0.Add(-time.Second), ErrTokenNotYetValid},
		{"default leeway covers skew", 0, t0.Add(-DefaultLeeway), nil},
		{"beyond the leeway", 0, t0.Add(-DefaultLeeway - time.Second), ErrTokenNotYetValid},
		{"leeway capped at MaxLeeway", time.Hour, exp.Add(MaxLeeway), ErrTokenExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(StaticKeys{"k1": k.Public()}, VerifierOptions{Now: fixedClock(tc.now), Leeway: tc.leeway})
			_, err := v.Verify(t.Context(), tok)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			assertRefusal(t, err, tok)
		})
	}
}

type failingKeys struct{ err error }

func (f failingKeys) VerificationKey(context.Context, string) (ed25519.PublicKey, error) {
	return nil, f.err
}

func TestVerifyWhenKeysCannotBeFetched(t *testing.T) {
	tok, err := newSigner(t, newKey(t, "k1")).Sign(alice, time.Minute, t0)
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("identity: connection refused")
	v := NewVerifier(failingKeys{cause}, VerifierOptions{Now: fixedClock(t0)})
	_, err = v.Verify(t.Context(), tok)
	if !errors.Is(err, apperr.ErrUnavailable) || !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, cause) {
		t.Fatalf("err = %v, want Unavailable wrapping the fetch error", err)
	}
	if errors.Is(err, apperr.ErrUnauthenticated) {
		t.Fatal("an outage must not log people out")
	}
}
