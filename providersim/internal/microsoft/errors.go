package microsoft

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/tandemhq/tandem/providersim/internal/simcore"
)

// aadMessages are the AADSTS codes the simulator answers with and their text.
// Microsoft says the text and numbers may change; clients should branch on the
// OAuth error and use these only for messages. Keep every code in this table
// so changing one is a one-line edit.
var aadMessages = map[int]string{
	16000:   "Either multiple user identities are available for the current request or selected account is not supported for the scenario.",
	50011:   "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
	50020:   "User account '%s' from identity provider 'https://sts.windows.net/%s/' does not exist in tenant '%s' and cannot access the application '%s' in that tenant. The account needs to be added as an external user in the tenant first. Sign out and sign in again with a different Azure Active Directory user account.",
	50034:   "The user account %s does not exist in the %s directory. To sign into this application, the account must be added to the directory.",
	50058:   "A silent sign-in request was sent but no user is signed in.",
	50076:   "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '%s'.",
	50126:   "Error validating credentials due to invalid username or password.",
	50173:   "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.",
	54005:   "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
	65001:   "The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.",
	65004:   "User declined to consent to access the app.",
	70000:   "Provided grant is invalid or malformed.",
	70003:   "The app requested an unsupported grant type '%s'.",
	70008:   "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
	70011:   "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.",
	90002:   "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
	90004:   "The request is not properly formatted. The value '%s' of parameter '%s' is not valid.",
	90033:   "A transient error has occurred. Please try again.",
	90094:   "The grant requires admin permission.",
	90095:   "Admin consent is required for the permissions requested by this application. An admin consent request may be sent to the admin.",
	500112:  "The reply address '%s' does not match the reply address '%s' provided when requesting Authorization code.",
	501481:  "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
	700005:  "Provided Authorization Code is intended to use against other tenant, thus rejected.",
	700016:  "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
	700027:  "Client assertion failed signature validation.",
	700054:  "response_type '%s' is not enabled for the application.",
	700082:  "The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %s.",
	900144:  "The request body must contain the following parameter: '%s'.",
	9002313: "Invalid request. Request is malformed or invalid.",
	7000215: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.",
	7000218: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
}

// aadError is one failure: the OAuth error, the AADSTS code and its text.
type aadError struct {
	status   int // HTTP status at the token endpoint
	err      string
	code     int
	message  string
	suberror string
}

func newAAD(status int, oauthErr string, code int, args ...any) *aadError {
	format, ok := aadMessages[code]
	if !ok {
		panic(fmt.Sprintf("microsoft: AADSTS%d missing from aadMessages", code))
	}
	return &aadError{status: status, err: oauthErr, code: code, message: fmt.Sprintf(format, args...)}
}

func (e *aadError) withSuberror(s string) *aadError { e.suberror = s; return e }

// headline is "AADSTS65004: User declined ...".
func (e *aadError) headline() string { return fmt.Sprintf("AADSTS%d: %s", e.code, e.message) }

// tokenErrorBody is Microsoft's JSON error at the token endpoint.
type tokenErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	ErrorURI      string `json:"error_uri"`
	Suberror      string `json:"suberror,omitempty"`
}

const aadTimestamp = "2006-01-02 15:04:05Z"

// describe renders error_description the way Microsoft does, with the trace,
// correlation id and timestamp on their own lines.
func (p *Platform) describe(r *http.Request, e *aadError) (desc, trace, corr, ts string) {
	trace = p.ids.GUID("trace")
	corr = r.Header.Get("client-request-id")
	if corr == "" {
		corr = p.ids.GUID("correlation")
	}
	ts = p.clock.Now().Format(aadTimestamp)
	desc = e.headline() + "\r\nTrace ID: " + trace + "\r\nCorrelation ID: " + corr + "\r\nTimestamp: " + ts
	return desc, trace, corr, ts
}

func (p *Platform) writeTokenError(w http.ResponseWriter, r *http.Request, e *aadError) {
	desc, trace, corr, ts := p.describe(r, e)
	p.counters.Inc("microsoft.token.error", "microsoft.token.error/"+e.err)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("x-ms-request-id", trace)
	simcore.WriteJSON(w, e.status, tokenErrorBody{
		Error:         e.err,
		Description:   desc,
		Codes:         []int{e.code},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      p.baseURL() + "/error?code=" + fmt.Sprint(e.code),
		Suberror:      e.suberror,
	})
}

// errorParams are the redirect parameters of an authorize or admin-consent
// error.
func (p *Platform) errorParams(r *http.Request, e *aadError) url.Values {
	desc, _, _, _ := p.describe(r, e)
	v := url.Values{}
	v.Set("error", e.err)
	v.Set("error_description", desc)
	v.Set("error_uri", p.baseURL()+"/error?code="+fmt.Sprint(e.code))
	if e.suberror != "" {
		v.Set("error_subcode", e.suberror)
	}
	return v
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }
