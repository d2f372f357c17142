// Package oauth serves the browser side of the OAuth flows: the start
// routes that bind a flow to the browser with a cookie, the provider
// callbacks, and a minimal built-in page that shows a flow's outcome when no
// frontend is configured. Identity does the work; this package only moves the
// browser and the cookie.
package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/tandemhq/tandem/gateway/internal/rest"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// Routes are the OAuth routes.
type Routes struct {
	Identity identityv1.IdentityServiceClient
	// Internal is the call option that authenticates the gateway as a Tandem
	// service; only the internal calls carry it.
	Internal grpc.CallOption
	Log      *slog.Logger
	// Timeout bounds each call to identity.
	Timeout time.Duration
	// Binding issues and checks the cookie that binds flows to the browser.
	Binding *Binding
}

// Register adds the routes to the gateway.
func (r *Routes) Register(g *rest.Gateway) {
	g.HandlePlain("GET /oauth/microsoft/start", http.HandlerFunc(r.start))
	g.HandlePlain("GET /oauth/microsoft/callback", http.HandlerFunc(r.callback("authorize")))
	g.HandlePlain("GET /oauth/microsoft/adminconsent/callback", http.HandlerFunc(r.callback("admin_consent")))
	// Lever is another authorization server: its own start (a ticket from
	// ConnectLever only) and its own exact redirect URI (DESIGN §4).
	g.HandlePlain("GET /oauth/lever/start", http.HandlerFunc(r.leverStart))
	g.HandlePlain("GET /oauth/lever/callback", http.HandlerFunc(r.callback("lever")))
	g.HandlePlain("GET /app/auth/complete", http.HandlerFunc(r.complete))
}

// timeout bounds each call to identity: r.Timeout, 15s by default.
func (r *Routes) timeout() time.Duration {
	if r.Timeout <= 0 {
		return 15 * time.Second
	}
	return r.Timeout
}

func bindingHash(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// codeChallenge reads the frontend's optional PKCE-style challenge for the
// flow's login code: the SHA-256 of a verifier it keeps, base64url.
func codeChallenge(q url.Values) ([]byte, string, string) {
	c, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if c == "" && method == "" {
		return nil, "", ""
	}
	if method != "S256" {
		return nil, "code_challenge_method", "must be S256"
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != sha256.Size {
		return nil, "code_challenge", "must be the SHA-256 of the verifier, base64url without padding (43 characters)"
	}
	return b, "", ""
}

// start binds the browser (reusing its cookie, if the gateway issued it, so
// flows in two tabs both work) and sends it to the provider.
func (r *Routes) start(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	challenge, field, problem := codeChallenge(q)
	if field != "" {
		rest.WriteInvalid(req.Context(), w, field, problem)
		return
	}
	binding, ok := r.Binding.value(req, bindingReuse)
	if !ok {
		binding = r.Binding.issue()
	}
	http.SetCookie(w, r.Binding.cookie(binding))
	ctx, cancel := context.WithTimeout(req.Context(), r.timeout())
	defer cancel()
	resp, err := r.Identity.BeginAuthorization(ctx, &identityv1.BeginAuthorizationRequest{
		Flow: q.Get("flow"), Ticket: q.Get("ticket"), LoginHint: q.Get("login_hint"), BrowserBindingHash: bindingHash(binding),
		LoginCodeChallenge: challenge,
	}, r.Internal)
	if err != nil {
		rest.WriteError(req.Context(), w, status.Convert(err))
		return
	}
	http.Redirect(w, req, resp.GetRedirectUrl(), http.StatusFound)
}

// leverStart starts a Lever connection: only with the ticket ConnectLever
// handed out, never a sign-in flow by name.
func (r *Routes) leverStart(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	if q.Get("ticket") == "" {
		rest.WriteInvalid(req.Context(), w, "ticket", "is required: start from ConnectLever")
		return
	}
	if q.Has("flow") {
		rest.WriteInvalid(req.Context(), w, "flow", "is not taken here: the ticket names the flow")
		return
	}
	r.start(w, req)
}

func (r *Routes) callback(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		var hash []byte
		if v, ok := r.Binding.value(req, bindingTTL); ok {
			hash = bindingHash(v)
		}
		ctx, cancel := context.WithTimeout(req.Context(), r.timeout())
		defer cancel()
		resp, err := r.Identity.CompleteAuthorization(ctx, &identityv1.CompleteAuthorizationRequest{
			Callback: kind, State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"),
			ErrorDescription: q.Get("error_description"), BrowserBindingHash: hash,
			Tenant: q.Get("tenant"),
		}, r.Internal)
		if err != nil {
			rest.WriteError(req.Context(), w, status.Convert(err))
			return
		}
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, req, resp.GetRedirectUrl(), http.StatusFound)
	}
}

var page = template.Must(template.New("outcome").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>Tandem</title><meta name="tandem-outcome" content="{{.Outcome}}"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Tandem</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{else}}
<p id="outcome" data-outcome="{{.Outcome}}">{{.Message}}</p>
{{if .User}}<p id="user">{{.User.DisplayName}} &lt;{{.User.Email}}&gt; · {{.User.Role}}{{if .Org}} · {{.Org.DisplayName}}{{end}}</p>{{end}}
{{if .Connection}}<p id="connection">{{if eq .Connection.Provider "lever"}}Lever{{else}}Mailbox {{.Connection.Account}}{{end}}: {{.Connection.Status}}</p>{{end}}
{{if .AdminConsentURL}}<p>Forward this link to your IT admin: <a id="admin-consent-url" href="{{.AdminConsentURL}}">{{.AdminConsentURL}}</a></p>{{end}}
{{end}}
<p><a href="/oauth/microsoft/start?flow=sign_in">Sign in with Microsoft</a></p>
<p style="color: #666">This page stands in for a frontend (none is configured): it shows how each flow ended.</p>
</body></html>`))

// complete is the built-in frontend: it redeems the one-time code, proving
// with the binding cookie that this is the browser that ran the flow, and
// shows the outcome. Session tokens are not shown; a real frontend keeps
// them.
func (r *Routes) complete(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), r.timeout())
	defer cancel()
	data := struct {
		Outcome, Message, AdminConsentURL, Error string
		User                                     *identityv1.User
		Org                                      *identityv1.Organization
		Connection                               *identityv1.Connection
	}{}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	verifier := ""
	if v, ok := r.Binding.value(req, bindingTTL); ok {
		verifier = v
	}
	resp, err := r.Identity.ExchangeLoginCode(ctx, &identityv1.ExchangeLoginCodeRequest{Code: req.URL.Query().Get("code"), CodeVerifier: verifier})
	if err != nil {
		data.Error = status.Convert(err).Message()
		w.WriteHeader(http.StatusBadRequest)
	} else {
		data.Outcome, data.Message, data.AdminConsentURL = resp.GetOutcome(), resp.GetMessage(), resp.GetAdminConsentUrl()
		data.User, data.Org, data.Connection = resp.GetUser(), resp.GetOrganization(), resp.GetConnection()
	}
	if err := page.Execute(w, data); err != nil {
		r.Log.WarnContext(ctx, "render outcome page", slog.Any("error", err))
	}
}
