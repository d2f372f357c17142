package validate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/validate"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		max      int
	}{
		{"  Contoso Talent ", "Contoso Talent", 200},
		{"名前", "名前", 2},
		{"👨\u200d👩\u200d👧 team", "👨\u200d👩\u200d👧 team", 20},
		{"Zoë", "Zoë", 3},
	} {
		got, err := validate.Text("name", tc.in, tc.max)
		if err != nil || got != tc.want {
			t.Errorf("Text(%q, %d) = %q, %v; want %q", tc.in, tc.max, got, err, tc.want)
		}
	}
	for what, in := range map[string]string{
		"empty":               "",
		"blank":               " \t ",
		"too long":            strings.Repeat("a", 11),
		"too many runes":      strings.Repeat("名", 11),
		"a NUL":               "ci\x00bot",
		"invalid UTF-8":       "ci\xf0\x28\x8c\x28",
		"a lone continuation": "\x80",
		"a tab inside":        "ci\tbot",
		"a newline":           "ci\nbot",
		"a DEL":               "ci\x7fbot",
		"a C1 control":        "ci\u0085bot",
		"a line separator":    "ci\u2028bot",
		"a bidi override":     "ci\u202ebot",
		"a bidi isolate":      "ci\u2066bot",
	} {
		_, err := validate.Text("name", in, 10)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != apperr.KindInvalidArgument || ae.Field != "name" {
			t.Errorf("%s (%q): %v, want InvalidArgument on name", what, in, err)
		}
		if ae != nil && strings.ContainsAny(ae.Public, "\x00\n\u202e") {
			t.Errorf("%s: the message quotes the bad character: %q", what, ae.Public)
		}
	}
}
