package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestTraceIDsOnRecords(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "json", slog.LevelInfo, slog.String("service", "identity"))
	tid, err := trace.TraceIDFromHex("0102030405060708090a0b0c0d0e0f10")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex("0102030405060708")
	if err != nil {
		t.Fatal(err)
	}
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	log.InfoContext(ctx, "hello")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["trace_id"] != tid.String() || rec["span_id"] != sid.String() || rec["service"] != "identity" {
		t.Fatalf("record missing ids: %v", rec)
	}
	buf.Reset()
	log.Info("no trace")
	if bytes.Contains(buf.Bytes(), []byte("trace_id")) {
		t.Fatalf("trace id without a span: %s", buf.String())
	}
}

func TestParseLevel(t *testing.T) {
	if l, err := ParseLevel("debug"); err != nil || l != slog.LevelDebug {
		t.Fatal(l, err)
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Fatal("want error")
	}
}
