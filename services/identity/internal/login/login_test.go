package login_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/login"
	"github.com/tandemhq/tandem/services/identity/internal/sessions"
	"github.com/tandemhq/tandem/services/identity/internal/signin"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

type codes map[string]signin.LoginResult

func (c codes) TakeLoginCode(_ context.Context, code, _ string) (signin.LoginResult, error) {
	r, ok := c[code]
	if !ok {
		return r, apperr.InvalidArgument("code", "unknown, expired or already used")
	}
	delete(c, code)
	return r, nil
}

type fakeStore struct{ removed bool }

func (f fakeStore) User(_ context.Context, orgID, userID string) (store.User, error) {
	if f.removed {
		return store.User{}, postgres.ErrNotFound
	}
	return store.User{ID: userID, OrgID: orgID}, nil
}

func (fakeStore) Organization(_ context.Context, orgID string) (store.Organization, error) {
	return store.Organization{ID: orgID}, nil
}

func (fakeStore) Connection(_ context.Context, orgID, id string) (store.Connection, error) {
	return store.Connection{ID: id, OrgID: orgID}, nil
}

type issuer struct{ issued int }

func (i *issuer) Issue(context.Context, store.User) (sessions.Issued, error) {
	i.issued++
	return sessions.Issued{AccessToken: "at"}, nil
}

func TestRedeem(t *testing.T) {
	ctx := t.Context()
	c := codes{
		"signed-in": {Outcome: signin.OutcomeSignedIn, OrgID: "org", UserID: "u1"},
		"mailbox":   {Outcome: signin.OutcomeMailboxConnected, OrgID: "org", UserID: "u1", ConnectionID: "c1"},
		"waiting":   {Outcome: signin.OutcomeAdminApprovalRequired, AdminConsentURL: "https://x"},
		"removed":   {Outcome: signin.OutcomeSignedIn, OrgID: "org", UserID: "gone"},
	}
	is := &issuer{}
	e := login.New(c, fakeStore{}, is)

	r, err := e.Redeem(ctx, "signed-in", "verifier")
	if err != nil || r.Session == nil || r.User == nil || r.Organization == nil || r.Connection != nil || is.issued != 1 {
		t.Fatalf("a sign-in: %+v, %v", r, err)
	}
	if _, err := e.Redeem(ctx, "signed-in", "verifier"); !errors.Is(err, apperr.ErrInvalidArgument) {
		t.Fatalf("a code used twice: %v", err)
	}
	r, err = e.Redeem(ctx, "mailbox", "verifier")
	if err != nil || r.Session != nil || r.Connection == nil || r.Connection.ID != "c1" || is.issued != 1 {
		t.Fatalf("a mailbox connected: %+v, %v (a mailbox opens no session)", r, err)
	}
	r, err = e.Redeem(ctx, "waiting", "verifier")
	if err != nil || r.User != nil || r.Session != nil || r.AdminConsentURL == "" {
		t.Fatalf("approval required: %+v, %v", r, err)
	}
	_, err = login.New(c, fakeStore{removed: true}, is).Redeem(ctx, "removed", "verifier")
	if !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("a user removed before the code was redeemed: %v", err)
	}
}
