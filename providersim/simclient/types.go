package simclient

import (
	"encoding/json"
	"strings"
	"time"
)

// ConsentPolicy says who may consent to an application in a tenant.
type ConsentPolicy string

const (
	// UsersMayConsent lets every user consent to the scopes that are not in the
	// tenant's AdminConsentScopes (empty by default).
	UsersMayConsent ConsentPolicy = "users_may_consent"
	// AdminsOnly means only an admin may grant the scopes in AdminConsentScopes,
	// which by default are every scope except the OIDC ones (openid, profile,
	// email, offline_access).
	AdminsOnly ConsentPolicy = "admins_only"
)

// Token-endpoint errors a tenant may answer with when a refresh asks for scopes
// that are not (or no longer) consented. See Tenant.MissingConsentError.
const (
	MissingConsentInvalidGrant        = "invalid_grant"
	MissingConsentInteractionRequired = "interaction_required"
	MissingConsentConsentRequired     = "consent_required"
)

// Tenant is a simulated Microsoft Entra tenant (a customer organisation).
type Tenant struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName"`
	// Domain is the tenant's verified domain; user principal names end in it and
	// it may stand for the tenant id in URLs.
	Domain               string        `json:"domain"`
	ConsentPolicy        ConsentPolicy `json:"consentPolicy,omitempty"`
	AdminConsentWorkflow bool          `json:"adminConsentWorkflow"`
	// AdminConsentScopes lists the scopes only an admin may grant. Nil means the
	// policy's default; see ConsentPolicy.
	AdminConsentScopes []string `json:"adminConsentScopes,omitempty"`
	// MissingConsentError is the OAuth error of a refresh-token grant whose
	// scopes are not consented: "invalid_grant" (default, with suberror
	// consent_required and AADSTS65001), "interaction_required" or
	// "consent_required".
	MissingConsentError string `json:"missingConsentError,omitempty"`
	// Users, on create only, are created in the tenant too.
	Users []User `json:"users,omitempty"`
}

// TenantUpdate changes a tenant's policy; nil fields stay as they are.
type TenantUpdate struct {
	DisplayName          *string        `json:"displayName,omitempty"`
	ConsentPolicy        *ConsentPolicy `json:"consentPolicy,omitempty"`
	AdminConsentWorkflow *bool          `json:"adminConsentWorkflow,omitempty"`
	AdminConsentScopes   *[]string      `json:"adminConsentScopes,omitempty"`
	MissingConsentError  *string        `json:"missingConsentError,omitempty"`
}

// User is a work account in a tenant, and the owner of a simulated mailbox.
type User struct {
	ID          string `json:"id,omitempty"` // the object id (oid)
	TenantID    string `json:"tenantId,omitempty"`
	DisplayName string `json:"displayName"`
	GivenName   string `json:"givenName,omitempty"`
	Surname     string `json:"surname,omitempty"`
	// UserPrincipalName is the sign-in name. It is not necessarily an
	// address that receives mail.
	UserPrincipalName string `json:"userPrincipalName"`
	// Mail is the primary SMTP address (Graph's mail, the From of what the
	// user sends, the ID token's email claim); empty means the UPN.
	Mail string `json:"mail,omitempty"`
	// ProxyAddresses are the other addresses that deliver to the mailbox,
	// plain ("pat@contoso.example") or in Exchange's form
	// ("smtp:pat@contoso.example"). Mail is always one of them.
	ProxyAddresses []string `json:"proxyAddresses,omitempty"`
	// OmitEmailClaim leaves the email claim out of ID tokens and userinfo,
	// as Entra does for many work accounts: an app must then read mail from
	// Graph's /me.
	OmitEmailClaim bool   `json:"omitEmailClaim,omitempty"`
	JobTitle       string `json:"jobTitle,omitempty"`
	// Password, when set, must be typed on the sign-in page; when empty any
	// password (or none) is accepted. Never returned by the API.
	Password string `json:"password,omitempty"`
	Admin    bool   `json:"admin"`
	// RequireMFA makes refresh-token grants answer interaction_required
	// (AADSTS50076), as a Conditional Access policy would.
	RequireMFA bool `json:"requireMfa,omitempty"`
}

// UserUpdate changes a user; nil fields stay as they are.
type UserUpdate struct {
	DisplayName *string `json:"displayName,omitempty"`
	Password    *string `json:"password,omitempty"`
	Admin       *bool   `json:"admin,omitempty"`
	RequireMFA  *bool   `json:"requireMfa,omitempty"`
	// Mail and ProxyAddresses replace the user's addresses.
	Mail           *string   `json:"mail,omitempty"`
	ProxyAddresses *[]string `json:"proxyAddresses,omitempty"`
	OmitEmailClaim *bool     `json:"omitEmailClaim,omitempty"`
}

// App is an application registration (multi-tenant, confidential web app).
type App struct {
	ClientID     string   `json:"clientId"`
	DisplayName  string   `json:"displayName"`
	ClientSecret string   `json:"clientSecret,omitempty"`
	RedirectURIs []string `json:"redirectUris"`
	// StaticScopes are the statically configured permissions that
	// "https://graph.microsoft.com/.default" stands for.
	StaticScopes []string `json:"staticScopes,omitempty"`
	// GroupMembershipClaims is the manifest setting of that name: "None"
	// (empty), "SecurityGroup", "DirectoryRole", "ApplicationGroup" or "All".
	// ID tokens carry the wids claim (directory roles) only with
	// DirectoryRole or All.
	GroupMembershipClaims string `json:"groupMembershipClaims,omitempty"`
}

// Values of App.GroupMembershipClaims.
const (
	GroupClaimsNone             = "None"
	GroupClaimsSecurityGroup    = "SecurityGroup"
	GroupClaimsDirectoryRole    = "DirectoryRole"
	GroupClaimsApplicationGroup = "ApplicationGroup"
	GroupClaimsAll              = "All"
)

// States of a signing key.
const (
	// KeyNext is published in the JWKS but does not sign yet.
	KeyNext = "next"
	// KeyCurrent signs ID tokens.
	KeyCurrent = "current"
	// KeyPrevious signed before the last rollover; it stays published until
	// it is retired.
	KeyPrevious = "previous"
)

// SigningKey is one key of the identity platform's JWKS.
type SigningKey struct {
	KeyID string `json:"kid"`
	State string `json:"state"`
}

// Phases of a signing-key rollover, in the order Microsoft goes through them.
const (
	// RolloverPublish adds a new key to the JWKS (as "next") without using it.
	RolloverPublish = "publish"
	// RolloverActivate signs with the next key; the current one becomes
	// "previous" and stays published.
	RolloverActivate = "activate"
	// RolloverRetire removes the previous key from the JWKS: tokens it signed
	// no longer verify.
	RolloverRetire = "retire"
)

// KeyRollover is a step of a signing-key rollover.
type KeyRollover struct {
	Phase string `json:"phase"`
}

// Grant is a delegated permission grant (consent). An empty UserID means a
// tenant-wide grant made by an admin ("on behalf of your organization").
type Grant struct {
	ClientID string   `json:"clientId"`
	TenantID string   `json:"tenantId"`
	UserID   string   `json:"userId,omitempty"`
	Scopes   []string `json:"scopes"`
}

// Status values of a ConsentRequest.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
)

// ConsentRequest is an admin consent request made through the "Approval
// required" page of a tenant with the admin consent workflow on.
type ConsentRequest struct {
	ID                string    `json:"id"`
	ClientID          string    `json:"clientId"`
	TenantID          string    `json:"tenantId"`
	UserID            string    `json:"userId"`
	UserPrincipalName string    `json:"userPrincipalName"`
	Scopes            []string  `json:"scopes"`
	Justification     string    `json:"justification"`
	Status            string    `json:"status"`
	CreatedAt         time.Time `json:"createdAt"`
	ReviewedAt        time.Time `json:"reviewedAt,omitzero"`
}

// Lifetimes sets token lifetimes for an app in a tenant. Empty ClientID or
// TenantID match every app or tenant; the most specific setting wins. Zero
// seconds keep the default (3599 s access, 90 days refresh).
type Lifetimes struct {
	ClientID            string `json:"clientId,omitempty"`
	TenantID            string `json:"tenantId,omitempty"`
	AccessTokenSeconds  int64  `json:"accessTokenSeconds,omitempty"`
	RefreshTokenSeconds int64  `json:"refreshTokenSeconds,omitempty"`
}

// Kinds of token for ExpireTokens.
const (
	TokenAccess  = "access"
	TokenRefresh = "refresh"
	TokenAll     = "all"
)

// TokenFilter selects issued tokens; empty fields match everything.
type TokenFilter struct {
	ClientID string `json:"clientId,omitempty"`
	TenantID string `json:"tenantId,omitempty"`
	UserID   string `json:"userId,omitempty"`
	Kind     string `json:"kind,omitempty"` // access, refresh or all (default)
}

// Affected reports how many objects an operation changed.
type Affected struct {
	Count int `json:"count"`
}

// Health is the answer of GET /_sim/health.
type Health struct {
	Status       string `json:"status"`
	Seed         int64  `json:"seed"`
	MicrosoftURL string `json:"microsoftUrl"`
	GraphURL     string `json:"graphUrl"`
	// LeverURL is Lever's Data API (under /v1), LeverOAuthURL its OAuth
	// server.
	LeverURL      string `json:"leverUrl,omitempty"`
	LeverOAuthURL string `json:"leverOAuthUrl,omitempty"`
}

// ClockAdvance moves the simulated clock forward by Seconds or by Duration
// (a Go duration such as "10m").
type ClockAdvance struct {
	Seconds  float64 `json:"seconds,omitempty"`
	Duration string  `json:"duration,omitempty"`
}

// ClockState is the simulated time.
type ClockState struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset"`
}

// Fault makes the simulator misbehave for matching requests.
type Fault struct {
	ID string `json:"id,omitempty"`
	// Endpoint is a counter-style endpoint name ("graph.sendMail",
	// "microsoft.token"), a prefix ending in ".*" ("graph.*") or "*".
	Endpoint string `json:"endpoint"`
	// Mailbox limits a Graph fault to one mailbox (user principal name).
	Mailbox string `json:"mailbox,omitempty"`
	// Status is the HTTP status to answer with (429, 500, 503, ...). Zero means
	// no error: use with Stall or LatencyMs.
	Status int `json:"status,omitempty"`
	// RetryAfter is sent as the Retry-After header, e.g. "2.128".
	RetryAfter string `json:"retryAfter,omitempty"`
	// Count is how many matching requests the fault applies to; 0 means until
	// it is removed. Remaining shows what is left.
	Count     int `json:"count,omitempty"`
	Remaining int `json:"remaining,omitempty"`
	// LatencyMs delays matching requests.
	LatencyMs int `json:"latencyMs,omitempty"`
	// Stall holds matching requests (after they took their concurrency slot)
	// until the fault is removed.
	Stall bool `json:"stall,omitempty"`
}

// GraphLimits are the per-mailbox limits Graph applies. Zero fields mean the
// default, which is Microsoft's value.
type GraphLimits struct {
	ConcurrentRequests        int     `json:"concurrentRequests"`        // 4
	RequestsPerWindow         int     `json:"requestsPerWindow"`         // 10000
	RequestWindowSeconds      float64 `json:"requestWindowSeconds"`      // 600
	MessagesPerMinute         int     `json:"messagesPerMinute"`         // 30
	RecipientsPerDay          int     `json:"recipientsPerDay"`          // 10000
	MaxRecipientsPerMessage   int     `json:"maxRecipientsPerMessage"`   // 500
	ConcurrencyRetryAfter     float64 `json:"concurrencyRetryAfter"`     // 1 (seconds)
	ValidationTimeoutMs       int     `json:"validationTimeoutMs"`       // 10000
	NotificationTimeoutMs     int     `json:"notificationTimeoutMs"`     // 3000
	NotificationRetryDelaysMs []int   `json:"notificationRetryDelaysMs"` // about 4 hours in all
	DefaultPageSize           int     `json:"defaultPageSize"`           // 10
	// NotificationBatchSize is the most change notifications one POST to a
	// notification URL carries (several subscriptions may share the URL);
	// NotificationBatchWaitMs is how long notifications wait for others to
	// join their POST. Set the size to 1 for one notification per POST.
	NotificationBatchSize   int `json:"notificationBatchSize"`   // 10
	NotificationBatchWaitMs int `json:"notificationBatchWaitMs"` // 200
	// SendBlockSeconds is how long a mailbox that went past RecipientsPerDay
	// stays blocked from sending.
	SendBlockSeconds float64 `json:"sendBlockSeconds"` // 86400
	// SentItemsDelayMs is how long a sent draft stays in Drafts, still a
	// draft to every read, after send answered 202, before it leaves and
	// moves to Sent Items (Exchange files it asynchronously). 0: at once.
	// A second send in that time is accepted and the message goes twice,
	// so clients cannot lean on the draft's state right after a send.
	SentItemsDelayMs int `json:"sentItemsDelayMs"` // 0
}

// Address is a mail address with a display name.
type Address struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"`
}

// Header is an internet message header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MailMessage is the control API's view of a message in a mailbox or an
// external inbox.
type MailMessage struct {
	ID                string    `json:"id,omitempty"`
	ImmutableID       string    `json:"immutableId,omitempty"`
	Mailbox           string    `json:"mailbox"` // the address whose copy this is
	Folder            string    `json:"folder"`  // inbox, sentitems, drafts, deleteditems
	InternetMessageID string    `json:"internetMessageId"`
	ConversationID    string    `json:"conversationId"`
	Subject           string    `json:"subject"`
	ContentType       string    `json:"contentType"`
	Body              string    `json:"body"`
	From              Address   `json:"from"`
	To                []Address `json:"to,omitempty"`
	Cc                []Address `json:"cc,omitempty"`
	Bcc               []Address `json:"bcc,omitempty"`
	Headers           []Header  `json:"headers,omitempty"`
	IsDraft           bool      `json:"isDraft,omitempty"`
	ReceivedAt        time.Time `json:"receivedAt"`
}

// HeaderValue returns the first header with the name (case-insensitive).
func (m MailMessage) HeaderValue(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Reply makes an outside address answer a message it received.
type Reply struct {
	From              string `json:"from"`              // the address that replies
	InternetMessageID string `json:"internetMessageId"` // the message it answers
	Body              string `json:"body"`
	ContentType       string `json:"contentType,omitempty"` // text (default) or html
	ReplyAll          bool   `json:"replyAll,omitempty"`
}

// AutoReply makes an address send an out-of-office answer to a message.
type AutoReply struct {
	From              string `json:"from"`
	InternetMessageID string `json:"internetMessageId"`
	Body              string `json:"body,omitempty"`
}

// Bounce makes transport reject a message for a recipient: a non-delivery
// report lands in the sender's Inbox.
type Bounce struct {
	InternetMessageID string `json:"internetMessageId"`
	Recipient         string `json:"recipient,omitempty"` // default: the first recipient
	Reason            string `json:"reason,omitempty"`    // SMTP status text
}

// InboundMessage is a message from the outside world to simulated mailboxes.
type InboundMessage struct {
	From        Address   `json:"from"`
	To          []Address `json:"to"`
	Cc          []Address `json:"cc,omitempty"`
	Subject     string    `json:"subject"`
	Body        string    `json:"body"`
	ContentType string    `json:"contentType,omitempty"`
	Headers     []Header  `json:"headers,omitempty"`
}

// Delta expiry modes.
const (
	DeltaSyncStateNotFound = "syncStateNotFound"
	DeltaGone              = "gone"
)

// DeltaExpiry makes the delta tokens of a mailbox's folder(s) unusable.
type DeltaExpiry struct {
	Mailbox string `json:"mailbox,omitempty"` // user principal name; empty: every mailbox
	Folder  string `json:"folder,omitempty"`  // well-known name or id; empty: every folder
	Mode    string `json:"mode,omitempty"`    // syncStateNotFound (default) or gone (410)
	// Status for syncStateNotFound; default 400.
	Status int `json:"status,omitempty"`
}

// Notification fault modes.
const (
	NotifyDrop      = "drop"
	NotifyDelay     = "delay"
	NotifyDuplicate = "duplicate"
)

// NotificationFault drops, delays or duplicates the next change notifications.
type NotificationFault struct {
	Mode           string `json:"mode"`
	Count          int    `json:"count,omitempty"` // default 1
	DelayMs        int    `json:"delayMs,omitempty"`
	SubscriptionID string `json:"subscriptionId,omitempty"`
	Lifecycle      bool   `json:"lifecycle,omitempty"` // apply to lifecycle notifications instead
}

// Lifecycle events.
const (
	LifecycleReauthorizationRequired = "reauthorizationRequired"
	LifecycleSubscriptionRemoved     = "subscriptionRemoved"
	LifecycleMissed                  = "missed"
)

// Subscription is the control API's view of a Graph subscription.
type Subscription struct {
	ID                       string    `json:"id"`
	ClientID                 string    `json:"clientId"`
	Mailbox                  string    `json:"mailbox"`
	Resource                 string    `json:"resource"`
	ChangeType               string    `json:"changeType"`
	NotificationURL          string    `json:"notificationUrl"`
	LifecycleNotificationURL string    `json:"lifecycleNotificationUrl,omitempty"`
	ClientState              string    `json:"clientState,omitempty"`
	ExpirationDateTime       time.Time `json:"expirationDateTime"`
	NeedsReauthorization     bool      `json:"needsReauthorization"`
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // retries exhausted
	DeliveryDropped   = "dropped"
)

// Delivery is one notification POST (change or lifecycle) and its attempts.
type Delivery struct {
	ID             string `json:"id"`
	Kind           string `json:"kind"`           // change or lifecycle
	SubscriptionID string `json:"subscriptionId"` // the first notification's
	// SubscriptionIDs lists the subscription of each notification in the
	// POST, in order (a batch may carry several).
	SubscriptionIDs []string        `json:"subscriptionIds"`
	Notifications   int             `json:"notifications"`
	URL             string          `json:"url"`
	Payload         json.RawMessage `json:"payload"`
	Attempts        int             `json:"attempts"`
	Statuses        []int           `json:"statuses"` // HTTP status per attempt, 0 for a transport error or timeout
	State           string          `json:"state"`
}
