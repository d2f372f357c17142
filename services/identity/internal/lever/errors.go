package lever

import (
	"net/http"
	"strconv"
)

// GrantError is the token endpoint's refusal. Branch on Code, never on the
// status (Auth0 answers invalid_grant with 403, the RFC says 400) nor on
// the description.
type GrantError struct {
	// Code is the OAuth error: invalid_grant, access_denied,
	// invalid_request, unauthorized_client, server_error, ...
	Code string
	// Description is Lever's error_description, for an operator looking at
	// one failure; it is left out of Error and must never reach a client.
	Description string
	StatusCode  int
}

// Error names the OAuth error and the status, never the description.
func (e *GrantError) Error() string {
	return "lever: token endpoint: " + e.Code + " (HTTP " + strconv.Itoa(e.StatusCode) + ")"
}

// Permanent reports whether retrying cannot help: the grant is gone
// (invalid_grant: revoked in Lever, expired, or a rotated-away refresh
// token), or our client credentials are refused.
func (e *GrantError) Permanent() bool {
	return e.Code == "invalid_grant" || e.ClientRejected()
}

// ClientRejected reports that Lever refused our own app credentials (Auth0
// answers access_denied with 401, or invalid_client): an operator must fix
// the configuration, and no Super Admin reconnecting would help.
func (e *GrantError) ClientRejected() bool {
	return e.Code == "invalid_client" || (e.Code == "access_denied" && e.StatusCode == http.StatusUnauthorized)
}

// Temporary reports whether Lever asked us to come back later.
func (e *GrantError) Temporary() bool {
	if e.Permanent() {
		return false
	}
	return e.Code == "server_error" || e.Code == "temporarily_unavailable" || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Is makes errors.Is(err, ErrUnavailable) true for a temporary refusal.
func (e *GrantError) Is(target error) bool { return target == ErrUnavailable && e.Temporary() }

// Reason is a short, stable explanation for people; never Lever's text.
func (e *GrantError) Reason() string {
	switch {
	case e.Code == "invalid_grant":
		return "Lever no longer accepts the authorization (access was revoked in Lever, or it expired); a Super Admin must connect Lever again"
	case e.ClientRejected():
		return "Lever rejected Tandem's client credentials"
	case e.Code == "access_denied":
		return "Lever refused the authorization"
	}
	return "Lever refused the token request"
}
