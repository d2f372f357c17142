package simcore

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
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
	DisplayName       string
	GivenName         string
	Surname           string
	JobTitle          string
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
