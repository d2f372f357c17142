package signin_test

import (
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
)

// The one-time login code travels in a URL; holding the URL must not be
// enough to redeem it (issue 8, item 10).
func TestLoginCodeIsRedeemedOnlyByItsBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	br := e.browser()
	frontend := br.complete(br.callback(br.walk(br.begin(signin.BeginRequest{Flow: signin.FlowSignIn}), who{email: adele})))
	code := mustQuery(t, frontend).Get("code")
	for _, v := range []string{"", "a guess", e.browser().secret} {
		_, err := e.flows.TakeLoginCode(ctx, code, v)
		wantKind(t, "a code without its browser's proof", err, apperr.ErrInvalidArgument, "code_verifier")
	}
	// The failed attempts did not spend it: its browser still redeems it.
	if res, err := e.flows.TakeLoginCode(ctx, code, br.secret); err != nil || res.Outcome != signin.OutcomeSignedIn {
		t.Fatalf("the browser's own exchange: %+v, %v", res, err)
	}

	// A frontend on another origin cannot read the binding cookie: it keeps
	// a verifier and starts the flow with its challenge.
	verifier := rand.Text()
	challenge := sha256.Sum256([]byte(verifier))
	spa := e.browser()
	frontend = spa.complete(spa.callback(spa.walk(spa.begin(signin.BeginRequest{Flow: signin.FlowSignIn, CodeChallenge: challenge[:]}), who{email: adele})))
	code = mustQuery(t, frontend).Get("code")
	_, err := e.flows.TakeLoginCode(ctx, code, rand.Text())
	wantKind(t, "another verifier", err, apperr.ErrInvalidArgument, "code_verifier")
	if res, err := e.flows.TakeLoginCode(ctx, code, verifier); err != nil || res.Outcome != signin.OutcomeSignedIn {
		t.Fatalf("the frontend's exchange: %+v, %v", res, err)
	}
	_, err = e.flows.TakeLoginCode(ctx, code, verifier)
	wantKind(t, "a used code", err, apperr.ErrInvalidArgument, "code")

	_, err = e.flows.Begin(ctx, signin.BeginRequest{Flow: signin.FlowSignIn, BindingHash: spa.binding, CodeChallenge: challenge[:16]})
	wantKind(t, "a challenge that is not a SHA-256", err, apperr.ErrInvalidArgument, "login_code_challenge")
}
