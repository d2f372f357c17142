package simclient

import (
	"encoding/json"
	"time"
)

// Ashby stage types (interview stage "type") and application statuses.
const (
	AshbyStageLead               = "Lead"
	AshbyStagePreInterviewScreen = "PreInterviewScreen"
	AshbyStageActive             = "Active"
	AshbyStageOffer              = "Offer"
	AshbyStageHired              = "Hired"
	AshbyStageArchived           = "Archived"
)

// Ashby job statuses.
const (
	AshbyJobDraft    = "Draft"
	AshbyJobOpen     = "Open"
	AshbyJobClosed   = "Closed"
	AshbyJobArchived = "Archived"
)

// Ashby API key modules; a key holds "read" or "write" (which includes read)
// per module.
const (
	AshbyModuleCandidates            = "candidates"
	AshbyModuleJobs                  = "jobs"
	AshbyModuleInterviews            = "interviews"
	AshbyModuleHiringProcessMetadata = "hiringProcessMetadata"
	AshbyModuleOrganization          = "organization"
	AshbyModuleOffers                = "offers"
	AshbyModuleAPIKeys               = "apiKeys"
	AshbyModuleApprovals             = "approvals"
	AshbyModuleReports               = "reports"
)

// AshbyAllModules is every module, for a key that may do everything.
var AshbyAllModules = []string{
	AshbyModuleCandidates, AshbyModuleJobs, AshbyModuleInterviews, AshbyModuleHiringProcessMetadata,
	AshbyModuleOrganization, AshbyModuleOffers, AshbyModuleAPIKeys, AshbyModuleApprovals, AshbyModuleReports,
}

// AshbyWriteAll grants write on every module.
func AshbyWriteAll() map[string]string {
	m := make(map[string]string, len(AshbyAllModules))
	for _, mod := range AshbyAllModules {
		m[mod] = "write"
	}
	return m
}

// AshbyOrg is an Ashby organization with everything created with it. On
// create, ids may be left empty (they are generated) and cross references
// (a job's plans, a candidate's source) name objects by title or email.
type AshbyOrg struct {
	ID             string               `json:"id,omitempty"`
	Name           string               `json:"name"`
	Users          []AshbyUser          `json:"users,omitempty"`
	InterviewPlans []AshbyInterviewPlan `json:"interviewPlans,omitempty"`
	Jobs           []AshbyJob           `json:"jobs,omitempty"`
	Sources        []AshbySource        `json:"sources,omitempty"`
	ArchiveReasons []AshbyArchiveReason `json:"archiveReasons,omitempty"`
	Templates      []AshbyTemplate      `json:"communicationTemplates,omitempty"`
	Candidates     []AshbyCandidate     `json:"candidates,omitempty"`
	// Applications for candidates that exist already (CandidateID set).
	Applications []AshbyApplication `json:"applications,omitempty"`
	Webhooks     []AshbyWebhook     `json:"webhooks,omitempty"`
	APIKeys      []AshbyAPIKey      `json:"apiKeys,omitempty"`
}

// AshbyUser is a user of an organization.
type AshbyUser struct {
	ID         string `json:"id,omitempty"`
	FirstName  string `json:"firstName"`
	LastName   string `json:"lastName"`
	Email      string `json:"email"`
	GlobalRole string `json:"globalRole,omitempty"` // Organization Admin, Elevated Access, Limited Access, External Recruiter
	IsEnabled  *bool  `json:"isEnabled,omitempty"`  // default true
	ManagerID  string `json:"managerId,omitempty"`
}

// AshbyInterviewPlan is a plan with its stages in order. An empty Stages
// gets the default six: Lead, PreInterviewScreen, Active, Offer, Hired,
// Archived.
type AshbyInterviewPlan struct {
	ID         string       `json:"id,omitempty"`
	Title      string       `json:"title"`
	IsArchived bool         `json:"isArchived,omitempty"`
	Stages     []AshbyStage `json:"stages,omitempty"`
}

// AshbyStage is an interview stage of a plan.
type AshbyStage struct {
	ID                    string `json:"id,omitempty"`
	Title                 string `json:"title"`
	Type                  string `json:"type"`
	OrderInInterviewPlan  int    `json:"orderInInterviewPlan"`
	InterviewStageGroupID string `json:"interviewStageGroupId,omitempty"`
	InterviewPlanID       string `json:"interviewPlanId,omitempty"`
}

// AshbyJob is a job. InterviewPlans names plans by id or title; the first
// is the default plan (none: the organization's first plan).
type AshbyJob struct {
	ID                  string   `json:"id,omitempty"`
	Title               string   `json:"title"`
	Status              string   `json:"status,omitempty"` // default Open
	EmploymentType      string   `json:"employmentType,omitempty"`
	Confidential        bool     `json:"confidential,omitempty"`
	CustomRequisitionID string   `json:"customRequisitionId,omitempty"`
	InterviewPlans      []string `json:"interviewPlans,omitempty"`
	// DefaultInterviewPlanID and InterviewPlanIDs are filled in replies.
	DefaultInterviewPlanID string    `json:"defaultInterviewPlanId,omitempty"`
	InterviewPlanIDs       []string  `json:"interviewPlanIds,omitempty"`
	OpenedAt               time.Time `json:"openedAt,omitzero"`
	ClosedAt               time.Time `json:"closedAt,omitzero"`
}

// AshbySource is a source and its source type.
type AshbySource struct {
	ID             string `json:"id,omitempty"`
	Title          string `json:"title"`
	IsArchived     bool   `json:"isArchived,omitempty"`
	SourceType     string `json:"sourceType"` // title; created when new
	SourceTypeID   string `json:"sourceTypeId,omitempty"`
	TypeIsArchived bool   `json:"sourceTypeIsArchived,omitempty"`
}

// AshbyArchiveReason is an archive reason. ReasonType is RejectedByCandidate,
// RejectedByOrg or Other.
type AshbyArchiveReason struct {
	ID         string `json:"id,omitempty"`
	Text       string `json:"text"`
	ReasonType string `json:"reasonType,omitempty"` // default RejectedByOrg
	IsArchived bool   `json:"isArchived,omitempty"`
}

// AshbyTemplate is a communication template (for archive emails).
type AshbyTemplate struct {
	ID    string `json:"id,omitempty"`
	Title string `json:"title"`
}

// AshbyCandidate is a candidate as stored, with what was written on it.
// On create, Applications (by job id or title, optionally a stage title or
// type) are created with it.
type AshbyCandidate struct {
	ID              string              `json:"id,omitempty"`
	Name            string              `json:"name"`
	Emails          []string            `json:"emails,omitempty"` // the first is primary
	Phone           string              `json:"phone,omitempty"`
	LinkedInURL     string              `json:"linkedInUrl,omitempty"`
	Source          string              `json:"source,omitempty"` // id or title
	SourceID        string              `json:"sourceId,omitempty"`
	CreditedToUser  string              `json:"creditedToUserId,omitempty"`
	Position        string              `json:"position,omitempty"`
	Company         string              `json:"company,omitempty"`
	CreatedAt       time.Time           `json:"createdAt,omitzero"`
	UpdatedAt       time.Time           `json:"updatedAt,omitzero"`
	ApplicationIDs  []string            `json:"applicationIds,omitempty"`
	MergedInto      string              `json:"mergedInto,omitempty"`
	Applications    []AshbyApplication  `json:"applications,omitempty"`
	Notes           []AshbyNote         `json:"notes,omitempty"`
	EmailMessages   []AshbyEmailMessage `json:"emailMessages,omitempty"`
	Resume          *AshbyFile          `json:"resume,omitempty"`
	CreatedByKeyID  string              `json:"createdByKeyId,omitempty"`
	AlternateEmails []string            `json:"alternateEmails,omitempty"`
}

// AshbyApplication is an application as stored.
type AshbyApplication struct {
	ID          string `json:"id,omitempty"`
	CandidateID string `json:"candidateId,omitempty"`
	Job         string `json:"job,omitempty"`   // on create: id or title
	Stage       string `json:"stage,omitempty"` // on create: stage id, title or type; default the first Lead
	// ViaJobBoard, on create, is a candidate applying on the job board:
	// applicationSubmit fires (it does not for imports or API creates).
	ViaJobBoard      bool      `json:"viaJobBoard,omitempty"`
	JobID            string    `json:"jobId,omitempty"`
	InterviewPlanID  string    `json:"interviewPlanId,omitempty"`
	InterviewStageID string    `json:"interviewStageId,omitempty"`
	StageTitle       string    `json:"stageTitle,omitempty"`
	StageType        string    `json:"stageType,omitempty"`
	Status           string    `json:"status,omitempty"`
	SourceID         string    `json:"sourceId,omitempty"`
	ArchiveReasonID  string    `json:"archiveReasonId,omitempty"`
	CreatedByKeyID   string    `json:"createdByKeyId,omitempty"`
	CreatedAt        time.Time `json:"createdAt,omitzero"`
	UpdatedAt        time.Time `json:"updatedAt,omitzero"`
	// Resume is the candidate's resume: Ashby keeps resumes on the
	// candidate, so every application of theirs shows the same one.
	Resume *AshbyFile `json:"resume,omitempty"`
}

// AshbyNote is a note on a candidate.
type AshbyNote struct {
	ID          string    `json:"id"`
	Content     string    `json:"content"`     // as stored (HTML sanitised)
	ContentType string    `json:"contentType"` // text/plain or text/html
	IsPrivate   bool      `json:"isPrivate"`
	AuthorID    string    `json:"authorId,omitempty"`
	KeyID       string    `json:"keyId,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// AshbyEmailMessage is an email logged on a candidate with addEmailMessage.
type AshbyEmailMessage struct {
	ID                   string          `json:"id"`
	EmailProviderEmailID string          `json:"emailProviderEmailId"`
	KeyID                string          `json:"keyId"`
	Subject              string          `json:"subject"`
	From                 json.RawMessage `json:"from"`
	To                   json.RawMessage `json:"to"`
	Cc                   json.RawMessage `json:"cc,omitempty"`
	Body                 string          `json:"body"`
	UserID               string          `json:"userId,omitempty"`
	SentAt               string          `json:"sentAt,omitempty"`
	MessageIDHeader      string          `json:"messageIdHeader,omitempty"`
	ThreadID             string          `json:"threadId,omitempty"`
	IsPrivate            bool            `json:"isPrivate"`
	CreatedAt            time.Time       `json:"createdAt"`
}

// AshbyFile is an uploaded file (a resume).
type AshbyFile struct {
	ID          string `json:"id"`
	Handle      string `json:"handle"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int    `json:"size"`
	SHA256      string `json:"sha256"`
	Context     string `json:"context"`
	Uploaded    bool   `json:"uploaded"`
}

// AshbyAPIKey is an API key. Key (the secret) is shown on create and in the
// organization's listing (this is a simulator).
type AshbyAPIKey struct {
	ID          string            `json:"id,omitempty"`
	Title       string            `json:"title"`
	Key         string            `json:"key,omitempty"`
	Permissions map[string]string `json:"permissions"` // module -> read|write; nil on create: write on everything
	UserID      string            `json:"userId,omitempty"`
	// Confidential is the opt-in, at creation, to confidential jobs (and
	// their applications); without it they do not exist for the key.
	Confidential bool      `json:"confidential,omitempty"`
	Deactivated  bool      `json:"deactivated,omitempty"`
	CreatedAt    time.Time `json:"createdAt,omitzero"`
}

// AshbyStageMove moves an application as a person in Ashby would: by stage
// id, or by the type or title of a stage of the application's plan.
type AshbyStageMove struct {
	InterviewStageID string `json:"interviewStageId,omitempty"`
	StageType        string `json:"stageType,omitempty"`
	StageTitle       string `json:"stageTitle,omitempty"`
	ArchiveReasonID  string `json:"archiveReasonId,omitempty"`
	UserID           string `json:"userId,omitempty"`
}

// AshbyMerge merges one candidate into another.
type AshbyMerge struct {
	DeletedCandidateID string `json:"deletedCandidateId"`
	MergedCandidateID  string `json:"mergedCandidateId"`
}

// AshbySyncExpiry makes pagination fail on demand. Error is one of
// sync_token_expired, sync_token_invalid (every sync token issued so far),
// next_cursor_expired (every cursor issued so far) or
// incremental_sync_too_large (the next incremental rounds, Count of them,
// default 1). Endpoint limits it to one list endpoint ("application.list").
type AshbySyncExpiry struct {
	Error    string `json:"error"`
	Endpoint string `json:"endpoint,omitempty"`
	Count    int    `json:"count,omitempty"`
}

// AshbySettings are the simulator's knobs, most of them Ashby behaviour the
// reference marks UNCONFIRMED. Zero fields take the default.
type AshbySettings struct {
	// RequestsPerSecond and Burst are the per-key token bucket (default 5
	// and 10); Ashby publishes no limit.
	RequestsPerSecond float64 `json:"requestsPerSecond,omitempty"`
	Burst             int     `json:"burst,omitempty"`
	// ReportsPerMinute (15) and ReportConcurrency (3) are the documented
	// report limits per organization.
	ReportsPerMinute  int `json:"reportsPerMinute,omitempty"`
	ReportConcurrency int `json:"reportConcurrency,omitempty"`
	// SyncTokenTTLSeconds (default 30 days) and CursorTTLSeconds (default 1
	// hour) are how long tokens and cursors live.
	SyncTokenTTLSeconds float64 `json:"syncTokenTtlSeconds,omitempty"`
	CursorTTLSeconds    float64 `json:"cursorTtlSeconds,omitempty"`
	// MaxIncrementalPages caps an incremental round (default 100 pages of
	// the round's limit): beyond it, incremental_sync_too_large.
	MaxIncrementalPages int `json:"maxIncrementalPages,omitempty"`
	// WebhookRetryBaseSeconds is the base of the retry delay
	// (2^attempt-1)*base (default 10); WebhookMaxAttempts (10) and
	// WebhookTimeoutMs (real time, default 10000) bound each delivery.
	WebhookRetryBaseSeconds float64 `json:"webhookRetryBaseSeconds,omitempty"`
	WebhookMaxAttempts      int     `json:"webhookMaxAttempts,omitempty"`
	WebhookTimeoutMs        int     `json:"webhookTimeoutMs,omitempty"`
	// WebhookActionIDInData puts webhookActionId inside data instead of at
	// the top of the body ("top", the default, or "data").
	WebhookActionIDPlacement string `json:"webhookActionIdPlacement,omitempty"`
	// SubmitOnAPICreate fires applicationSubmit for applications created
	// through the API ("true"/"false", default false).
	SubmitOnAPICreate string `json:"submitOnApiCreate,omitempty"`
	// UploadURLTTLSeconds is how long a presigned upload stays valid
	// (default 3600).
	UploadURLTTLSeconds float64 `json:"uploadUrlTtlSeconds,omitempty"`
}

// AshbyWebhook is a webhook as stored.
type AshbyWebhook struct {
	ID          string `json:"id"`
	OrgID       string `json:"orgId"`
	WebhookType string `json:"webhookType"`
	RequestURL  string `json:"requestUrl"`
	SecretToken string `json:"secretToken,omitempty"`
	Enabled     bool   `json:"enabled"`
}

// AshbyDelivery is one webhook event and its delivery attempts (times on the
// simulated clock).
type AshbyDelivery struct {
	ID              string          `json:"id"`
	WebhookID       string          `json:"webhookId"`
	Action          string          `json:"action"`
	WebhookActionID string          `json:"webhookActionId"`
	URL             string          `json:"url"`
	Payload         json.RawMessage `json:"payload"`
	Signature       string          `json:"signature,omitempty"`
	State           string          `json:"state"` // pending, delivered, failed, dropped, held
	Attempts        int             `json:"attempts"`
	Statuses        []int           `json:"statuses"`
	AttemptedAt     []time.Time     `json:"attemptedAt"`
	NextAttemptAt   time.Time       `json:"nextAttemptAt,omitzero"`
}

// Ashby webhook delivery fault modes.
const (
	AshbyDeliveryDrop      = "drop"
	AshbyDeliveryDelay     = "delay"
	AshbyDeliveryDuplicate = "duplicate"
	AshbyDeliveryReorder   = "reorder"
)

// AshbyDeliveryFault drops, delays (DelaySeconds on the simulated clock),
// duplicates or re-orders (holds Count deliveries, then sends them newest
// first) upcoming webhook deliveries, optionally of one action.
type AshbyDeliveryFault struct {
	Mode         string  `json:"mode"`
	Count        int     `json:"count,omitempty"` // default 1; reorder: at least 2
	DelaySeconds float64 `json:"delaySeconds,omitempty"`
	Action       string  `json:"action,omitempty"`
}
