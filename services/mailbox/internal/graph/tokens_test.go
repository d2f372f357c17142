package graph

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

type fakeIdentity struct {
	calls int
	err   error
	exp   time.Time
}

func (f *fakeIdentity) GetAccessToken(_ context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &identityv1.GetAccessTokenResponse{AccessToken: "tok-" + req.GetConnectionId(), ExpireTime: timestamppb.New(f.exp)}, nil
}

func TestIdentityTokensAreKeptUntilShortlyBeforeExpiry(t *testing.T) {
	now := time.Now()
	id := &fakeIdentity{exp: now.Add(time.Hour)}
	src := newIdentityTokens(id)
	src.now = func() time.Time { return now }
	for range 3 {
		if tok, err := src.AccessToken(t.Context(), "c1"); err != nil || tok != "tok-c1" {
			t.Fatal(tok, err)
		}
	}
	if id.calls != 1 {
		t.Errorf("%d calls for a token valid an hour", id.calls)
	}
	src.now = func() time.Time { return now.Add(59 * time.Minute) }
	if _, err := src.AccessToken(t.Context(), "c1"); err != nil || id.calls != 2 {
		t.Errorf("near expiry: %d calls, %v", id.calls, err)
	}
	src.Forget("c1")
	if _, err := src.AccessToken(t.Context(), "c1"); err != nil || id.calls != 3 {
		t.Errorf("after Forget: %d calls, %v", id.calls, err)
	}
}

func TestIdentitysRefusalsSayReconnectOrTryLater(t *testing.T) {
	for code, want := range map[codes.Code]error{
		codes.FailedPrecondition: ErrReconnectRequired,
		codes.NotFound:           ErrReconnectRequired,
		codes.Unavailable:        ErrTokenUnavailable,
		codes.DeadlineExceeded:   ErrTokenUnavailable,
	} {
		src := newIdentityTokens(&fakeIdentity{err: status.Error(code, "the connection is reconnect required: refresh token expired")})
		_, err := src.AccessToken(t.Context(), "c1")
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", code, err, want)
		}
	}
}
