package simclient

import (
	"context"
	"net/http"
	"net/url"
)

// Lever's part of the control API, under /_sim/lever/.

// LeverSettings returns Lever's settings.
func (c *Client) LeverSettings(ctx context.Context) (LeverSettings, error) {
	return get[LeverSettings](ctx, c, "/_sim/lever/settings")
}

// SetLeverSettings replaces Lever's settings; zero fields take the default.
func (c *Client) SetLeverSettings(ctx context.Context, s LeverSettings) (LeverSettings, error) {
	return send[LeverSettings](ctx, c, http.MethodPut, "/_sim/lever/settings", s)
}

// CreateLeverClient registers (or replaces) an OAuth app with Lever.
func (c *Client) CreateLeverClient(ctx context.Context, cl LeverClient) (LeverClient, error) {
	return send[LeverClient](ctx, c, http.MethodPost, "/_sim/lever/clients", cl)
}

// LeverClients lists the OAuth apps, without secrets.
func (c *Client) LeverClients(ctx context.Context) ([]LeverClient, error) {
	return get[[]LeverClient](ctx, c, "/_sim/lever/clients")
}

// CreateLeverAccount creates an account with what it lists.
func (c *Client) CreateLeverAccount(ctx context.Context, a LeverAccount) (LeverAccount, error) {
	return send[LeverAccount](ctx, c, http.MethodPost, "/_sim/lever/accounts", a)
}

// LeverAccounts lists the accounts.
func (c *Client) LeverAccounts(ctx context.Context) ([]LeverAccount, error) {
	return get[[]LeverAccount](ctx, c, "/_sim/lever/accounts")
}

// LeverAccount returns an account by id or name.
func (c *Client) LeverAccount(ctx context.Context, idOrName string) (LeverAccount, error) {
	return get[LeverAccount](ctx, c, "/_sim/lever/accounts/"+url.PathEscape(idOrName))
}

// AddLeverUser adds a user to an account.
func (c *Client) AddLeverUser(ctx context.Context, account string, u LeverUser) (LeverUser, error) {
	return send[LeverUser](ctx, c, http.MethodPost, "/_sim/lever/accounts/"+url.PathEscape(account)+"/users", u)
}

// AddLeverPosting adds a posting to an account.
func (c *Client) AddLeverPosting(ctx context.Context, account string, p LeverPosting) (LeverPosting, error) {
	return send[LeverPosting](ctx, c, http.MethodPost, "/_sim/lever/accounts/"+url.PathEscape(account)+"/postings", p)
}

// AddLeverCandidate creates an opportunity as if it had been in Lever
// already: no webhooks fire.
func (c *Client) AddLeverCandidate(ctx context.Context, account string, cand LeverCandidate) (LeverOpportunity, error) {
	return send[LeverOpportunity](ctx, c, http.MethodPost, "/_sim/lever/accounts/"+url.PathEscape(account)+"/candidates", cand)
}

// LeverOpportunities lists an account's opportunities as stored (deleted
// ones included).
func (c *Client) LeverOpportunities(ctx context.Context, account string) ([]LeverOpportunity, error) {
	return get[[]LeverOpportunity](ctx, c, "/_sim/lever/accounts/"+url.PathEscape(account)+"/opportunities")
}

// LeverOpportunity returns one opportunity as stored: notes with their
// secret flag, files and resumes, sources, the perform_as user, history.
func (c *Client) LeverOpportunity(ctx context.Context, id string) (LeverOpportunity, error) {
	return get[LeverOpportunity](ctx, c, "/_sim/lever/opportunities/"+url.PathEscape(id))
}

// UpdateLeverContact edits the contact of an opportunity as a person in
// Lever would (contactUpdated fires).
func (c *Client) UpdateLeverContact(ctx context.Context, id string, u LeverContactUpdate) (LeverOpportunity, error) {
	return send[LeverOpportunity](ctx, c, http.MethodPatch, "/_sim/lever/opportunities/"+url.PathEscape(id)+"/contact", u)
}

// MoveLeverStage moves an opportunity as a person in Lever would
// (candidateStageChange fires).
func (c *Client) MoveLeverStage(ctx context.Context, id string, m LeverStageMove) (LeverOpportunity, error) {
	return send[LeverOpportunity](ctx, c, http.MethodPost, "/_sim/lever/opportunities/"+url.PathEscape(id)+"/stage", m)
}

// ArchiveLever archives an opportunity (or restores it with an empty
// reason); candidateArchiveChange fires, and candidateHired for a hired
// reason.
func (c *Client) ArchiveLever(ctx context.Context, id string, a LeverArchive) (LeverOpportunity, error) {
	return send[LeverOpportunity](ctx, c, http.MethodPost, "/_sim/lever/opportunities/"+url.PathEscape(id)+"/archive", a)
}

// HireLever archives an opportunity as hired.
func (c *Client) HireLever(ctx context.Context, id string, a LeverArchive) (LeverOpportunity, error) {
	return send[LeverOpportunity](ctx, c, http.MethodPost, "/_sim/lever/opportunities/"+url.PathEscape(id)+"/hire", a)
}

// DeleteLever deletes an opportunity (candidateDeleted fires); userID may
// be empty for the account's Super Admin.
func (c *Client) DeleteLever(ctx context.Context, id, userID string) error {
	return c.do(ctx, http.MethodDelete, "/_sim/lever/opportunities/"+url.PathEscape(id)+query("userId", userID), nil, nil)
}

// RevokeLever is "Revoke Access" on an authorized app: refreshes become
// invalid_grant and access tokens answer 401.
func (c *Client) RevokeLever(ctx context.Context, account, clientID string) (int, error) {
	a, err := send[Affected](ctx, c, http.MethodPost, "/_sim/lever/accounts/"+url.PathEscape(account)+"/revoke", LeverRevoke{ClientID: clientID})
	return a.Count, err
}

// CreateLeverAPIKey issues an API key for an account.
func (c *Client) CreateLeverAPIKey(ctx context.Context, account string, k LeverAPIKey) (LeverAPIKey, error) {
	return send[LeverAPIKey](ctx, c, http.MethodPost, "/_sim/lever/accounts/"+url.PathEscape(account)+"/keys", k)
}

// RevokeLeverAPIKey deactivates an API key.
func (c *Client) RevokeLeverAPIKey(ctx context.Context, key string) error {
	return c.do(ctx, http.MethodDelete, "/_sim/lever/keys/"+url.PathEscape(key), nil, nil)
}

// LeverGrants lists an account's authorizations.
func (c *Client) LeverGrants(ctx context.Context, account string) ([]LeverGrant, error) {
	return get[[]LeverGrant](ctx, c, "/_sim/lever/accounts/"+url.PathEscape(account)+"/grants")
}

// LeverWebhooks lists an account's webhooks with their signature tokens.
func (c *Client) LeverWebhooks(ctx context.Context, account string) ([]LeverWebhook, error) {
	return get[[]LeverWebhook](ctx, c, "/_sim/lever/accounts/"+url.PathEscape(account)+"/webhooks")
}

// AddLeverWebhook creates a webhook as an admin would in Settings.
func (c *Client) AddLeverWebhook(ctx context.Context, account string, h LeverWebhook) (LeverWebhook, error) {
	return send[LeverWebhook](ctx, c, http.MethodPost, "/_sim/lever/accounts/"+url.PathEscape(account)+"/webhooks", h)
}

// TestLeverWebhook sends a connection test delivery.
func (c *Client) TestLeverWebhook(ctx context.Context, id string) (LeverDelivery, error) {
	return send[LeverDelivery](ctx, c, http.MethodPost, "/_sim/lever/webhooks/"+url.PathEscape(id)+"/test", nil)
}

// LeverDeliveries lists webhook deliveries and their attempts.
func (c *Client) LeverDeliveries(ctx context.Context) ([]LeverDelivery, error) {
	return get[[]LeverDelivery](ctx, c, "/_sim/lever/deliveries")
}

// AddLeverDeliveryFault drops, delays, duplicates or re-orders upcoming
// deliveries.
func (c *Client) AddLeverDeliveryFault(ctx context.Context, f LeverDeliveryFault) error {
	return c.do(ctx, http.MethodPost, "/_sim/lever/deliveries/faults", f, nil)
}

// ClearLeverDeliveryFaults removes every delivery fault.
func (c *Client) ClearLeverDeliveryFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/_sim/lever/deliveries/faults", nil, nil)
}
