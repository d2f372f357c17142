// Package referrals holds the rules of circles: any member refers a person
// they know to an open job. The referral is recorded with the referrer; the
// candidate is the organization's candidate with the person's e-mail
// address, or a new one, made in the same transaction as the referral, its
// timeline entry and the `referral.created` event (which the ATS side turns
// into an application). A member sees their own referrals; Recruiters and
// above see every referral.
package referrals

import (
	"context"
	"errors"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/validate"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/notes"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// EventCreated is the type of the event a referral publishes.
const EventCreated = "referral.created"

// Source is the source of a candidate a referral creates.
const Source = "referral"

// Limits of a referral's fields and of its lists.
const (
	MaxNameLen         = candidates.MaxNameLen
	MaxEmailLen        = candidates.MaxEmailLen
	MaxURLLen          = candidates.MaxURLLen
	MaxRelationshipLen = 200
	MaxNoteLen         = notes.MaxBodyLen
	DefaultPageSize    = 50
	MaxPageSize        = 200
)

// Store is what the package needs of the store.
type Store interface {
	CreateReferral(ctx context.Context, r store.Referral, newCandidate store.Candidate, publish store.PublishReferral) (store.Referral, error)
	Referral(ctx context.Context, orgID, id string) (store.Referral, error)
	Referrals(ctx context.Context, orgID string, f store.ReferralFilter, after string, limit int) ([]store.Referral, error)
	Candidate(ctx context.Context, orgID, id string) (store.Candidate, error)
}

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// Referrals runs the rules over the store.
type Referrals struct {
	store Store
	pub   Publisher
	now   func() time.Time
}

// New returns the rules over st, publishing with pub; now is the clock
// (time.Now when nil).
func New(st Store, pub Publisher, now func() time.Time) *Referrals {
	if now == nil {
		now = time.Now
	}
	return &Referrals{store: st, pub: pub, now: now}
}

// seesAll reports whether p sees every referral, not only their own.
func seesAll(p authz.Principal) bool { return p.Role.AtLeast(authz.RoleRecruiter) }

// check returns r with its fields checked and trimmed, or the first bad
// field named.
func check(r store.Referral) (store.Referral, error) {
	var err error
	if r.JobID == "" {
		return store.Referral{}, apperr.InvalidArgument("referral.job_id", "is required")
	}
	if r.Name, err = validate.Text("referral.name", r.Name, MaxNameLen); err != nil {
		return store.Referral{}, err
	}
	if r.Email, err = validate.Text("referral.email", r.Email, MaxEmailLen); err != nil {
		return store.Referral{}, err
	}
	// A bare address, as a candidate's are: no display name, no comments.
	if a, err := mail.ParseAddress(r.Email); err != nil || a.Address != r.Email || a.Name != "" {
		return store.Referral{}, apperr.InvalidArgument("referral.email", "must be an e-mail address such as ada@example.com")
	}
	if r.LinkedInURL != "" {
		if r.LinkedInURL, err = validate.Text("referral.linkedin_url", r.LinkedInURL, MaxURLLen); err != nil {
			return store.Referral{}, err
		}
		u, err := url.Parse(r.LinkedInURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return store.Referral{}, apperr.InvalidArgument("referral.linkedin_url", "must be an http or https URL")
		}
	}
	if r.Relationship, err = validate.Text("referral.relationship", r.Relationship, MaxRelationshipLen); err != nil {
		return store.Referral{}, err
	}
	// An optional note, with a note's rules.
	if strings.TrimSpace(r.Note) == "" {
		r.Note = ""
	} else if r.Note, err = notes.CheckBody("referral.note", r.Note); err != nil {
		return store.Referral{}, err
	}
	return r, nil
}

// mapStore turns the store's refusals into client errors; anything else
// passes (a job not found is named by the handler).
func mapStore(err error) error {
	var exists *store.ReferralExistsError
	switch {
	case errors.As(err, &exists):
		return &apperr.Error{Kind: apperr.KindAlreadyExists, Reason: "referral_exists",
			Public:   "you have referred this person to this job already: referral " + exists.ReferralID,
			Metadata: map[string]string{"referral_id": exists.ReferralID}, Cause: err}
	case errors.Is(err, store.ErrJobNotOpen):
		return apperr.FailedPrecondition("job_not_open", "the job is closed or not published; it takes no referrals").Wrap(err)
	case errors.Is(err, store.ErrNotLive):
		return apperr.FailedPrecondition("candidate_not_live", "the person with this e-mail address was deleted; ask a recruiter to restore them").Wrap(err)
	}
	return err
}

// Create records the caller's referral of a person to a job.
//
// Referring the same person to the same job twice is refused
// (ALREADY_EXISTS, naming the first referral) rather than answered as a
// success: a retry learns it is done from the id, and a member who refers
// again by mistake is told so instead of thinking a second referral, with
// a new note, was recorded.
func (rs *Referrals) Create(ctx context.Context, caller authz.Principal, in store.Referral) (store.Referral, error) {
	if caller.UserID == "" {
		// An API token no person created has nobody to record as the
		// referrer, and "my referrals" would never show it.
		return store.Referral{}, apperr.PermissionDenied("a referral is made by a person; this API token has no user")
	}
	r, err := check(in)
	if err != nil {
		return store.Referral{}, err
	}
	r.OrgID, r.ReferrerUserID = caller.OrgID, caller.UserID
	c := store.Candidate{OrgID: caller.OrgID, Name: r.Name, Emails: []string{r.Email}, Source: Source}
	if r.LinkedInURL != "" {
		c.Links = []store.Link{{Kind: "linkedin", URL: r.LinkedInURL}}
	}
	out, err := rs.store.CreateReferral(ctx, r, c, rs.publish)
	return out, mapStore(err)
}

var sourceToProto = map[string]outreachv1.JobSource{
	"ashby": outreachv1.JobSource_JOB_SOURCE_ASHBY,
	"lever": outreachv1.JobSource_JOB_SOURCE_LEVER,
}

// publish is the store's callback: the event goes out with the referral's
// transaction, or not at all. A referral happens once, so it is unordered
// (version 0).
func (rs *Referrals) publish(ctx context.Context, tx pgx.Tx, m store.ReferralMade) error {
	r := m.Referral
	_, err := rs.pub.Publish(ctx, tx, events.Event{
		Type: EventCreated, OrganizationID: r.OrgID, AggregateID: r.ID, OccurredAt: rs.now(),
		Payload: &outreachv1.ReferralCreated{
			ReferralId: r.ID, CandidateId: r.CandidateID, JobId: r.JobID, ReferrerUserId: r.ReferrerUserID,
			CandidateCreated: r.CandidateCreated, JobExternalSource: sourceToProto[m.Job.ExternalSource], JobExternalId: m.Job.ExternalID,
			Name: r.Name, Email: r.Email, LinkedinUrl: r.LinkedInURL, Relationship: r.Relationship, Note: r.Note, JobTitle: m.Job.Title,
		},
	})
	return err
}

// Get returns a referral the caller may see; someone else's is not found
// to a member.
func (rs *Referrals) Get(ctx context.Context, caller authz.Principal, id string) (store.Referral, error) {
	r, err := rs.store.Referral(ctx, caller.OrgID, id)
	if err != nil {
		return store.Referral{}, err
	}
	if !seesAll(caller) && r.ReferrerUserID != caller.UserID {
		return store.Referral{}, postgres.ErrNotFound
	}
	return r, nil
}

// Query is one page of referrals; empty filters select everything.
type Query struct {
	ReferrerUserID string
	JobID          string
	CandidateID    string
	PageSize       int
	PageToken      string
}

// Page is a page of referrals; NextPageToken is empty on the last one.
type Page struct {
	Referrals     []store.Referral
	NextPageToken string
}

// pageToken is the last referral of a page, bound to its filters.
type pageToken struct {
	Referrer  string `json:"r"`
	Job       string `json:"j"`
	Candidate string `json:"c"`
	After     string `json:"a"`
}

// List returns a page of referrals the caller may see, newest first: a
// member's own only. A candidate filter names a candidate of the
// organization (a merged one: its survivor).
func (rs *Referrals) List(ctx context.Context, caller authz.Principal, q Query) (Page, error) {
	f := store.ReferralFilter{ReferrerUserID: q.ReferrerUserID, JobID: q.JobID}
	if !seesAll(caller) {
		if q.ReferrerUserID != "" && q.ReferrerUserID != caller.UserID {
			return Page{}, apperr.PermissionDenied("members see their own referrals only")
		}
		f.ReferrerUserID = caller.UserID
	}
	size, err := paging.Size(q.PageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return Page{}, err
	}
	if q.CandidateID != "" {
		c, err := rs.store.Candidate(ctx, caller.OrgID, q.CandidateID)
		if err != nil {
			return Page{}, err
		}
		f.CandidateID = c.ID
	}
	bound := pageToken{Referrer: f.ReferrerUserID, Job: f.JobID, Candidate: f.CandidateID}
	after := ""
	if q.PageToken != "" {
		tok, err := paging.Decode[pageToken](q.PageToken)
		if err != nil || tok.Referrer != bound.Referrer || tok.Job != bound.Job || tok.Candidate != bound.Candidate {
			return Page{}, apperr.InvalidArgument("page_token", "is not a token of this list")
		}
		after = tok.After
	}
	found, err := rs.store.Referrals(ctx, caller.OrgID, f, after, size+1)
	if errors.Is(err, postgres.ErrNotFound) {
		return Page{}, apperr.InvalidArgument("page_token", "is not a token of this list")
	}
	if err != nil {
		return Page{}, err
	}
	page := Page{Referrals: found}
	if len(found) > size {
		page.Referrals = found[:size]
		bound.After = page.Referrals[size-1].ID
		if page.NextPageToken, err = paging.Encode(bound); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}
