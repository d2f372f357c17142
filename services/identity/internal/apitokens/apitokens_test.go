package apitokens_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/identity/internal/apitokens"
	"github.com/tandemhq/tandem/services/identity/internal/store"
)

// fakeStore keeps tokens by hash; its users' roles are as stored.
type fakeStore struct {
	byHash map[string]store.APIToken
	roles  map[string]authz.Role // by user id; absent means removed
}

func (f *fakeStore) CreateAPIToken(_ context.Context, t store.APIToken, hash []byte, allow func(store.User) error) (store.APIToken, error) {
	role, ok := f.roles[t.CreatedBy]
	if !ok {
		return store.APIToken{}, postgres.ErrNotFound
	}
	if err := allow(store.User{ID: t.CreatedBy, OrgID: t.OrgID, Role: role}); err != nil {
		return store.APIToken{}, err
	}
	if f.byHash == nil {
		f.byHash = map[string]store.APIToken{}
	}
	t.ID = "tok-" + string(rune('a'+len(f.byHash)))
	f.byHash[string(hash)] = t
	return t, nil
}

func (f *fakeStore) APITokenByHash(_ context.Context, hash []byte) (store.APIToken, error) {
	t, ok := f.byHash[string(hash)]
	if !ok || t.RevokedAt != nil {
		return store.APIToken{}, postgres.ErrNotFound
	}
	return t, nil
}

func (f *fakeStore) APITokens(context.Context, string) ([]store.APIToken, error) { return nil, nil }

func (f *fakeStore) RevokeAPIToken(_ context.Context, orgID, id string, at time.Time) (store.APIToken, error) {
	for h, t := range f.byHash {
		if t.OrgID == orgID && t.ID == id {
			t.RevokedAt = &at
			f.byHash[h] = t
			return t, nil
		}
	}
	return store.APIToken{}, postgres.ErrNotFound
}

func person(role authz.Role) authz.Principal {
	return authz.Principal{Kind: authz.KindUser, OrgID: "org", UserID: "u1", Role: role, SessionID: "s1"}
}

func wantKind(t *testing.T, what string, err error, kind apperr.Kind, field string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != kind || ae.Field != field {
		t.Fatalf("%s: %v, want %v on %q", what, err, kind, field)
	}
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	tokens := apitokens.New(&fakeStore{roles: map[string]authz.Role{"u1": authz.RoleAdmin}})
	ctx := t.Context()

	_, _, err := tokens.Create(ctx, person(authz.RoleAdmin), "ci", authz.RoleSuperAdmin)
	wantKind(t, "a role above the creator's", err, apperr.KindPermissionDenied, "")
	_, _, err = tokens.Create(ctx, person(authz.RoleAdmin), "  ", authz.RoleMember)
	wantKind(t, "a blank name", err, apperr.KindInvalidArgument, "display_name")
	_, _, err = tokens.Create(ctx, person(authz.RoleAdmin), strings.Repeat("n", apitokens.MaxDisplayName+1), authz.RoleMember)
	wantKind(t, "a long name", err, apperr.KindInvalidArgument, "display_name")

	rec, token, err := tokens.Create(ctx, person(authz.RoleAdmin), " ci ", authz.RoleRecruiter)
	if err != nil || rec.DisplayName != "ci" || rec.CreatedBy != "u1" || rec.OrgID != "org" || !authz.IsAPIToken(token) {
		t.Fatalf("Create: %+v, %v", rec, err)
	}
	p, err := tokens.ResolveAPIToken(ctx, token)
	if err != nil || p.Kind != authz.KindAPIToken || p.TokenID != rec.ID || p.Role != authz.RoleRecruiter || p.OrgID != "org" {
		t.Fatalf("ResolveAPIToken: %+v, %v", p, err)
	}
	if _, err := tokens.Authenticate(ctx, "tdm_not-a-token"); !errors.Is(err, authz.ErrAPITokenInvalid) {
		t.Fatalf("a malformed token: %v", err)
	}
	if _, err := tokens.Revoke(ctx, "org", rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Authenticate(ctx, token); !errors.Is(err, authz.ErrAPITokenInvalid) {
		t.Fatalf("a revoked token: %v", err)
	}
}

func TestCreate_OnlyAPersonCreatesTokens(t *testing.T) {
	tokens := apitokens.New(&fakeStore{roles: map[string]authz.Role{"u1": authz.RoleAdmin}})
	ctx := t.Context()
	// An Admin API token would otherwise mint tokens with no creator, which
	// outlive its own revocation.
	bot := authz.Principal{Kind: authz.KindAPIToken, OrgID: "org", TokenID: "tok-a", Role: authz.RoleAdmin}
	_, _, err := tokens.Create(ctx, bot, "child", authz.RoleMember)
	wantKind(t, "an API token creating a token", err, apperr.KindPermissionDenied, "")
	service := authz.Principal{Kind: authz.KindService, Service: "gateway"}
	_, _, err = tokens.Create(ctx, service, "child", authz.RoleMember)
	wantKind(t, "a service creating a token", err, apperr.KindPermissionDenied, "")
}

func TestCreate_ChecksTheCreatorsStoredRole(t *testing.T) {
	st := &fakeStore{roles: map[string]authz.Role{"u1": authz.RoleMember}}
	tokens := apitokens.New(st)
	// The session still says Admin, but the store knows the creator was
	// demoted a moment ago.
	_, _, err := tokens.Create(t.Context(), person(authz.RoleAdmin), "ci", authz.RoleAdmin)
	wantKind(t, "a token above the creator's stored role", err, apperr.KindPermissionDenied, "")
	delete(st.roles, "u1")
	_, _, err = tokens.Create(t.Context(), person(authz.RoleAdmin), "ci", authz.RoleMember)
	wantKind(t, "a token of a removed creator", err, apperr.KindPermissionDenied, "")
}
