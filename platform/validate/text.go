// Package validate holds the request checks every service shares, so a rule
// such as "what a display name may contain" is written once.
package validate

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tandemhq/tandem/platform/apperr"
)

// Text checks a line of text people type and read (a display name, a
// title) and returns it trimmed of surrounding spaces. It must be valid
// UTF-8, be 1 to max characters long (characters, not bytes, so every
// script gets the same room), and hold no control characters: no NUL
// (which Postgres cannot store), no line breaks or escapes (which forge log
// lines and terminal output), and no bidirectional overrides (which make
// text read differently from what it is). The error names field.
func Text(field, s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", apperr.InvalidArgument(field, "must be valid UTF-8")
	}
	if i := strings.IndexFunc(s, forbidden); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return "", apperr.InvalidArgument(field, fmt.Sprintf("must not contain control characters (found %U)", r))
	}
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n == 0 || n > max {
		return "", apperr.InvalidArgument(field, fmt.Sprintf("must be 1 to %d characters", max))
	}
	return s, nil
}

// forbidden reports the runes Text refuses: C0 and C1 controls (Cc), line
// and paragraph separators, and the bidirectional embeddings, overrides and
// isolates. Other format characters stay allowed: the zero-width joiner
// builds emoji and some scripts need it.
func forbidden(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u2028' || r == '\u2029':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}
