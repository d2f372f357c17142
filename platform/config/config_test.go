package config

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestParseEnvFallbackAndPrecedence(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	addr := fs.String("grpc-addr", ":9101", "")
	db := fs.String("database-url", "postgres://localhost/x", "")
	var secret Secret
	SecretFlag(fs, &secret, "kek", "", "key")
	env := map[string]string{
		"TANDEM_GRPC_ADDR":    ":1111",
		"TANDEM_DATABASE_URL": "postgres://u:pw@h/db",
		"TANDEM_KEK":          "supersecret",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := parse(fs, []string{"-grpc-addr", ":2222"}, lookup); err != nil {
		t.Fatal(err)
	}
	if *addr != ":2222" {
		t.Errorf("flag should win over env, got %q", *addr)
	}
	if *db != "postgres://u:pw@h/db" {
		t.Errorf("env fallback not applied, got %q", *db)
	}
	if secret.Value() != "supersecret" {
		t.Errorf("secret env not applied")
	}
	var out bytes.Buffer
	Print(&out, fs)
	if strings.Contains(out.String(), "supersecret") || strings.Contains(out.String(), "pw@") {
		t.Fatalf("secret printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "kek=[redacted]") || !strings.Contains(out.String(), "u:xxxxx@h") {
		t.Fatalf("expected redacted values:\n%s", out.String())
	}
}

func TestParseBadEnvValue(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Duration("shutdown-timeout", 0, "")
	err := parse(fs, nil, func(k string) (string, bool) { return "soon", k == "TANDEM_SHUTDOWN_TIMEOUT" })
	if err == nil || !strings.Contains(err.Error(), "TANDEM_SHUTDOWN_TIMEOUT") {
		t.Fatalf("want error naming the variable, got %v", err)
	}
}

func TestProblems(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatal("no problems should be nil")
	}
	p.Addf("grpc-addr", "must not be empty")
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "TANDEM_GRPC_ADDR") {
		t.Fatalf("got %v", err)
	}
}
