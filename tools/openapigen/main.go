// Command openapigen writes Tandem's OpenAPI 3.1 document. It converts the
// Swagger 2.0 document protoc-gen-openapiv2 merges from proto/ (kin-openapi's
// openapi2conv, then openapi3conv), merges the gateway's own routes and error
// shape from a hand-written fragment, and gives every operation what a
// generated client needs: its security (from the services' authz policies),
// its error responses, a tag per resource, a readable operation id and
// formats. `make proto` runs it; see docs/adr/0012-openapi-3-1.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

type policyFlags []string

func (p *policyFlags) String() string     { return strings.Join(*p, ",") }
func (p *policyFlags) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("openapigen", flag.ContinueOnError)
	swagger := fs.String("swagger", "", "Swagger 2.0 document from protoc-gen-openapiv2")
	rules := fs.String("rules", "", "grpc-gateway HTTP rules (google.api.Service YAML)")
	fragment := fs.String("fragment", "", "OpenAPI 3.1 fragment: the gateway's routes, error shape and security scheme")
	out := fs.String("out", "", "where to write the OpenAPI 3.1 document")
	var policies policyFlags
	fs.Var(&policies, "policy", "a service's policy as JSON {full method: rule} (repeat per service)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *swagger == "" || *rules == "" || *fragment == "" || *out == "" || len(policies) == 0 {
		return fmt.Errorf("-swagger, -rules, -fragment, -out and at least one -policy are required")
	}
	in := Inputs{Policy: map[string]string{}}
	var err error
	if in.Swagger, err = os.ReadFile(*swagger); err != nil {
		return err
	}
	if in.Rules, err = os.ReadFile(*rules); err != nil {
		return err
	}
	if in.Fragment, err = os.ReadFile(*fragment); err != nil {
		return err
	}
	for _, p := range policies {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("policy %s: %w", p, err)
		}
		for k, v := range m {
			if _, dup := in.Policy[k]; dup {
				return fmt.Errorf("policy %s: %s has a rule in two policies", p, k)
			}
			in.Policy[k] = v
		}
	}
	doc, err := Generate(context.Background(), in)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}
