// Package simclient speaks the control API of providersim (under /_sim/ on
// every port of the simulator): tenants, users, apps and consent, tokens,
// the clock, faults, limits, counters and the simulated outside world of
// mail. Tests use it in-process and against the providersim binary alike.
package simclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the control API of one simulator.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client for the simulator at baseURL (either port). A nil
// httpClient means one with a 30-second timeout.
func New(baseURL string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: httpClient}
}

// Error is a control API failure.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("providersim control API: %d %s", e.Status, e.Message)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("providersim control API: decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

func get[T any](ctx context.Context, c *Client, path string) (T, error) {
	var out T
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

func send[T any](ctx context.Context, c *Client, method, path string, in any) (T, error) {
	var out T
	err := c.do(ctx, method, path, in, &out)
	return out, err
}

func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Health reports the simulator's base URLs and seed.
func (c *Client) Health(ctx context.Context) (Health, error) {
	return get[Health](ctx, c, "/_sim/health")
}

// Reset wipes all state and seeds the apps and demo data again.
func (c *Client) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/_sim/reset", nil, nil)
}

// CreateTenant creates a tenant and the users listed in it.
func (c *Client) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	return send[Tenant](ctx, c, http.MethodPost, "/_sim/tenants", t)
}

// Tenants lists the tenants.
func (c *Client) Tenants(ctx context.Context) ([]Tenant, error) {
	return get[[]Tenant](ctx, c, "/_sim/tenants")
}

// Tenant returns a tenant, with its users, by id or domain.
func (c *Client) Tenant(ctx context.Context, idOrDomain string) (Tenant, error) {
	return get[Tenant](ctx, c, "/_sim/tenants/"+url.PathEscape(idOrDomain))
}

// UpdateTenant changes a tenant's consent policy.
func (c *Client) UpdateTenant(ctx context.Context, idOrDomain string, u TenantUpdate) (Tenant, error) {
	return send[Tenant](ctx, c, http.MethodPatch, "/_sim/tenants/"+url.PathEscape(idOrDomain), u)
}

// CreateUser adds a user to a tenant.
func (c *Client) CreateUser(ctx context.Context, tenant string, u User) (User, error) {
	return send[User](ctx, c, http.MethodPost, "/_sim/tenants/"+url.PathEscape(tenant)+"/users", u)
}

// Users lists the users of a tenant, or of all tenants when tenant is empty.
func (c *Client) Users(ctx context.Context, tenant string) ([]User, error) {
	return get[[]User](ctx, c, "/_sim/users"+query("tenant", tenant))
}

// User returns a user by object id or user principal name.
func (c *Client) User(ctx context.Context, idOrUPN string) (User, error) {
	return get[User](ctx, c, "/_sim/users/"+url.PathEscape(idOrUPN))
}

// UpdateUser changes a user (admin role, password, MFA requirement).
func (c *Client) UpdateUser(ctx context.Context, idOrUPN string, u UserUpdate) (User, error) {
	return send[User](ctx, c, http.MethodPatch, "/_sim/users/"+url.PathEscape(idOrUPN), u)
}

// RevokeSessions revokes all refresh tokens of a user (their next use is
// invalid_grant, AADSTS50173) and signs them out of the sim's browser sessions.
func (c *Client) RevokeSessions(ctx context.Context, idOrUPN string) (int, error) {
	a, err := send[Affected](ctx, c, http.MethodPost, "/_sim/users/"+url.PathEscape(idOrUPN)+"/revoke-sessions", nil)
	return a.Count, err
}

// CreateApp registers (or replaces) an application.
func (c *Client) CreateApp(ctx context.Context, a App) (App, error) {
	return send[App](ctx, c, http.MethodPost, "/_sim/apps", a)
}

// Apps lists the app registrations, without secrets.
func (c *Client) Apps(ctx context.Context) ([]App, error) {
	return get[[]App](ctx, c, "/_sim/apps")
}

// Grants lists consent grants; empty arguments match everything.
func (c *Client) Grants(ctx context.Context, clientID, tenantID, userID string) ([]Grant, error) {
	return get[[]Grant](ctx, c, "/_sim/consent/grants"+query("clientId", clientID, "tenantId", tenantID, "userId", userID))
}

// GrantConsent adds scopes to a user's grant (UserID set) or to the
// tenant-wide grant (UserID empty).
func (c *Client) GrantConsent(ctx context.Context, g Grant) (Grant, error) {
	return send[Grant](ctx, c, http.MethodPost, "/_sim/consent/grants", g)
}

// RevokeConsent removes scopes (all when Scopes is empty) from a grant.
func (c *Client) RevokeConsent(ctx context.Context, g Grant) (Grant, error) {
	return send[Grant](ctx, c, http.MethodPost, "/_sim/consent/grants/revoke", g)
}

// ConsentRequests lists admin consent requests (status "" for all).
func (c *Client) ConsentRequests(ctx context.Context, status string) ([]ConsentRequest, error) {
	return get[[]ConsentRequest](ctx, c, "/_sim/consent/requests"+query("status", status))
}

// ApproveConsentRequest approves a pending request: its scopes are granted
// tenant-wide.
func (c *Client) ApproveConsentRequest(ctx context.Context, id string) (ConsentRequest, error) {
	return send[ConsentRequest](ctx, c, http.MethodPost, "/_sim/consent/requests/"+url.PathEscape(id)+"/approve", nil)
}

// DenyConsentRequest denies a pending request.
func (c *Client) DenyConsentRequest(ctx context.Context, id string) (ConsentRequest, error) {
	return send[ConsentRequest](ctx, c, http.MethodPost, "/_sim/consent/requests/"+url.PathEscape(id)+"/deny", nil)
}

// SetLifetimes sets access and refresh token lifetimes for an app and/or
// tenant. They apply to tokens issued afterwards.
func (c *Client) SetLifetimes(ctx context.Context, l Lifetimes) error {
	return c.do(ctx, http.MethodPut, "/_sim/lifetimes", l, nil)
}

// ExpireTokens makes matching tokens expire now.
func (c *Client) ExpireTokens(ctx context.Context, f TokenFilter) (int, error) {
	a, err := send[Affected](ctx, c, http.MethodPost, "/_sim/tokens/expire", f)
	return a.Count, err
}

// Clock returns the simulated time.
func (c *Client) Clock(ctx context.Context) (ClockState, error) {
	return get[ClockState](ctx, c, "/_sim/clock")
}

// AdvanceClock moves the simulated clock forward.
func (c *Client) AdvanceClock(ctx context.Context, d time.Duration) (ClockState, error) {
	return send[ClockState](ctx, c, http.MethodPost, "/_sim/clock/advance", ClockAdvance{Duration: d.String()})
}

// AddFault installs a fault.
func (c *Client) AddFault(ctx context.Context, f Fault) (Fault, error) {
	return send[Fault](ctx, c, http.MethodPost, "/_sim/faults", f)
}

// Faults lists the installed faults.
func (c *Client) Faults(ctx context.Context) ([]Fault, error) {
	return get[[]Fault](ctx, c, "/_sim/faults")
}

// RemoveFault removes one fault, releasing the requests it stalls.
func (c *Client) RemoveFault(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/_sim/faults/"+url.PathEscape(id), nil, nil)
}

// ClearFaults removes every fault.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/_sim/faults", nil, nil)
}

// Counters returns the counters whose names start with prefix.
func (c *Client) Counters(ctx context.Context, prefix string) (map[string]int64, error) {
	return get[map[string]int64](ctx, c, "/_sim/counters"+query("prefix", prefix))
}

// Counter returns one counter.
func (c *Client) Counter(ctx context.Context, name string) (int64, error) {
	m, err := c.Counters(ctx, name)
	return m[name], err
}

// GraphLimits returns Graph's per-mailbox limits.
func (c *Client) GraphLimits(ctx context.Context) (GraphLimits, error) {
	return get[GraphLimits](ctx, c, "/_sim/graph/limits")
}

// SetGraphLimits replaces Graph's limits; zero fields take Microsoft's value.
func (c *Client) SetGraphLimits(ctx context.Context, l GraphLimits) (GraphLimits, error) {
	return send[GraphLimits](ctx, c, http.MethodPut, "/_sim/graph/limits", l)
}

// Messages lists what an address holds: a tenant user's folder (inbox by
// default) or an external address's inbox.
func (c *Client) Messages(ctx context.Context, address, folder string) ([]MailMessage, error) {
	return get[[]MailMessage](ctx, c, "/_sim/mail/messages"+query("address", address, "folder", folder))
}

// Reply makes an address answer a message it received.
func (c *Client) Reply(ctx context.Context, r Reply) (MailMessage, error) {
	return send[MailMessage](ctx, c, http.MethodPost, "/_sim/mail/reply", r)
}

// AutoReply makes an address answer a message with an out-of-office reply.
func (c *Client) AutoReply(ctx context.Context, r AutoReply) (MailMessage, error) {
	return send[MailMessage](ctx, c, http.MethodPost, "/_sim/mail/autoreply", r)
}

// Bounce rejects a sent message for a recipient; it returns the NDR.
func (c *Client) Bounce(ctx context.Context, b Bounce) (MailMessage, error) {
	return send[MailMessage](ctx, c, http.MethodPost, "/_sim/mail/bounce", b)
}

// Inbound delivers a message from the outside world.
func (c *Client) Inbound(ctx context.Context, m InboundMessage) (MailMessage, error) {
	return send[MailMessage](ctx, c, http.MethodPost, "/_sim/mail/inbound", m)
}

// SetUndeliverable makes later deliveries to address bounce.
func (c *Client) SetUndeliverable(ctx context.Context, address, reason string) error {
	return c.do(ctx, http.MethodPost, "/_sim/mail/undeliverable", map[string]string{"address": address, "reason": reason}, nil)
}

// ClearUndeliverable makes an address deliverable again.
func (c *Client) ClearUndeliverable(ctx context.Context, address string) error {
	return c.do(ctx, http.MethodDelete, "/_sim/mail/undeliverable"+query("address", address), nil, nil)
}

// ExpireDelta makes delta tokens fail (syncStateNotFound or 410 Gone).
func (c *Client) ExpireDelta(ctx context.Context, x DeltaExpiry) (int, error) {
	a, err := send[Affected](ctx, c, http.MethodPost, "/_sim/graph/delta/expire", x)
	return a.Count, err
}

// Subscriptions lists every Graph subscription.
func (c *Client) Subscriptions(ctx context.Context) ([]Subscription, error) {
	return get[[]Subscription](ctx, c, "/_sim/graph/subscriptions")
}

// TriggerLifecycle sends a lifecycle notification for a subscription.
func (c *Client) TriggerLifecycle(ctx context.Context, subscriptionID, event string) error {
	return c.do(ctx, http.MethodPost, "/_sim/graph/subscriptions/"+url.PathEscape(subscriptionID)+"/lifecycle", map[string]string{"event": event}, nil)
}

// Deliveries lists notification deliveries and their attempts.
func (c *Client) Deliveries(ctx context.Context) ([]Delivery, error) {
	return get[[]Delivery](ctx, c, "/_sim/graph/notifications")
}

// AddNotificationFault drops, delays or duplicates upcoming notifications.
func (c *Client) AddNotificationFault(ctx context.Context, f NotificationFault) error {
	return c.do(ctx, http.MethodPost, "/_sim/graph/notifications/faults", f, nil)
}

// ClearNotificationFaults removes every notification fault.
func (c *Client) ClearNotificationFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/_sim/graph/notifications/faults", nil, nil)
}

// SigningKeys lists the identity platform's signing keys and their states.
func (c *Client) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	return get[[]SigningKey](ctx, c, "/_sim/keys")
}

// RolloverKeys takes one step of a signing-key rollover (RolloverPublish,
// RolloverActivate, RolloverRetire) and returns the keys after it.
func (c *Client) RolloverKeys(ctx context.Context, phase string) ([]SigningKey, error) {
	return send[[]SigningKey](ctx, c, http.MethodPost, "/_sim/keys/rollover", KeyRollover{Phase: phase})
}
