// Package config reads a binary's configuration from flags, falling back to
// TANDEM_* environment variables, and prints it with secrets redacted.
//
// Each binary keeps one typed struct, registers its fields on a flag.FlagSet,
// calls Parse, and validates the struct before starting anything.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
)

// EnvName is the environment variable that backs the flag name: "grpc-addr"
// becomes TANDEM_GRPC_ADDR.
func EnvName(flagName string) string {
	return "TANDEM_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// Parse parses args into fs; every flag not given on the command line takes
// its TANDEM_* environment variable when that is set. Command-line flags win.
func Parse(fs *flag.FlagSet, args []string) error {
	return parse(fs, args, os.LookupEnv)
}

func parse(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := EnvName(f.Name)
		if v, ok := lookup(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

// RedactURL hides the password of a connection URL, for printing.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable url]"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Print writes every flag and its effective value, sorted, with secrets
// redacted and URL passwords hidden.
func Print(w io.Writer, fs *flag.FlagSet) {
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		if strings.Contains(v, "://") {
			v = RedactURL(v)
		}
		lines = append(lines, fmt.Sprintf("  %s=%s", f.Name, v))
	})
	sort.Strings(lines)
	fmt.Fprintln(w, "configuration:")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

// Problems collects validation failures, each naming the setting.
type Problems []string

// Addf records a problem with a setting.
func (p *Problems) Addf(flagName, format string, a ...any) {
	*p = append(*p, fmt.Sprintf("%s (%s): %s", flagName, EnvName(flagName), fmt.Sprintf(format, a...)))
}

// Err returns nil when there are no problems.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New("invalid configuration:\n  " + strings.Join(p, "\n  "))
}
