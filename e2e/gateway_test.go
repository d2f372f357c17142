package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/e2e/stack"
	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

// The one-time code a flow hands the frontend travels in a URL: holding the
// URL is not enough to redeem it (issue 8, item 10).
func TestIdentity_LoginCodeIsRedeemedOnlyByItsBrowser(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	br := newBrowser(t, s)
	code := loginCode(t, br.signIn(as{email: contosoUser}))
	for _, v := range []string{"", newBrowser(t, s).verifier} {
		status, body := api{t: t, s: s}.call("POST", "/v1/sessions:exchange", &identityv1.ExchangeLoginCodeRequest{Code: code, CodeVerifier: v}, nil)
		wantError(t, status, body, http.StatusBadRequest, "INVALID_ARGUMENT")
		if !strings.Contains(string(body), `"field":"code_verifier"`) {
			t.Fatalf("the error should name code_verifier: %s", body)
		}
	}
	if res := exchange(t, br, code); res.GetOutcome() != "signed_in" || res.GetSession().GetAccessToken() == "" {
		t.Fatalf("the browser's own exchange: %v", res)
	}

	// A flow started without a frontend's challenge (a link opened outside
	// the frontend) is redeemed by the gateway's own page, which proves the
	// browser with its binding cookie; another browser's visit is refused.
	plain := newBrowser(t, s)
	p, err := plain.b.Get(plain.ctx(), s.GatewayURL+"/oauth/microsoft/start?flow=sign_in")
	if err != nil {
		t.Fatal(err)
	}
	code = loginCode(t, plain.walk(p, as{email: contosoUser}))
	other := newBrowser(t, s)
	if page, err := other.b.Get(other.ctx(), s.GatewayURL+"/app/auth/complete?code="+code); err != nil || page.Status != http.StatusBadRequest {
		t.Fatalf("another browser on the gateway's page: %v %+v", err, page)
	}
	page, err := plain.b.Get(plain.ctx(), s.GatewayURL+"/app/auth/complete?code="+code)
	if err != nil || page.Status != http.StatusOK || !strings.Contains(page.Body, `data-outcome="signed_in"`) {
		t.Fatalf("the browser's own visit to the gateway's page: %v %+v", err, page)
	}
}

// The gateway's own answers to bad requests: bodies over the limit, path
// parameters that are not UTF-8, undecodable JSON (issue 8, items 4, 7, 8).
func TestGateway_BadRequestsAnswerTheStableShape(t *testing.T) {
	s := stack.Start(t, binDir, stack.Options{})
	do := func(method, path string, body []byte) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, s.GatewayURL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: read the answer: %v", method, path, err)
		}
		return resp.StatusCode, string(b)
	}
	big := append(append([]byte(`{"code":"`), bytes.Repeat([]byte("a"), 2<<20)...), '"', '}')
	if code, body := do("POST", "/v1/sessions:exchange", big); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"reason":"body_too_large"`) {
		t.Fatalf("a 2 MiB body: %d %.300s", code, body)
	}
	if code, body := do("GET", "/v1/users/%F0%28%8C%28", nil); code != http.StatusBadRequest || !strings.Contains(body, `"field":"user_id"`) {
		t.Fatalf("invalid UTF-8 in a path parameter: %d %s", code, body)
	}
	code, body := do("POST", "/v1/sessions:exchange", []byte(`{"code": 5}`))
	if code != http.StatusBadRequest || !strings.Contains(body, `"field":"code"`) || strings.Contains(body, "proto:") {
		t.Fatalf("a number for a string: %d %s", code, body)
	}
}
