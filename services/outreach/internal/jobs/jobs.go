// Package jobs holds the rules of an organization's jobs: the roles that
// referrals and flows point to, made in Tandem or (later) filled from the
// ATS. Recruiters and above manage them; every member reads the open and
// closed ones, which they refer people to; drafts are not published, so
// only Recruiters and above see them.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/platform/validate"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Limits of a job's fields and of its lists.
const (
	MaxTitleLen      = 200
	MaxTextLen       = 200
	MaxExternalIDLen = 200
	DefaultPageSize  = 50
	MaxPageSize      = 200
)

// Statuses are the statuses a job may have.
var Statuses = []string{store.JobOpen, store.JobClosed, store.JobDraft}

// Sources are the ATSs a job may come from.
var Sources = []string{"ashby", "lever"}

// UpdatableFields are the update mask's paths.
var UpdatableFields = []string{"title", "department", "team", "location", "status", "external_source", "external_id"}

// Store is what the package needs of the store.
type Store interface {
	CreateJob(ctx context.Context, j store.Job) (store.Job, error)
	Job(ctx context.Context, orgID, id string) (store.Job, error)
	UpdateJob(ctx context.Context, orgID, id string, change func(store.Job) (store.Job, error)) (store.Job, error)
	Jobs(ctx context.Context, orgID string, f store.JobFilter, after string, limit int) ([]store.Job, error)
}

// Jobs runs the rules over the store.
type Jobs struct{ store Store }

// New returns the rules over st.
func New(st Store) *Jobs { return &Jobs{store: st} }

// manages reports whether p manages jobs (and so sees drafts).
func manages(p authz.Principal) bool { return p.Role.AtLeast(authz.RoleRecruiter) }

// check returns j with its fields checked and trimmed, or the first bad
// field named.
func check(j store.Job) (store.Job, error) {
	j, err := checkFields(j)
	if err != nil {
		return store.Job{}, err
	}
	return j, checkPair(j)
}

// checkPair checks that the external source and id go together.
func checkPair(j store.Job) error {
	switch {
	case j.ExternalSource != "" && j.ExternalID == "":
		return apperr.InvalidArgument("job.external_id", "is required with external_source")
	case j.ExternalSource == "" && j.ExternalID != "":
		return apperr.InvalidArgument("job.external_source", "is required with external_id")
	}
	return nil
}

// checkFields checks each field on its own.
func checkFields(j store.Job) (store.Job, error) {
	var err error
	if j.Title, err = validate.Text("job.title", j.Title, MaxTitleLen); err != nil {
		return store.Job{}, err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"department", &j.Department}, {"team", &j.Team}, {"location", &j.Location}} {
		if *f.v == "" {
			continue
		}
		if *f.v, err = validate.Text("job."+f.name, *f.v, MaxTextLen); err != nil {
			return store.Job{}, err
		}
	}
	if !slices.Contains(Statuses, j.Status) {
		return store.Job{}, apperr.InvalidArgument("job.status", "is required: open, closed or draft")
	}
	if j.ExternalSource != "" && !slices.Contains(Sources, j.ExternalSource) {
		return store.Job{}, apperr.InvalidArgument("job.external_source", "must be "+strings.Join(Sources, " or "))
	}
	if j.ExternalID != "" {
		if j.ExternalID, err = validate.Text("job.external_id", j.ExternalID, MaxExternalIDLen); err != nil {
			return store.Job{}, err
		}
	}
	return j, nil
}

// mapStore turns the store's refusals into client errors; anything else
// passes (not found is named by the handler).
func mapStore(err error) error {
	var taken *store.ExternalJobTakenError
	if errors.As(err, &taken) {
		return &apperr.Error{Kind: apperr.KindAlreadyExists, Reason: "job_exists", Field: "job.external_id",
			Public:   "a job with this external source and id exists already: " + taken.JobID,
			Metadata: map[string]string{"job_id": taken.JobID}, Cause: err}
	}
	return err
}

// Create stores a new job of the caller's organization.
func (js *Jobs) Create(ctx context.Context, caller authz.Principal, in store.Job) (store.Job, error) {
	j, err := check(in)
	if err != nil {
		return store.Job{}, err
	}
	j.OrgID, j.CreateUserID = caller.OrgID, caller.UserID
	out, err := js.store.CreateJob(ctx, j)
	return out, mapStore(err)
}

// Get returns a job the caller may see: a draft only to those who manage
// jobs; to others it is not found.
func (js *Jobs) Get(ctx context.Context, caller authz.Principal, id string) (store.Job, error) {
	j, err := js.store.Job(ctx, caller.OrgID, id)
	if err != nil {
		return store.Job{}, err
	}
	if j.Status == store.JobDraft && !manages(caller) {
		return store.Job{}, postgres.ErrNotFound
	}
	return j, nil
}

// Update changes the fields of a job named by paths to their values in in.
func (js *Jobs) Update(ctx context.Context, caller authz.Principal, id string, in store.Job, paths []string) (store.Job, error) {
	if len(paths) == 0 {
		return store.Job{}, apperr.InvalidArgument("update_mask", "is required: name the fields to change")
	}
	for _, p := range paths {
		if !slices.Contains(UpdatableFields, p) {
			return store.Job{}, apperr.InvalidArgument("update_mask", fmt.Sprintf("%q cannot be changed; the fields are %s", p, strings.Join(UpdatableFields, ", ")))
		}
	}
	// The masked fields are checked before the store is touched, so bad
	// input stores nothing; the placeholders stand for stored values the
	// mask leaves alone. Whether the external source and id still go
	// together depends on the stored job, checked under its lock.
	if _, err := checkFields(apply(store.Job{Title: "x", Status: store.JobOpen}, in, paths)); err != nil {
		return store.Job{}, err
	}
	out, err := js.store.UpdateJob(ctx, caller.OrgID, id, func(cur store.Job) (store.Job, error) {
		return check(apply(cur, in, paths))
	})
	return out, mapStore(err)
}

// apply copies the fields of from named by paths onto to.
func apply(to, from store.Job, paths []string) store.Job {
	for _, p := range paths {
		switch p {
		case "title":
			to.Title = from.Title
		case "department":
			to.Department = from.Department
		case "team":
			to.Team = from.Team
		case "location":
			to.Location = from.Location
		case "status":
			to.Status = from.Status
		case "external_source":
			to.ExternalSource = from.ExternalSource
		case "external_id":
			to.ExternalID = from.ExternalID
		}
	}
	return to
}

// Close closes a job; a closed job stays as it is.
func (js *Jobs) Close(ctx context.Context, caller authz.Principal, id string) (store.Job, error) {
	return js.store.UpdateJob(ctx, caller.OrgID, id, func(cur store.Job) (store.Job, error) {
		cur.Status = store.JobClosed
		return cur, nil
	})
}

// Query is one page of a list of jobs.
type Query struct {
	// Status selects one status; empty, every status the caller may see.
	Status    string
	PageSize  int
	PageToken string
}

// Page is a page of jobs; NextPageToken is empty on the last one.
type Page struct {
	Jobs          []store.Job
	NextPageToken string
}

type pageToken struct {
	Status string `json:"s"`
	After  string `json:"a"`
}

// List returns a page of the organization's jobs the caller may see,
// newest first.
func (js *Jobs) List(ctx context.Context, caller authz.Principal, q Query) (Page, error) {
	f := store.JobFilter{}
	switch {
	case q.Status == store.JobDraft && !manages(caller):
		return Page{}, apperr.PermissionDenied("drafts are for Recruiters and above")
	case q.Status != "":
		if !slices.Contains(Statuses, q.Status) {
			return Page{}, apperr.InvalidArgument("status", "must be open, closed or draft")
		}
		f.Statuses = []string{q.Status}
	case !manages(caller):
		f.Statuses = []string{store.JobOpen, store.JobClosed}
	}
	size, err := paging.Size(q.PageSize, DefaultPageSize, MaxPageSize)
	if err != nil {
		return Page{}, err
	}
	after := ""
	if q.PageToken != "" {
		tok, err := paging.Decode[pageToken](q.PageToken)
		if err != nil || tok.Status != q.Status {
			return Page{}, apperr.InvalidArgument("page_token", "is not a token of this list")
		}
		after = tok.After
	}
	found, err := js.store.Jobs(ctx, caller.OrgID, f, after, size+1)
	if errors.Is(err, postgres.ErrNotFound) {
		return Page{}, apperr.InvalidArgument("page_token", "is not a token of this list")
	}
	if err != nil {
		return Page{}, err
	}
	page := Page{Jobs: found}
	if len(found) > size {
		page.Jobs = found[:size]
		if page.NextPageToken, err = paging.Encode(pageToken{Status: q.Status, After: page.Jobs[size-1].ID}); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}
