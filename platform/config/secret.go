package config

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
)

// Redacted is what a non-empty Secret prints as, whichever way it is
// printed.
const Redacted = "[redacted]"

// Secret is a string that never prints: not through fmt (any verb, by value
// or through a pointer, alone or inside a struct), slog (text and JSON
// handlers), encoding/json or encoding.TextMarshaler users, nor a flag's
// String. Value returns the secret itself, for the code that needs it.
//
// Every method that prints has a value receiver, so a Secret held by value
// (a struct field, a map value) is as safe as one behind a pointer. An empty
// Secret prints as "", so a dump still shows that a setting is unset.
//
// Hold secrets in exported fields: fmt reads unexported fields by
// reflection without calling their methods.
type Secret string

var (
	_ fmt.Formatter  = Secret("")
	_ fmt.GoStringer = Secret("")
	_ slog.LogValuer = Secret("")
	_ json.Marshaler = Secret("")
	_ flag.Value     = new(Secret)
)

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String implements fmt.Stringer and flag.Value: the redacted form.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format prints the redacted form for every verb: without it %x, %d or %q
// would format the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			// fmt.State writes into fmt's buffer and cannot fail.
			fmt.Fprint(f, s.GoString())
			return
		}
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the secret in JSON documents.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText redacts the secret for every encoder that uses
// encoding.TextMarshaler (map keys in JSON, YAML, slog's text handler).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Set implements flag.Value.
func (s *Secret) Set(v string) error { *s = Secret(v); return nil }

// SecretFlag registers a secret on fs.
func SecretFlag(fs *flag.FlagSet, p *Secret, name string, value string, usage string) {
	*p = Secret(value)
	fs.Var(p, name, usage+" (secret)")
}
