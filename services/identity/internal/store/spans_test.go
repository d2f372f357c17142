package store_test

import (
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// Not parallel: it installs the global tracer provider.
func TestStoreSpansRecordErrors(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	st, _ := newStore(t)
	ctx := t.Context()
	tenant := newID(t)
	org, owner := person(t, st, tenant, "owner@x.example")

	// A refused change fails its span; a lookup that finds nothing does not.
	_, err := setRole(ctx, st, org.ID, owner.ID, authz.RoleAdmin)
	wantErr(t, "demoting the only Super Admin", err, store.ErrLastSuperAdmin)
	_, err = st.User(ctx, org.ID, newID(t))
	wantErr(t, "an unknown user", err, postgres.ErrNotFound)

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		spans[s.Name()] = s
	}
	failed, ok := spans["store.ChangeUserRole"]
	if !ok {
		t.Fatalf("no span for ChangeUserRole among %d", len(spans))
	}
	if failed.Status().Code != codes.Error || len(failed.Events()) == 0 || failed.Events()[0].Name != "exception" {
		t.Fatalf("ChangeUserRole's span: status %v, events %v; want the error recorded", failed.Status(), failed.Events())
	}
	if missing := spans["store.User"]; missing == nil || missing.Status().Code == codes.Error {
		t.Fatalf("a lookup that found nothing should not fail its span: %v", missing)
	}
}
