package redisx

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tandemhq/tandem/platform/pgtest"
)

// Redis spans name the command but never carry its arguments: keys and
// values can hold tokens.
func TestSpansCarryNoStatement(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	c, err := Open(pgtest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	key := ServiceKeys(pgtest.RedisPrefix(t), "identity", "vault-credentials").Key("c1")
	if err := c.Set(t.Context(), key, "super-secret-refresh-token", 0).Err(); err != nil {
		t.Fatal(err)
	}
	defer c.Del(t.Context(), key)
	if err := Ping(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) == 0 {
		t.Fatal("no spans recorded")
	}
	for _, s := range spans {
		for _, a := range s.Attributes() {
			v := a.Value.String()
			if strings.Contains(v, "super-secret") || strings.Contains(v, key) || a.Key == "db.statement" || a.Key == "db.query.text" {
				t.Fatalf("span %q carries %s=%s", s.Name(), a.Key, v)
			}
		}
	}
}

func TestKeys(t *testing.T) {
	if got := ServiceKeys("tandem:", "identity", "vault-credentials").Key("c1"); got != "tandem:identity:vault-credentials:c1" {
		t.Fatal(got)
	}
	shared := SharedKeys("tandem:", "revoked-session")
	if got := shared.Key("ses:1"); got != "tandem:shared:revoked-session:ses:1" {
		t.Fatal(got)
	}
	if got := shared.Pattern(); got != "tandem:shared:revoked-session:*" {
		t.Fatal(got)
	}
	if got := Legacy("tandem:", "vault:cred").Key("c1"); got != "tandem:vault:cred:c1" {
		t.Fatal(got)
	}
}

func TestKeysRejectBadNames(t *testing.T) {
	for name, build := range map[string]func(){
		"upper-case purpose":       func() { ServiceKeys("t:", "identity", "Vault") },
		"colon in purpose":         func() { ServiceKeys("t:", "identity", "vault:cred") },
		"empty service":            func() { ServiceKeys("t:", "", "vault") },
		"shared through a service": func() { ServiceKeys("t:", Shared, "revoked-session") },
		"empty shared purpose":     func() { SharedKeys("t:", "") },
		"empty legacy name":        func() { Legacy("t:", "") },
		"zero Keys":                func() { Keys{}.Key("x") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			build()
		}()
	}
}

func TestOpenRejectsBadURLWithoutEchoingIt(t *testing.T) {
	_, err := Open("redis://:hunter2@%zz")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}
