package vault

import (
	"context"
	"errors"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/lever"
)

// ProviderLever names Lever's credentials (Credentials.Provider) and its
// Refresher in Options.Refreshers.
const ProviderLever = "lever"

// LeverRefresher refreshes Lever connections. Lever rotates the refresh
// token on every refresh and kills the old one, which the vault's one
// refresh per connection (single flight, Redis lock, re-read under it) and
// its keeping of the newest token before anything else are there for.
type LeverRefresher struct {
	Client *lever.TokenClient
	// Now stamps the new credentials; default time.Now.
	Now func() time.Time
}

// Refresh implements Refresher. Lever's refresh takes no scopes: the
// grant's are kept. invalid_grant is permanent (a reconnect is needed,
// with the GrantError's Reason); our client credentials being refused is
// not (see clientRejected).
func (r LeverRefresher) Refresh(ctx context.Context, refreshToken string, _ []string) (Credentials, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	at := now()
	tr, err := r.Client.Refresh(ctx, refreshToken)
	if err != nil {
		var ge *lever.GrantError
		if errors.As(err, &ge) && ge.ClientRejected() {
			return Credentials{}, clientRejected{err}
		}
		return Credentials{}, err
	}
	if tr.RefreshToken == "" {
		// Without a successor the connection would die at the next
		// refresh: say so now rather than keep a token Lever has killed.
		return Credentials{}, errors.New("vault: Lever answered a refresh without a new refresh token")
	}
	return Credentials{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, ExpiresAt: tr.ExpiresAt(at), RefreshedAt: at}, nil
}
