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
	key := Keys{Prefix: pgtest.RedisPrefix(t)}.Key("token", "c1")
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
			v := a.Value.Emit()
			if strings.Contains(v, "super-secret") || strings.Contains(v, key) || a.Key == "db.statement" || a.Key == "db.query.text" {
				t.Fatalf("span %q carries %s=%s", s.Name(), a.Key, v)
			}
		}
	}
}

func TestKeys(t *testing.T) {
	if got := (Keys{Prefix: "tandem:"}).Key("vault", "cred", "c1"); got != "tandem:vault:cred:c1" {
		t.Fatal(got)
	}
}

func TestOpenRejectsBadURLWithoutEchoingIt(t *testing.T) {
	_, err := Open("redis://:hunter2@%zz")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}
