package microsoft

import (
	"fmt"
	"net/http"
	"strings"
)

// GrantError is the token endpoint's refusal, decoded from Microsoft's error
// JSON. Branch on Code (Microsoft may change the AADSTS numbers and the
// text); use AADSTS only to pick a message.
type GrantError struct {
	// Code is the OAuth error: invalid_grant, interaction_required,
	// consent_required, invalid_client, invalid_scope, invalid_request,
	// unauthorized_client, temporarily_unavailable, ...
	Code string
	// AADSTS are Microsoft's error_codes, e.g. [700082].
	AADSTS []int
	// Description is Microsoft's error_description. It is for an operator
	// looking at one failure: it may name the user or the redirect URI, so
	// it is left out of Error and must never reach a client.
	Description string
	// Suberror refines Code, e.g. consent_required or basic_action.
	Suberror string
	// TraceID and CorrelationID find the request in Microsoft's logs.
	TraceID       string
	CorrelationID string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
}

// Error names the OAuth error, the AADSTS codes and the ids; never the
// description.
func (e *GrantError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "microsoft: token endpoint: %s", e.Code)
	if e.Suberror != "" {
		fmt.Fprintf(&b, "/%s", e.Suberror)
	}
	for i, c := range e.AADSTS {
		sep := ", "
		if i == 0 {
			sep = " ("
		}
		fmt.Fprintf(&b, "%sAADSTS%d", sep, c)
	}
	if len(e.AADSTS) > 0 {
		b.WriteString(")")
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " trace_id=%s", e.TraceID)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " correlation_id=%s", e.CorrelationID)
	}
	return b.String()
}

// Permanent reports whether retrying cannot help and a person has to act:
// the grant is gone or needs an interactive sign-in (invalid_grant,
// interaction_required, consent_required), or our client credentials are
// refused (invalid_client).
func (e *GrantError) Permanent() bool {
	switch e.Code {
	case "invalid_grant", "interaction_required", "consent_required", "invalid_client":
		return true
	}
	return false
}

// Temporary reports whether Microsoft asked us to come back later.
func (e *GrantError) Temporary() bool {
	if e.Permanent() {
		return false
	}
	return e.Code == "temporarily_unavailable" || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Is makes errors.Is(err, ErrUnavailable) true for a temporary refusal.
func (e *GrantError) Is(target error) bool { return target == ErrUnavailable && e.Temporary() }

// ClientRejected reports that Microsoft refused our own app credentials
// (a wrong or expired client secret): an operator must fix the
// configuration, and no user reconnecting would help.
func (e *GrantError) ClientRejected() bool { return e.Code == "invalid_client" }

// Reason is a short, stable explanation for people (the connection's
// status, an error shown in the app), chosen by AADSTS code and then by
// OAuth error. It never contains Microsoft's text.
func (e *GrantError) Reason() string {
	for _, c := range e.AADSTS {
		if r, ok := aadstsReasons[c]; ok {
			return r
		}
	}
	if r, ok := codeReasons[e.Code]; ok {
		return r
	}
	return "Microsoft refused the token request"
}

// aadstsReasons are the codes of providers.md §3.4–3.5 and §3.10 that a
// person can act on.
var aadstsReasons = map[int]string{
	50173:   "refresh token expired or revoked", // sessions revoked, admin password reset
	700082:  "refresh token expired or revoked", // inactivity
	70008:   "refresh token expired or revoked", // inactivity (or an old code)
	70043:   "refresh token expired or revoked", // Conditional Access sign-in frequency
	50133:   "refresh token expired or revoked", // password changed
	65001:   "consent was withdrawn or never given",
	65004:   "the user declined consent",
	90094:   "an administrator must approve the app",
	90095:   "an administrator must approve the app",
	50076:   "the organization requires the user to sign in again with multi-factor authentication",
	50079:   "the organization requires the user to sign in again with multi-factor authentication",
	53003:   "blocked by the organization's Conditional Access policy",
	700016:  "the app is not available in the user's organization",
	54005:   "the authorization code was already used",
	501481:  "the sign-in could not be verified (PKCE mismatch)",
	500112:  "the sign-in could not be verified (redirect URI mismatch)",
	50011:   "the sign-in could not be verified (redirect URI mismatch)",
	7000215: "the app's client credentials were rejected",
	7000222: "the app's client credentials were rejected",
	7000218: "the app's client credentials were rejected",
	700027:  "the app's client credentials were rejected",
}

var codeReasons = map[string]string{
	"invalid_grant":           "the grant is no longer valid",
	"interaction_required":    "the user must sign in again",
	"consent_required":        "consent was withdrawn or never given",
	"invalid_client":          "the app's client credentials were rejected",
	"unauthorized_client":     "the app is not authorized for this request",
	"invalid_scope":           "the requested permissions are not valid",
	"temporarily_unavailable": "Microsoft is temporarily unavailable",
}
