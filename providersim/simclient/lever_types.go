package simclient

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Lever access roles (the user's accessRole). Only a Super Admin may
// authorize an OAuth app for the account.
const (
	LeverSuperAdmin        = "super admin"
	LeverAdmin             = "admin"
	LeverTeamMember        = "team member"
	LeverLimitedTeamMember = "limited team member"
	LeverInterviewer       = "interviewer"
)

// Lever posting states.
const (
	LeverPublished = "published"
	LeverInternal  = "internal"
	LeverClosed    = "closed"
	LeverDraft     = "draft"
	LeverPending   = "pending"
	LeverRejected  = "rejected"
)

// Lever webhook events.
const (
	LeverApplicationCreated      = "applicationCreated"
	LeverCandidateHired          = "candidateHired"
	LeverCandidateStageChange    = "candidateStageChange"
	LeverCandidateArchiveChange  = "candidateArchiveChange"
	LeverCandidateDeleted        = "candidateDeleted"
	LeverInterviewCreated        = "interviewCreated"
	LeverInterviewUpdated        = "interviewUpdated"
	LeverInterviewDeleted        = "interviewDeleted"
	LeverContactCreated          = "contactCreated"
	LeverContactUpdated          = "contactUpdated"
	LeverConnectionTestEventName = "connectionTest" // the control API's name for a test delivery
)

// LeverAccount is a Lever customer account (one company's Lever).
type LeverAccount struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Users, Postings and Candidates are created with the account. Stages and
	// ArchiveReasons nil mean Lever's defaults.
	Users          []LeverUser          `json:"users,omitempty"`
	Stages         []LeverStage         `json:"stages,omitempty"`
	ArchiveReasons []LeverArchiveReason `json:"archiveReasons,omitempty"`
	Sources        []string             `json:"sources,omitempty"`
	Tags           []string             `json:"tags,omitempty"`
	Postings       []LeverPosting       `json:"postings,omitempty"`
	Candidates     []LeverCandidate     `json:"candidates,omitempty"`
}

// LeverUser is a user of a Lever account.
type LeverUser struct {
	ID         string `json:"id,omitempty"`
	AccountID  string `json:"accountId,omitempty"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	AccessRole string `json:"accessRole,omitempty"` // default team member
	JobTitle   string `json:"jobTitle,omitempty"`
	// Password, when set, must be typed on the sign-in page; otherwise any
	// password (or none) signs the user in. Never returned.
	Password    string `json:"password,omitempty"`
	Deactivated bool   `json:"deactivated,omitempty"`
}

// LeverStage is a pipeline stage.
type LeverStage struct {
	ID   string `json:"id,omitempty"`
	Text string `json:"text"`
}

// LeverArchiveReason is a reason to archive an opportunity; Type is "hired"
// or "non-hired".
type LeverArchiveReason struct {
	ID   string `json:"id,omitempty"`
	Text string `json:"text"`
	Type string `json:"type,omitempty"`
}

// LeverPosting is a job posting.
type LeverPosting struct {
	ID            string   `json:"id,omitempty"`
	Text          string   `json:"text"`
	State         string   `json:"state,omitempty"` // default published
	Team          string   `json:"team,omitempty"`
	Department    string   `json:"department,omitempty"`
	Location      string   `json:"location,omitempty"`
	Commitment    string   `json:"commitment,omitempty"`
	Level         string   `json:"level,omitempty"`
	Description   string   `json:"description,omitempty"`
	WorkplaceType string   `json:"workplaceType,omitempty"` // onsite, remote, hybrid
	ReqCode       string   `json:"reqCode,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	// Owner and HiringManager are user ids or e-mail addresses; Owner
	// defaults to the first Super Admin.
	Owner         string `json:"owner,omitempty"`
	HiringManager string `json:"hiringManager,omitempty"`
}

// LeverCandidate creates an opportunity (and its contact) as someone in
// Lever would, without webhooks.
type LeverCandidate struct {
	Name     string   `json:"name"`
	Headline string   `json:"headline,omitempty"`
	Location string   `json:"location,omitempty"`
	Emails   []string `json:"emails,omitempty"`
	Phones   []string `json:"phones,omitempty"`
	Links    []string `json:"links,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Sources  []string `json:"sources,omitempty"`
	Origin   string   `json:"origin,omitempty"` // default sourced
	// Stage, Posting and ArchiveReason are ids or texts; Owner a user id or
	// e-mail (default the first Super Admin).
	Stage         string `json:"stage,omitempty"`
	Posting       string `json:"posting,omitempty"`
	Owner         string `json:"owner,omitempty"`
	ArchiveReason string `json:"archiveReason,omitempty"`
}

// LeverOpportunity is an opportunity as the simulator stores it, for tests
// to check what a client wrote.
type LeverOpportunity struct {
	ID              string              `json:"id"`
	AccountID       string              `json:"accountId"`
	ContactID       string              `json:"contactId"`
	Name            string              `json:"name"`
	Headline        string              `json:"headline,omitempty"`
	Location        string              `json:"location,omitempty"`
	Emails          []string            `json:"emails"`
	Phones          []string            `json:"phones"`
	Links           []string            `json:"links"`
	Tags            []string            `json:"tags"`
	Sources         []string            `json:"sources"`
	Origin          string              `json:"origin"`
	StageID         string              `json:"stageId"`
	PostingIDs      []string            `json:"postingIds"`
	ApplicationIDs  []string            `json:"applicationIds"`
	OwnerID         string              `json:"ownerId"`
	FollowerIDs     []string            `json:"followerIds"`
	PerformAs       string              `json:"performAs,omitempty"` // the user the creating API call acted as
	CreatedVia      string              `json:"createdVia"`          // api or control
	CreatedAt       int64               `json:"createdAt"`
	UpdatedAt       int64               `json:"updatedAt"`
	ArchivedAt      int64               `json:"archivedAt,omitempty"`
	ArchiveReasonID string              `json:"archiveReasonId,omitempty"`
	StageChanges    []LeverStageChange  `json:"stageChanges"`
	Notes           []LeverNote         `json:"notes"`
	Files           []LeverFile         `json:"files"`
	Deleted         bool                `json:"deleted,omitempty"`
	History         []LeverHistoryEntry `json:"history"`
}

// LeverStageChange is one move of an opportunity.
type LeverStageChange struct {
	ToStageID string `json:"toStageId"`
	UserID    string `json:"userId"`
	UpdatedAt int64  `json:"updatedAt"`
}

// LeverHistoryEntry records who changed what through which door.
type LeverHistoryEntry struct {
	Action string `json:"action"`           // created, stage, archived, unarchived, note, file, tags, sources, links, deleted
	UserID string `json:"userId,omitempty"` // perform_as, or the control call's user
	Via    string `json:"via"`              // api or control
	At     int64  `json:"at"`
}

// LeverNote is a note on an opportunity, with its comments.
type LeverNote struct {
	ID        string      `json:"id"`
	Value     string      `json:"value"`
	Secret    bool        `json:"secret"`
	Score     int         `json:"score,omitempty"`
	UserID    string      `json:"userId"`
	CreatedAt int64       `json:"createdAt"`
	Comments  []LeverNote `json:"comments,omitempty"`
}

// LeverFile is a file or resume on an opportunity.
type LeverFile struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"` // file or resume
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	UserID      string `json:"userId,omitempty"`
	UploadedAt  int64  `json:"uploadedAt"`
}

// LeverContactUpdate edits a candidate's contact details as a person in
// Lever would: every opportunity of the contact changes and contactUpdated
// fires. Nil fields stay as they are.
type LeverContactUpdate struct {
	Name     *string   `json:"name,omitempty"`
	Headline *string   `json:"headline,omitempty"`
	Location *string   `json:"location,omitempty"`
	Emails   *[]string `json:"emails,omitempty"`
	Phones   *[]string `json:"phones,omitempty"`
	UserID   string    `json:"userId,omitempty"`
}

// LeverStageMove moves an opportunity, as a person in Lever would.
type LeverStageMove struct {
	Stage  string `json:"stage"`            // id or text
	UserID string `json:"userId,omitempty"` // id or e-mail; default the first Super Admin
}

// LeverArchive archives an opportunity (Reason an id or text) or, with an
// empty Reason, restores it.
type LeverArchive struct {
	Reason string `json:"reason,omitempty"`
	UserID string `json:"userId,omitempty"`
}

// LeverClient is an OAuth app registered with Lever's authorization server.
type LeverClient struct {
	ClientID     string   `json:"clientId"`
	Name         string   `json:"name"`
	ClientSecret string   `json:"clientSecret,omitempty"`
	RedirectURIs []string `json:"redirectUris"`
	// Scopes are the scopes Lever enabled for the app; nil means every Lever
	// scope. Requested scopes outside them are not granted.
	Scopes []string `json:"scopes,omitempty"`
}

// LeverGrant is an authorization of an app for an account (Settings →
// Integrations and API → Authorized Apps).
type LeverGrant struct {
	ID           string   `json:"id"`
	AccountID    string   `json:"accountId"`
	ClientID     string   `json:"clientId"`
	UserID       string   `json:"userId"` // the Super Admin who authorized
	Scopes       []string `json:"scopes"`
	Revoked      bool     `json:"revoked"`
	RevokedBy    string   `json:"revokedBy,omitempty"` // revoke or reuse (refresh-token reuse detection)
	AuthorizedAt int64    `json:"authorizedAt"`
}

// LeverAPIKey is a customer-made API key (HTTP Basic, the key as username,
// no password).
type LeverAPIKey struct {
	Key       string `json:"key,omitempty"`
	AccountID string `json:"accountId,omitempty"`
	Name      string `json:"name,omitempty"`
	// Scopes limit the key to those endpoints, in scope names
	// ("opportunities:read:admin"); none means every endpoint.
	Scopes    []string `json:"scopes,omitempty"`
	CreatedBy string   `json:"createdBy,omitempty"` // the Super Admin who made it
	Revoked   bool     `json:"revoked,omitempty"`
}

// LeverRevoke is "Revoke Access" on an authorized app.
type LeverRevoke struct {
	ClientID string `json:"clientId"`
}

// LeverSettings are the Lever behaviours a test may change. Zero values mean
// the default, shown in each comment.
type LeverSettings struct {
	// Audience is the API identifier /authorize requires
	// ("https://api.lever.co/v1/").
	Audience string `json:"audience"`
	// RateLimitPerSecond and RateLimitBurst size the token bucket per access
	// token (10 and 20).
	RateLimitPerSecond float64 `json:"rateLimitPerSecond"`
	RateLimitBurst     int     `json:"rateLimitBurst"`
	// RetryAfter sends Retry-After on 429s (off: UNCONFIRMED, one source says
	// Lever sends none).
	RetryAfter bool `json:"retryAfter"`
	// AccessTokenSeconds is the access token lifetime (3600).
	AccessTokenSeconds int `json:"accessTokenSeconds"`
	// RefreshInactivityDays and RefreshLifetimeDays expire refresh tokens
	// (90 and 365).
	RefreshInactivityDays int `json:"refreshInactivityDays"`
	RefreshLifetimeDays   int `json:"refreshLifetimeDays"`
	// InvalidGrantStatus is the HTTP status of invalid_grant (403, as Auth0;
	// RFC 6749 says 400).
	InvalidGrantStatus int `json:"invalidGrantStatus"`
	// KeepFamilyOnReuse turns off Auth0's reuse detection: by default reusing
	// a rotated refresh token also revokes every newer token of its family.
	KeepFamilyOnReuse bool `json:"keepFamilyOnReuse"`
	// AccessTokensSurviveRevoke lets access tokens work until they expire
	// after Revoke Access (off: they answer 401; UNCONFIRMED).
	AccessTokensSurviveRevoke bool `json:"accessTokensSurviveRevoke"`
	// NonAdminRedirect sends a non-Super Admin straight back to the app with
	// error=access_denied instead of showing the refusal page (off).
	NonAdminRedirect bool `json:"nonAdminRedirect"`
	// WebhookRetryDelaysSeconds are the gaps before each retry of a failed
	// delivery, on the simulated clock: at most 5 retries (UNCONFIRMED
	// schedule; default 60, 300, 1800, 7200, 28800).
	WebhookRetryDelaysSeconds []int `json:"webhookRetryDelaysSeconds"`
	// WebhookTimeoutMs bounds one delivery attempt (10000).
	WebhookTimeoutMs int `json:"webhookTimeoutMs"`
}

// Lever webhook delivery fault modes (beside NotifyDrop, NotifyDelay and
// NotifyDuplicate).
const (
	// LeverReorder holds the next Count deliveries and sends them in reverse
	// order once the last one is in.
	LeverReorder = "reorder"
)

// LeverDeliveryFault drops, delays, duplicates or re-orders the next
// webhook deliveries.
type LeverDeliveryFault struct {
	Mode         string  `json:"mode"`            // drop, delay, duplicate, reorder
	Count        int     `json:"count,omitempty"` // default 1; reorder at least 2
	DelaySeconds float64 `json:"delaySeconds,omitempty"`
	Event        string  `json:"event,omitempty"` // only deliveries of this event
}

// LeverWebhook is a webhook as stored, with its signature token.
type LeverWebhook struct {
	ID             string   `json:"id,omitempty"`
	AccountID      string   `json:"accountId,omitempty"`
	URL            string   `json:"url"`
	Event          string   `json:"event"`
	Origins        []string `json:"origins,omitempty"` // only opportunities of these origins
	SignatureToken string   `json:"signatureToken,omitempty"`
	CreatedAt      int64    `json:"createdAt,omitempty"`
}

// LeverDelivery is one webhook delivery and its attempts.
type LeverDelivery struct {
	ID            string          `json:"id"` // the body's id, the same on every attempt
	WebhookID     string          `json:"webhookId"`
	Event         string          `json:"event"`
	URL           string          `json:"url"`
	Payload       json.RawMessage `json:"payload"`
	Attempts      int             `json:"attempts"`
	Statuses      []int           `json:"statuses"` // per attempt; 0 for no answer
	State         string          `json:"state"`    // pending, delivered, failed, dropped, held
	NextAttemptAt *time.Time      `json:"nextAttemptAt,omitempty"`
}

// LeverTokenFingerprint names an access token in counters
// ("lever.getOpportunity/token=<fingerprint>") without printing it.
func LeverTokenFingerprint(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return hex.EncodeToString(sum[:6])
}
