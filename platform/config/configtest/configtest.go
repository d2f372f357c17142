// Package configtest checks that a value holding secrets never prints them.
package configtest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// verbs are the fmt verbs a value is printed with; %x and %X catch a raw
// string or byte slice hex-encoded, %d and %v catch byte values.
var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"}

// Prints renders v every way Tandem code might print it, by value and
// through a pointer: every fmt verb, slog's text and JSON handlers (as an
// attribute and inside a group) and encoding/json. Each rendering is keyed
// by how it was made, for the failure message.
func Prints(t testing.TB, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	forms := map[string]any{"value": v}
	if v != nil {
		p := reflect.New(reflect.TypeOf(v))
		p.Elem().Set(reflect.ValueOf(v))
		forms["pointer"] = p.Interface()
	}
	for form, x := range forms {
		for _, verb := range verbs {
			out[form+" "+verb] = fmt.Sprintf(verb, x)
		}
		out[form+" Sprint"] = fmt.Sprint(x)
		out[form+" Sprintln"] = fmt.Sprintln(x)
		for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
			"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var b bytes.Buffer
			log := slog.New(h(&b))
			log.Info("config", "value", x)
			log.Info("config", slog.Group("g", slog.Any("value", x)))
			log.With("value", x).Info("config")
			out[form+" "+name] = b.String()
		}
		j, err := json.Marshal(x)
		if err != nil {
			t.Fatalf("configtest: json.Marshal(%s): %v", form, err)
		}
		out[form+" json"] = string(j)
	}
	return out
}

// NoSecrets fails t if any rendering of v (see Prints) contains one of the
// secrets, as text or hex-encoded.
func NoSecrets(t testing.TB, v any, secrets ...string) {
	t.Helper()
	for _, leak := range Leaks(t, v, secrets...) {
		t.Errorf("printed a secret: %s", leak)
	}
}

// Leaks lists the renderings of v (see Prints) that contain one of the
// secrets, as text or hex-encoded, each as "how: what was printed".
func Leaks(t testing.TB, v any, secrets ...string) []string {
	t.Helper()
	var leaks []string
	for how, s := range Prints(t, v) {
		for _, secret := range secrets {
			if secret == "" {
				t.Fatal("configtest: an empty secret matches everything")
			}
			h := hex.EncodeToString([]byte(secret))
			if strings.Contains(s, secret) || strings.Contains(s, h) || strings.Contains(s, strings.ToUpper(h)) {
				leaks = append(leaks, how+": "+s)
				break
			}
		}
	}
	sort.Strings(leaks)
	return leaks
}

// ServiceBinary loads a service binary's configuration with -print-config
// and every secret the shared settings take (service tokens, database and
// Redis URLs with passwords), and fails when any of them shows: in what
// -print-config wrote, or wherever the loaded configuration is printed
// (NoSecrets). reached returns the service token and database URL the
// program got, which must be the secrets themselves.
func ServiceBinary[C any](t *testing.T, load func(args []string, out io.Writer) (C, error), reached func(C) (serviceToken, databaseURL string)) {
	t.Helper()
	secrets := map[string]string{
		"service-token":          "current-service-token-" + strings.Repeat("c", 20),
		"service-token-previous": "previous-service-token-" + strings.Repeat("p", 20),
		"database-url":           "postgres://tandem:db-password-1@db.example:5432/tandem",
		"redis-url":              "redis://:redis-password-1@redis.example:6379/0",
	}
	args := []string{"-print-config"}
	for k, v := range secrets {
		args = append(args, "-"+k+"="+v)
	}
	var out bytes.Buffer
	c, err := load(args, &out)
	if err != nil {
		t.Fatal(err)
	}
	if token, db := reached(c); token != secrets["service-token"] || db != secrets["database-url"] {
		t.Fatal("the secrets themselves should reach the program")
	}
	leaks := []string{"db-password-1", "redis-password-1"}
	for _, v := range secrets {
		leaks = append(leaks, v)
	}
	NoSecrets(t, c, leaks...)
	for _, s := range leaks {
		if strings.Contains(out.String(), s) {
			t.Errorf("-print-config shows a secret:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "service-token=[redacted]") {
		t.Errorf("-print-config:\n%s", out.String())
	}
}
