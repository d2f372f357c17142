package authz

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
)

func TestPrincipalInContext(t *testing.T) {
	ctx := t.Context()
	if _, ok := FromContext(ctx); ok {
		t.Fatal("empty context has a principal")
	}
	if _, err := Caller(ctx); !errors.Is(err, apperr.ErrUnauthenticated) {
		t.Fatalf("Caller without principal: %v, want Unauthenticated", err)
	}
	if _, err := OrgID(ctx); !errors.Is(err, apperr.ErrUnauthenticated) {
		t.Fatalf("OrgID without principal: %v, want Unauthenticated", err)
	}

	p := Principal{Kind: KindUser, OrgID: "org_1", UserID: "usr_1", SessionID: "ses_1", Role: RoleRecruiter}
	ctx = WithPrincipal(ctx, p)
	got, err := Caller(ctx)
	if err != nil || got != p {
		t.Fatalf("Caller = %+v, %v", got, err)
	}
	if org, err := OrgID(ctx); err != nil || org != "org_1" {
		t.Fatalf("OrgID = %q, %v", org, err)
	}
}

func TestServiceCallersHaveNoOrganization(t *testing.T) {
	ctx := WithPrincipal(context.Background(), Principal{Kind: KindService, Service: "outreach"})
	_, err := OrgID(ctx)
	if !errors.Is(err, ErrNoOrganization) {
		t.Fatalf("OrgID for a service: %v, want ErrNoOrganization", err)
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		t.Fatal("a handler bug must surface as Internal, not as a client error kind")
	}
}

func TestPrincipalLogValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "caller", Principal{Kind: KindAPIToken, OrgID: "org_1", TokenID: "tok_9", Role: RoleAdmin})
	out := buf.String()
	for _, want := range []string{"caller.kind=api_token", "caller.org=org_1", "caller.token=tok_9", "caller.role=admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "session=") || strings.Contains(out, "service=") {
		t.Errorf("empty fields logged: %q", out)
	}
}
