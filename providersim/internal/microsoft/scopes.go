package microsoft

import (
	"slices"
	"strings"
)

// GraphResource is the resource prefix of fully qualified Graph scopes.
const GraphResource = "https://graph.microsoft.com/"

const graphAppID = "00000003-0000-0000-c000-000000000000"

// oidcScopes are granted like Graph permissions but are about sign-in.
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// graphScopes are the delegated Graph permissions the simulator knows, in
// their canonical spelling. Add to this list to support more.
var graphScopes = []string{
	"User.Read", "User.ReadBasic.All",
	"Mail.Read", "Mail.ReadBasic", "Mail.ReadWrite", "Mail.Send",
}

// scopeDescriptions are the consent-screen lines, as Microsoft words them.
var scopeDescriptions = map[string]string{
	"openid":             "Sign you in",
	"profile":            "View your basic profile",
	"email":              "View your email address",
	"offline_access":     "Maintain access to data you have given it access to",
	"User.Read":          "Sign you in and read your profile",
	"User.ReadBasic.All": "Read all users' basic profiles",
	"Mail.Read":          "Read your mail",
	"Mail.ReadBasic":     "Read user basic mail",
	"Mail.ReadWrite":     "Read and write access to your mail",
	"Mail.Send":          "Send mail as you",
}

const defaultScope = ".default"

func isOIDC(s string) bool { return slices.Contains(oidcScopes, s) }

// canonicalScope maps a requested scope ("mail.send",
// "https://graph.microsoft.com/Mail.Send") to its canonical name.
func canonicalScope(raw string) (string, bool) {
	s := raw
	low := strings.ToLower(s)
	switch {
	case strings.HasPrefix(low, GraphResource):
		s = s[len(GraphResource):]
	case strings.HasPrefix(low, graphAppID+"/"):
		s = s[len(graphAppID)+1:]
	}
	if s == defaultScope {
		return defaultScope, true
	}
	for _, known := range oidcScopes {
		if strings.EqualFold(s, known) {
			return known, true
		}
	}
	for _, known := range graphScopes {
		if strings.EqualFold(s, known) {
			return known, true
		}
	}
	return "", false
}

// parseScopes splits a scope parameter, canonicalises every scope and expands
// ".default" into the app's static permissions. It returns the first scope it
// does not know.
func parseScopes(raw string, static []string) (scopes []string, bad string) {
	for _, f := range strings.Fields(raw) {
		c, ok := canonicalScope(f)
		if !ok {
			return nil, f
		}
		if c == defaultScope {
			for _, st := range static {
				if cs, ok := canonicalScope(st); ok && cs != defaultScope && !isOIDC(cs) && !slices.Contains(scopes, cs) {
					scopes = append(scopes, cs)
				}
			}
			continue
		}
		if !slices.Contains(scopes, c) {
			scopes = append(scopes, c)
		}
	}
	return scopes, ""
}

// scopeSet is a set of canonical scopes.
type scopeSet map[string]bool

func (s scopeSet) addAll(scopes []string) {
	for _, x := range scopes {
		s[x] = true
	}
}

func (s scopeSet) sorted() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// minus returns the scopes of list not in set, keeping the order of list.
func minus(list []string, set scopeSet) []string {
	var out []string
	for _, s := range list {
		if !set[s] {
			out = append(out, s)
		}
	}
	return out
}

// qualified returns the scope as Microsoft echoes it in admin-consent redirects.
func qualified(s string) string {
	if isOIDC(s) {
		return s
	}
	return GraphResource + s
}
