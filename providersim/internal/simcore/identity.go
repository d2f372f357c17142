package simcore

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Principal is what an access token stands for: an app acting for a user.
type Principal struct {
	ClientID          string
	TenantID          string
	UserID            string
	UserPrincipalName string
	Scopes            []string
}

// HasAny reports whether the principal holds one of the scopes.
func (p Principal) HasAny(scopes ...string) bool {
	for _, s := range p.Scopes {
		for _, want := range scopes {
			if s == want {
				return true
			}
		}
	}
	return false
}

// Person is a user of a simulated tenant, as other providers see it.
type Person struct {
	ID                string
	TenantID          string
	UserPrincipalName string
	// Mail is the primary SMTP address; ProxyAddresses are every address
	// that delivers to the mailbox (Mail among them), lower case, without
	// the "smtp:" prefix.
	Mail           string
	ProxyAddresses []string
	OmitEmailClaim bool
	DisplayName    string
	GivenName      string
	Surname        string
	JobTitle       string
}

// HasAddress reports whether mail to addr reaches the person's mailbox.
func (p Person) HasAddress(addr string) bool {
	for _, a := range p.ProxyAddresses {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return strings.EqualFold(p.Mail, addr)
}

// Errors of access-token introspection.
var (
	ErrTokenUnknown = errors.New("access token unknown")
	ErrTokenExpired = errors.New("access token expired")
)

// PairwiseSubject is the per-app "sub" Microsoft issues for a user, shared by
// the ID token and the userinfo endpoint.
func PairwiseSubject(clientID, userID string) string {
	h := sha256.Sum256([]byte(clientID + "|" + userID))
	return base64.RawURLEncoding.EncodeToString(h[:])[:43]
}
