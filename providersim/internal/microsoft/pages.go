package microsoft

import (
	"html/template"
	"net/http"
)

// The HTML pages are the contract that tests drive with a cookie jar: every
// page names itself in <meta name="sim-page">, has at most one
// <form method="post">, and its inputs, buttons and links have stable ids and
// names (listed in the README). Keep them simple and keep them stable.
var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="sim-page" content="{{.Page}}">
{{if .ErrorCode}}<meta name="sim-error-code" content="{{.ErrorCode}}">
{{end}}<title>{{.Title}}</title>
<style>
body{font-family:"Segoe UI",Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}
main{background:#fff;max-width:440px;margin:48px auto;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600}
label,input,textarea,button{display:block;margin:8px 0}
input[type=email],input[type=password],textarea{width:100%;box-sizing:border-box;padding:6px}
input[type=checkbox]{display:inline}
button{padding:6px 18px}
#error,#error-description{color:#e81123}
.brand{color:#737373;font-size:15px}
</style>
</head>
<body data-page="{{.Page}}">
<main>
<p class="brand">Microsoft (providersim)</p>
<h1 id="title">{{.Title}}</h1>
{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "signin"}}{{template "head" .}}
{{if .Error}}<p id="error" data-code="{{.ErrorCode}}">{{.ErrorCode}}: {{.Error}}</p>
{{end}}<p id="app">to continue to {{.AppName}}</p>
<form id="signin-form" method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.FlowID}}">
<label for="login">Email, phone, or Skype</label>
<input type="email" id="login" name="login" value="{{.Login}}" autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" value="">
<button type="submit" id="signin-submit">Sign in</button>
</form>
{{template "foot" .}}{{end}}

{{define "pick-account"}}{{template "head" .}}
<p id="app">to continue to {{.AppName}}</p>
<form id="pick-account-form" method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.FlowID}}">
{{range $i, $a := .Accounts}}<button type="submit" id="account-{{$i}}" name="login" value="{{$a.UPN}}">{{$a.Name}} ({{$a.UPN}})</button>
{{end}}<button type="submit" id="use-another-account" name="login" value="">Use another account</button>
</form>
{{template "foot" .}}{{end}}

{{define "consent"}}{{template "head" .}}
<p id="app">{{.AppName}}</p>
<p id="user">{{.UserUPN}}</p>
<p>{{if .AdminConsent}}This app would like to, for everyone in {{.TenantName}}:{{else}}This app would like to:{{end}}</p>
<ul id="scopes">
{{range .Scopes}}<li class="scope" data-scope="{{.Scope}}">{{.Description}}</li>
{{end}}</ul>
<form id="consent-form" method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.FlowID}}">
{{if .OrgCheckbox}}<label for="consent-for-org"><input type="checkbox" id="consent-for-org" name="consent_for_org" value="true"> Consent on behalf of your organization</label>
{{end}}<button type="submit" id="cancel" name="decision" value="cancel">Cancel</button>
<button type="submit" id="accept" name="decision" value="accept">Accept</button>
</form>
{{template "foot" .}}{{end}}

{{define "admin-approval-needed"}}{{template "head" .}}
<p id="user">{{.UserUPN}}</p>
<p id="message">{{.AppName}} needs permission to access resources in your organization that only an admin can grant. Please ask an admin to grant permission to this app before you can use it.</p>
<p><a id="sign-in-as-admin" href="{{.SwitchURL}}">Have an admin account? Sign in with that account</a></p>
<p><a id="return-to-app" href="{{.ReturnURL}}">Return to the application without granting consent</a></p>
{{template "foot" .}}{{end}}

{{define "approval-required"}}{{template "head" .}}
<p id="user">{{.UserUPN}}</p>
<p id="message">{{.AppName}} requires your admin's approval to access resources in your organization. Request approval, and you will be notified by email once an admin has reviewed the request.</p>
<form id="approval-form" method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.FlowID}}">
<label for="justification">Enter justification for requesting this app</label>
<textarea id="justification" name="justification" rows="4"></textarea>
<button type="submit" id="request-approval">Request approval</button>
</form>
<p><a id="sign-in-as-admin" href="{{.SwitchURL}}">Have an admin account? Sign in with that account</a></p>
<p><a id="return-to-app" href="{{.ReturnURL}}">Return to the application without granting consent</a></p>
{{template "foot" .}}{{end}}

{{define "request-sent"}}{{template "head" .}}
<p id="message">Your request will be reviewed by an admin. You will receive an email if your request is approved. You can close this window.</p>
{{template "foot" .}}{{end}}

{{define "error"}}{{template "head" .}}
<p id="error-code">{{.ErrorCode}}</p>
<p id="error-description">{{.Error}}</p>
{{template "foot" .}}{{end}}

{{define "form-post"}}<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="sim-page" content="form-post"><title>Working...</title></head>
<body data-page="form-post">
<form id="form-post" method="post" action="{{.FormAction}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><button type="submit" id="form-post-submit">Continue</button></noscript>
</form>
<script>document.getElementById("form-post").submit();</script>
</body>
</html>
{{end}}
`))

type pageData struct {
	Page         string
	Title        string
	ErrorCode    string
	Error        string
	Action       string
	FlowID       string
	AppName      string
	Login        string
	UserUPN      string
	TenantName   string
	Accounts     []accountChoice
	Scopes       []scopeLine
	OrgCheckbox  bool
	AdminConsent bool
	ReturnURL    string
	SwitchURL    string
	FormAction   string
	Fields       []field
}

type accountChoice struct{ UPN, Name string }

type scopeLine struct{ Scope, Description string }

type field struct{ Name, Value string }

func renderPage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	name := d.Page
	if name == "admin-consent" {
		name = "consent"
	}
	_ = pages.ExecuteTemplate(w, name, d) //nolint:errcheck // fixed templates, each rendered by the tests; a failed write means the browser left
}
