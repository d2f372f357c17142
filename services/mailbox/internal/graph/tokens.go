package graph

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	identityv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/identity/v1"
)

var (
	// ErrReconnectRequired means identity holds no working token for the
	// connection (it is reconnect_required, disconnected, or gone): nothing
	// can be done for the mailbox until its owner connects it again.
	ErrReconnectRequired = errors.New("graph: the mailbox must be connected again")
	// ErrTokenUnavailable means identity could not answer now.
	ErrTokenUnavailable = errors.New("graph: identity could not hand out a token now")
)

// AccessTokenGetter is identity's GetAccessToken.
type AccessTokenGetter interface {
	GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error)
}

// identityAPI adapts the generated client, whose method also takes call
// options.
type identityAPI struct {
	api identityv1.IdentityServiceClient
}

func (a identityAPI) GetAccessToken(ctx context.Context, req *identityv1.GetAccessTokenRequest) (*identityv1.GetAccessTokenResponse, error) {
	return a.api.GetAccessToken(ctx, req)
}

// IdentityTokens is a TokenSource over identity's GetAccessToken, keeping
// each token in memory until shortly before it expires: a send takes
// several Graph calls, and identity need not be asked for each.
type IdentityTokens struct {
	api    AccessTokenGetter
	margin time.Duration
	now    func() time.Time

	mu     sync.Mutex
	tokens map[string]cachedToken
}

type cachedToken struct {
	value   string
	expires time.Time
}

// NewIdentityTokens returns a token source over identity's client.
func NewIdentityTokens(api identityv1.IdentityServiceClient) *IdentityTokens {
	return newIdentityTokens(identityAPI{api})
}

func newIdentityTokens(api AccessTokenGetter) *IdentityTokens {
	return &IdentityTokens{api: api, margin: 2 * time.Minute, now: time.Now, tokens: map[string]cachedToken{}}
}

// AccessToken returns a token of the connection that is valid for a while
// yet. Errors wrap ErrReconnectRequired or ErrTokenUnavailable.
func (s *IdentityTokens) AccessToken(ctx context.Context, connectionID string) (string, error) {
	now := s.now()
	s.mu.Lock()
	t, ok := s.tokens[connectionID]
	s.mu.Unlock()
	if ok && now.Add(s.margin).Before(t.expires) {
		return t.value, nil
	}
	resp, err := s.api.GetAccessToken(ctx, &identityv1.GetAccessTokenRequest{ConnectionId: connectionID})
	if err != nil {
		s.Forget(connectionID)
		switch status.Code(err) {
		case codes.FailedPrecondition, codes.NotFound:
			return "", fmt.Errorf("%w: %s", ErrReconnectRequired, status.Code(err))
		}
		return "", fmt.Errorf("%w: %w", ErrTokenUnavailable, err)
	}
	exp := resp.GetExpireTime().AsTime()
	s.mu.Lock()
	s.tokens[connectionID] = cachedToken{value: resp.GetAccessToken(), expires: exp}
	s.mu.Unlock()
	return resp.GetAccessToken(), nil
}

// Forget drops the connection's cached token (after a reconnection, or a
// 401).
func (s *IdentityTokens) Forget(connectionID string) {
	s.mu.Lock()
	delete(s.tokens, connectionID)
	s.mu.Unlock()
}
