package oauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"time"
)

// The binding cookie ties an OAuth flow to the browser that started it
// (ADR 9): identity stores the SHA-256 of its value with the flow's state
// and with the flow's one-time login code.
const (
	bindingCookie = "tandem_oauth_binding"
	// hostPrefix makes browsers refuse the cookie unless it was set by this
	// very host, over HTTPS, for Path=/, with no Domain: a sibling subdomain
	// or a plain-HTTP response cannot plant it.
	hostPrefix = "__Host-"
	// bindingTTL is how long a binding value is good; a start reuses one
	// only while a whole flow (ten minutes of state) still fits in it.
	bindingTTL   = 30 * time.Minute
	bindingReuse = 20 * time.Minute
	nonceSize    = 32
)

// Binding issues and checks binding cookies. A value is a random nonce and
// the time it was issued, with an HMAC over both, so the gateway accepts
// only values it issued itself, recently.
type Binding struct {
	key    []byte
	secure bool
	now    func() time.Time
}

// NewBinding derives the cookie's HMAC key from the service token (which
// every gateway replica has) and makes the cookie Secure and __Host- named
// where the public URL is HTTPS. Over plain HTTP (http://localhost in
// development) browsers refuse both, so the cookie keeps its plain name.
func NewBinding(serviceToken, publicURL string) *Binding {
	mac := hmac.New(sha256.New, []byte(serviceToken))
	mac.Write([]byte("tandem gateway: oauth browser binding v1"))
	return &Binding{key: mac.Sum(nil), secure: strings.HasPrefix(publicURL, "https://"), now: time.Now}
}

func (b *Binding) name() string {
	if b.secure {
		return hostPrefix + bindingCookie
	}
	return bindingCookie
}

func (b *Binding) sign(payload []byte) []byte {
	mac := hmac.New(sha256.New, b.key)
	mac.Write(payload)
	return mac.Sum(nil)
}

func (b *Binding) issue() string {
	payload := make([]byte, nonceSize+8)
	_, _ = rand.Read(payload[:nonceSize]) // crypto/rand.Read never fails
	binary.BigEndian.PutUint64(payload[nonceSize:], uint64(b.now().Unix()))
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(b.sign(payload))
}

// age is how long ago the gateway issued v; false if it did not.
func (b *Binding) age(v string) (time.Duration, bool) {
	p, s, ok := strings.Cut(v, ".")
	if !ok {
		return 0, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil || len(payload) != nonceSize+8 || !hmac.Equal(sig, b.sign(payload)) {
		return 0, false
	}
	age := b.now().Sub(time.Unix(int64(binary.BigEndian.Uint64(payload[nonceSize:])), 0))
	return age, age > -time.Minute && age < bindingTTL
}

// value is the request's binding, if the gateway issued it less than
// maxAge ago.
func (b *Binding) value(r *http.Request, maxAge time.Duration) (string, bool) {
	c, err := r.Cookie(b.name())
	if err != nil {
		return "", false
	}
	if age, ok := b.age(c.Value); ok && age < maxAge {
		return c.Value, true
	}
	return "", false
}

func (b *Binding) cookie(v string) *http.Cookie {
	return &http.Cookie{Name: b.name(), Value: v, Path: "/", MaxAge: int(bindingTTL.Seconds()),
		HttpOnly: true, Secure: b.secure, SameSite: http.SameSiteLaxMode}
}
