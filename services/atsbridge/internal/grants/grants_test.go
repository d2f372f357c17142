package grants_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
	"github.com/tandemhq/tandem/services/atsbridge/internal/grants"
)

type tokens struct {
	err error
	got *identityv1.GetAccessTokenRequest
}

func (k *tokens) GetAccessToken(_ context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	k.got = req
	if k.err != nil {
		return nil, k.err
	}
	return &identityv1.GetAccessTokenResponse{AccessToken: "fresh"}, nil
}

func TestOnlyARefusedRefreshIsRevoked(t *testing.T) {
	for name, c := range map[string]struct {
		err     error
		revoked bool
	}{
		"refreshed":                 {nil, false},
		"the refresh was refused":   {status.Error(codes.FailedPrecondition, "reconnect required"), true},
		"identity has no such link": {status.Error(codes.NotFound, "no connection"), true},
		"identity is unavailable":   {status.Error(codes.Unavailable, "down"), false},
		"the refresh timed out":     {status.Error(codes.DeadlineExceeded, "slow"), false},
		"not a status":              {errors.New("broken pipe"), false},
	} {
		k := &tokens{err: c.err}
		if got := grants.Revoked(t.Context(), k, "conn-1"); got != c.revoked {
			t.Errorf("%s: revoked %t, want %t", name, got, c.revoked)
		}
		if k.got.GetConnectionId() != "conn-1" || !k.got.GetRefresh() {
			t.Errorf("%s: asked identity %v, want a refresh of conn-1", name, k.got)
		}
	}
}
