package simclient

import (
	"context"
	"net/http"
	"net/url"
)

// CreateAshbyOrg creates an Ashby organization with what it lists.
func (c *Client) CreateAshbyOrg(ctx context.Context, o AshbyOrg) (AshbyOrg, error) {
	return send[AshbyOrg](ctx, c, http.MethodPost, "/_sim/ashby/orgs", o)
}

// AshbyOrgs lists the Ashby organizations.
func (c *Client) AshbyOrgs(ctx context.Context) ([]AshbyOrg, error) {
	return get[[]AshbyOrg](ctx, c, "/_sim/ashby/orgs")
}

// AshbyOrg returns an organization (users, plans, jobs, sources, reasons,
// webhooks, keys) by id or name.
func (c *Client) AshbyOrg(ctx context.Context, idOrName string) (AshbyOrg, error) {
	return get[AshbyOrg](ctx, c, "/_sim/ashby/orgs/"+url.PathEscape(idOrName))
}

// AddToAshbyOrg adds what o lists (users, plans, jobs, sources, archive
// reasons, templates, candidates, applications, webhooks, API keys) and
// returns what was created.
func (c *Client) AddToAshbyOrg(ctx context.Context, idOrName string, o AshbyOrg) (AshbyOrg, error) {
	return send[AshbyOrg](ctx, c, http.MethodPost, "/_sim/ashby/orgs/"+url.PathEscape(idOrName)+"/objects", o)
}

// IssueAshbyKey issues an API key; nil Permissions means write on every
// module.
func (c *Client) IssueAshbyKey(ctx context.Context, org string, k AshbyAPIKey) (AshbyAPIKey, error) {
	out, err := c.AddToAshbyOrg(ctx, org, AshbyOrg{APIKeys: []AshbyAPIKey{k}})
	if err != nil {
		return AshbyAPIKey{}, err
	}
	return out.APIKeys[0], nil
}

// DeactivateAshbyKey deactivates an API key (by id or the key itself).
func (c *Client) DeactivateAshbyKey(ctx context.Context, id string) (AshbyAPIKey, error) {
	return send[AshbyAPIKey](ctx, c, http.MethodPost, "/_sim/ashby/api-keys/"+url.PathEscape(id)+"/deactivate", nil)
}

// AshbyCandidates lists an organization's candidates as stored, with their
// notes, logged emails, resume and applications.
func (c *Client) AshbyCandidates(ctx context.Context, org string) ([]AshbyCandidate, error) {
	return get[[]AshbyCandidate](ctx, c, "/_sim/ashby/orgs/"+url.PathEscape(org)+"/candidates")
}

// AshbyCandidate returns a candidate as stored.
func (c *Client) AshbyCandidate(ctx context.Context, id string) (AshbyCandidate, error) {
	return get[AshbyCandidate](ctx, c, "/_sim/ashby/candidates/"+url.PathEscape(id))
}

// AshbyApplication returns an application as stored.
func (c *Client) AshbyApplication(ctx context.Context, id string) (AshbyApplication, error) {
	return get[AshbyApplication](ctx, c, "/_sim/ashby/applications/"+url.PathEscape(id))
}

// MoveAshbyApplication moves an application as a person in Ashby would;
// its webhooks fire.
func (c *Client) MoveAshbyApplication(ctx context.Context, id string, m AshbyStageMove) (AshbyApplication, error) {
	return send[AshbyApplication](ctx, c, http.MethodPost, "/_sim/ashby/applications/"+url.PathEscape(id)+"/stage", m)
}

// ArchiveAshbyApplication archives an application with a reason (empty:
// the organization's first).
func (c *Client) ArchiveAshbyApplication(ctx context.Context, id, reasonID string) (AshbyApplication, error) {
	return send[AshbyApplication](ctx, c, http.MethodPost, "/_sim/ashby/applications/"+url.PathEscape(id)+"/archive", AshbyStageMove{ArchiveReasonID: reasonID})
}

// HireAshbyApplication moves an application to its plan's Hired stage.
func (c *Client) HireAshbyApplication(ctx context.Context, id string) (AshbyApplication, error) {
	return send[AshbyApplication](ctx, c, http.MethodPost, "/_sim/ashby/applications/"+url.PathEscape(id)+"/hire", AshbyStageMove{})
}

// MergeAshbyCandidates merges one candidate into another.
func (c *Client) MergeAshbyCandidates(ctx context.Context, m AshbyMerge) (AshbyCandidate, error) {
	return send[AshbyCandidate](ctx, c, http.MethodPost, "/_sim/ashby/candidates/merge", m)
}

// DeleteAshbyCandidate deletes a candidate and their applications.
func (c *Client) DeleteAshbyCandidate(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/_sim/ashby/candidates/"+url.PathEscape(id), nil, nil)
}

// ExpireAshbySync makes sync tokens or cursors fail, or the next
// incremental rounds too large.
func (c *Client) ExpireAshbySync(ctx context.Context, x AshbySyncExpiry) (int, error) {
	a, err := send[Affected](ctx, c, http.MethodPost, "/_sim/ashby/sync/expire", x)
	return a.Count, err
}

// AshbySettings returns Ashby's settings.
func (c *Client) AshbySettings(ctx context.Context) (AshbySettings, error) {
	return get[AshbySettings](ctx, c, "/_sim/ashby/settings")
}

// SetAshbySettings replaces Ashby's settings; zero fields take the default.
func (c *Client) SetAshbySettings(ctx context.Context, s AshbySettings) (AshbySettings, error) {
	return send[AshbySettings](ctx, c, http.MethodPut, "/_sim/ashby/settings", s)
}

// PingAshbyWebhook sends a ping to a webhook.
func (c *Client) PingAshbyWebhook(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/_sim/ashby/webhooks/"+url.PathEscape(id)+"/ping", nil, nil)
}

// AshbyDeliveries lists webhook deliveries and their attempts.
func (c *Client) AshbyDeliveries(ctx context.Context) ([]AshbyDelivery, error) {
	return get[[]AshbyDelivery](ctx, c, "/_sim/ashby/webhooks/deliveries")
}

// AddAshbyDeliveryFault drops, delays, duplicates or re-orders upcoming
// webhook deliveries.
func (c *Client) AddAshbyDeliveryFault(ctx context.Context, f AshbyDeliveryFault) error {
	return c.do(ctx, http.MethodPost, "/_sim/ashby/webhooks/faults", f, nil)
}

// ClearAshbyDeliveryFaults removes every delivery fault and releases held
// deliveries.
func (c *Client) ClearAshbyDeliveryFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/_sim/ashby/webhooks/faults", nil, nil)
}
