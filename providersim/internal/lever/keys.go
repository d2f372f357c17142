package lever

import (
	"slices"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// apiKey is a key made in Settings → Integrations and API → API
// Credentials: HTTP Basic with the key as username. Lever meant them for
// customers' own tools; partner apps use OAuth.
type apiKey struct {
	simclient.LeverAPIKey
}

// CreateKey issues an API key for an account. Scopes limit it to those
// endpoints (the scope names stand for Lever's endpoint checkboxes); none
// means every endpoint.
func (s *Service) CreateKey(accountID string, in simclient.LeverAPIKey) (simclient.LeverAPIKey, error) {
	for _, sc := range in.Scopes {
		if !knownScope(sc) || sc == "offline_access" {
			return simclient.LeverAPIKey{}, invalid("unknown scope %s", sc)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.accountLocked(accountID)
	if err != nil {
		return simclient.LeverAPIKey{}, err
	}
	creator := a.superAdmin()
	if creator == nil {
		return simclient.LeverAPIKey{}, invalid("only a Super Admin creates API keys; the account has none")
	}
	in.Key = s.ids.Token("lever-api-key", 36)
	in.AccountID = a.id
	in.CreatedBy = creator.ID
	in.Scopes = slices.Clone(in.Scopes)
	in.Revoked = false
	s.keys[in.Key] = &apiKey{LeverAPIKey: in}
	return in, nil
}

// RevokeKey deactivates an API key; calls with it answer 401.
func (s *Service) RevokeKey(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[key]
	if k == nil {
		return notFound("no API key %s", key)
	}
	k.Revoked = true
	return nil
}

func (s *Service) introspectKeyLocked(key string) (*accessToken, *apiError) {
	k := s.keys[key]
	if k == nil || k.Revoked || s.accounts[k.AccountID] == nil {
		return nil, unauthorized("Invalid API key")
	}
	return &accessToken{accountID: k.AccountID, userID: k.CreatedBy, scopes: k.Scopes, everyEndpoint: len(k.Scopes) == 0}, nil
}
