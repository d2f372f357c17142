package vault

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/tandemhq/tandem/services/identity/internal/microsoft"
)

// MicrosoftRefresher refreshes Microsoft connections.
type MicrosoftRefresher struct {
	Client *microsoft.TokenClient
	// Now stamps the new credentials; default time.Now.
	Now func() time.Time
}

// Refresh implements Refresher. Scopes are sent as stored, with
// offline_access added so that Microsoft returns a new refresh token.
// Microsoft's permanent refusals (invalid_grant, interaction_required,
// consent_required) are permanent here too, with the GrantError's Reason;
// invalid_client is not: see clientRejected.
func (r MicrosoftRefresher) Refresh(ctx context.Context, refreshToken string, scopes []string) (Credentials, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	// Taken before the request: the token's lifetime starts no later than
	// Microsoft answers.
	at := now()
	if len(scopes) > 0 && !slices.Contains(scopes, "offline_access") {
		scopes = append(slices.Clip(scopes), "offline_access")
	}
	tr, err := r.Client.Refresh(ctx, refreshToken, scopes)
	if err != nil {
		var ge *microsoft.GrantError
		if errors.As(err, &ge) && ge.ClientRejected() {
			return Credentials{}, clientRejected{err}
		}
		return Credentials{}, err
	}
	// Scopes stay as they were: Microsoft lists the token's scopes in
	// another form than they were asked for, and what a refresh asks for
	// must not drift.
	return Credentials{
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		ExpiresAt:    tr.ExpiresAt(at),
		RefreshedAt:  at,
	}, nil
}

// clientRejected hides the permanence of invalid_client. Our own app's
// secret being wrong or expired fails every connection alike, and no user
// reconnecting fixes it: marking them all reconnect_required would turn an
// operator's configuration fix into every user's chore. It is an outage
// (Unavailable, logged) until the configuration is fixed.
type clientRejected struct{ err error }

func (e clientRejected) Error() string {
	return "vault: our client credentials were rejected: " + e.err.Error()
}
func (e clientRejected) Unwrap() error   { return e.err }
func (e clientRejected) Permanent() bool { return false }
