package lever

import (
	"html/template"
	"net/http"
)

// The pages follow the simulator's HTML contract (see the README): every
// page names itself in <meta name="sim-page">, has at most one
// <form method="post">, and stable ids and names, so simbrowser walks them.
var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="sim-page" content="{{.Page}}">
{{if .ErrorCode}}<meta name="sim-error-code" content="{{.ErrorCode}}">
{{end}}<title>{{.Title}}</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;background:#f4f6f8;margin:0}
main{background:#fff;max-width:420px;margin:48px auto;padding:40px;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.15)}
h1{font-size:22px}
label,input,button{display:block;margin:8px 0}
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:6px}
button{padding:6px 18px}
#error,#error-description{color:#c0392b}
.brand{color:#5b6770;font-size:15px}
</style>
</head>
<body data-page="{{.Page}}">
<main>
<p class="brand">Lever (providersim, on Auth0)</p>
<h1 id="title">{{.Title}}</h1>
{{end}}

{{define "foot"}}</main>
</body>
</html>
{{end}}

{{define "signin"}}{{template "head" .}}
{{if .Error}}<p id="error" data-code="{{.ErrorCode}}">{{.Error}}</p>
{{end}}<p id="app">to continue to {{.AppName}}</p>
<form id="signin-form" method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.FlowID}}">
<label for="login">Email address</label>
<input type="email" id="login" name="login" value="{{.Login}}" autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" value="">
<button type="submit" id="signin-submit">Continue</button>
</form>
{{template "foot" .}}{{end}}

{{define "consent"}}{{template "head" .}}
<p id="app">{{.AppName}} is requesting access to your Lever account {{.AccountName}}</p>
<ul id="scopes">
{{range .Scopes}}<li data-scope="{{.}}">{{.}}</li>
{{end}}</ul>
<form id="consent-form" method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.FlowID}}">
<button type="submit" id="accept" name="decision" value="accept">Accept</button>
<button type="submit" id="cancel" name="decision" value="cancel">Decline</button>
</form>
{{template "foot" .}}{{end}}

{{define "not-super-admin"}}{{template "head" .}}
<p id="error-description">{{.Error}}</p>
<a id="return-to-app" href="{{.ReturnURL}}">Back to {{.AppName}}</a>
{{template "foot" .}}{{end}}

{{define "error"}}{{template "head" .}}
<p id="error-code">{{.ErrorCode}}</p>
<p id="error-description">{{.Error}}</p>
{{template "foot" .}}{{end}}
`))

type pageData struct {
	Page, Title, ErrorCode, Error string
	AppName, AccountName          string
	Action, FlowID, Login         string
	ReturnURL                     string
	Scopes                        []string
}

func (s *Service) render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, d.Page, d); err != nil {
		s.log.Error("lever: render page", "page", d.Page, "err", err)
	}
}
