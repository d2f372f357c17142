package ashby

import (
	"html"
	"regexp"
	"strings"
)

// Ashby keeps these tags of an HTML note and strips every other tag (its
// text stays). Attributes go too, except an <a>'s http(s) or mailto href.
var noteTags = map[string]bool{"b": true, "i": true, "u": true, "a": true, "ul": true, "ol": true, "li": true, "code": true, "pre": true}

var (
	tagRe    = regexp.MustCompile(`(?s)<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>`)
	hrefRe   = regexp.MustCompile(`(?i)\bhref\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))`)
	scriptRe = regexp.MustCompile(`(?is)<(script|style)\b[^>]*>.*?</(script|style)\s*>`)
)

// sanitizeNoteHTML applies Ashby's rules for text/html notes. The content of
// script and style elements goes with them (UNCONFIRMED: the reference says
// only that other tags are stripped).
func sanitizeNoteHTML(in string) string {
	in = scriptRe.ReplaceAllString(in, "")
	return tagRe.ReplaceAllStringFunc(in, func(tag string) string {
		m := tagRe.FindStringSubmatch(tag)
		closing, name, attrs := m[1], strings.ToLower(m[2]), m[3]
		if !noteTags[name] {
			return ""
		}
		if closing != "" {
			return "</" + name + ">"
		}
		if name == "a" {
			if h := hrefRe.FindStringSubmatch(attrs); h != nil {
				href := html.UnescapeString(h[2] + h[3] + h[4])
				low := strings.ToLower(strings.TrimSpace(href))
				if strings.HasPrefix(low, "http://") || strings.HasPrefix(low, "https://") || strings.HasPrefix(low, "mailto:") {
					return `<a href="` + html.EscapeString(strings.TrimSpace(href)) + `">`
				}
			}
		}
		return "<" + name + ">"
	})
}
