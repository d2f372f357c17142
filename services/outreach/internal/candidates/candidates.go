// Package candidates holds the rules of an organization's candidates:
// what a candidate may hold, that one address is one person, updates by
// field mask, searches a page at a time, soft deletion restorable for 30
// days, merges and bulk creation.
package candidates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/services/outreach/internal/customfields"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// RestoreWindow is how long a deleted candidate can be restored.
const RestoreWindow = 30 * 24 * time.Hour

// MaxBatch is the most candidates one bulk create takes.
const MaxBatch = 1000

// Store is what the package needs of the store.
type Store interface {
	CreateCandidate(ctx context.Context, c store.Candidate, actor string) (store.Candidate, error)
	CreateCandidates(ctx context.Context, cs []store.Candidate, actor string) ([]store.BatchRow, error)
	Candidate(ctx context.Context, orgID, id string) (store.Candidate, error)
	UpdateCandidate(ctx context.Context, orgID, id string, change func(store.Candidate) (store.Candidate, error)) (store.Candidate, error)
	DeleteCandidate(ctx context.Context, orgID, id string) (store.Candidate, error)
	UndeleteCandidate(ctx context.Context, orgID, id string, allow func(store.Candidate) error) (store.Candidate, error)
	MergeCandidates(ctx context.Context, orgID, survivorID, mergedID, actor string, combine func(survivor, merged store.Candidate) store.Candidate) (store.Candidate, error)
	SearchCandidates(ctx context.Context, orgID string, f store.Filter, order store.Order, after *store.Cursor, limit int) ([]store.Candidate, error)
	FieldDefinitions(ctx context.Context, orgID string) ([]store.FieldDefinition, error)
}

// checkCustom checks the custom field values of c against the
// organization's definitions, read only when there are values to check.
func (c *Candidates) checkCustom(ctx context.Context, orgID, field string, values map[string]string, defs *[]store.FieldDefinition) (map[string]string, error) {
	if len(values) == 0 {
		return map[string]string{}, nil
	}
	if *defs == nil {
		d, err := c.store.FieldDefinitions(ctx, orgID)
		if err != nil {
			return nil, err
		}
		*defs = d
	}
	return customfields.CheckValues(field, values, *defs)
}

// Candidates runs the rules over the store.
type Candidates struct {
	store Store
	now   func() time.Time
}

// New returns the rules over st; now is the clock (time.Now when nil).
func New(st Store, now func() time.Time) *Candidates {
	if now == nil {
		now = time.Now
	}
	return &Candidates{store: st, now: now}
}

// reasonEmailTaken is the reason of an AlreadyExists for an address another
// candidate has; the error wraps the store's *store.DuplicateEmailError,
// which names that candidate.
const reasonEmailTaken = "candidate_exists"

func emailTaken(field string, dup *store.DuplicateEmailError) error {
	return &apperr.Error{Kind: apperr.KindAlreadyExists, Reason: reasonEmailTaken, Field: field,
		Public:   fmt.Sprintf("a candidate with this e-mail address exists already: %s", dup.CandidateID),
		Metadata: map[string]string{"candidate_id": dup.CandidateID}, Cause: dup}
}

// mapStore turns the store's refusals into client errors; anything else
// passes (not found is named by the handler).
func mapStore(field string, err error) error {
	var dup *store.DuplicateEmailError
	switch {
	case errors.As(err, &dup):
		return emailTaken(field, dup)
	case errors.Is(err, store.ErrNotLive):
		return apperr.FailedPrecondition("candidate_not_live", "the candidate is deleted or merged").Wrap(err)
	case errors.Is(err, store.ErrNotDeleted):
		return apperr.FailedPrecondition("candidate_not_deleted", "the candidate is not deleted").Wrap(err)
	}
	return err
}

// Create stores a new candidate of the caller's organization, owned by the
// caller unless it names an owner.
func (c *Candidates) Create(ctx context.Context, caller authz.Principal, in store.Candidate) (store.Candidate, error) {
	in, err := check("candidate.", in)
	if err != nil {
		return store.Candidate{}, err
	}
	var defs []store.FieldDefinition
	if in.CustomFields, err = c.checkCustom(ctx, caller.OrgID, "candidate.custom_fields", in.CustomFields, &defs); err != nil {
		return store.Candidate{}, err
	}
	in.OrgID = caller.OrgID
	if in.OwnerUserID == "" {
		in.OwnerUserID = caller.UserID
	}
	out, err := c.store.CreateCandidate(ctx, in, caller.UserID)
	return out, mapStore("candidate.emails", err)
}

// Get returns a candidate of the organization (a merged one's survivor).
func (c *Candidates) Get(ctx context.Context, orgID, id string) (store.Candidate, error) {
	return c.store.Candidate(ctx, orgID, id)
}

// UpdatableFields are the update mask's paths.
var UpdatableFields = []string{"name", "emails", "phone", "links", "title", "company", "location", "time_zone", "tags", "source", "owner_user_id", "custom_fields"}

// Update changes the fields of a live candidate named by paths to their
// values in in.
func (c *Candidates) Update(ctx context.Context, orgID, id string, in store.Candidate, paths []string) (store.Candidate, error) {
	if len(paths) == 0 {
		return store.Candidate{}, apperr.InvalidArgument("update_mask", "is required: name the fields to change")
	}
	for _, p := range paths {
		if !slices.Contains(UpdatableFields, p) {
			return store.Candidate{}, apperr.InvalidArgument("update_mask", fmt.Sprintf("%q cannot be changed; the fields are %s", p, strings.Join(UpdatableFields, ", ")))
		}
	}
	// The masked fields are checked before the store is touched, so bad
	// input stores nothing; the placeholder name stands for a stored name
	// the mask leaves alone.
	masked, err := check("candidate.", apply(store.Candidate{Name: "x"}, in, paths))
	if err != nil {
		return store.Candidate{}, err
	}
	var defs []store.FieldDefinition
	if masked.CustomFields, err = c.checkCustom(ctx, orgID, "candidate.custom_fields", masked.CustomFields, &defs); err != nil {
		return store.Candidate{}, err
	}
	out, err := c.store.UpdateCandidate(ctx, orgID, id, func(cur store.Candidate) (store.Candidate, error) {
		return apply(cur, masked, paths), nil
	})
	return out, mapStore("candidate.emails", err)
}

// apply copies the fields of from named by paths onto to.
func apply(to, from store.Candidate, paths []string) store.Candidate {
	for _, p := range paths {
		switch p {
		case "name":
			to.Name = from.Name
		case "emails":
			to.Emails = from.Emails
		case "phone":
			to.Phone = from.Phone
		case "links":
			to.Links = from.Links
		case "title":
			to.Title = from.Title
		case "company":
			to.Company = from.Company
		case "location":
			to.Location = from.Location
		case "time_zone":
			to.TimeZone = from.TimeZone
		case "tags":
			to.Tags = from.Tags
		case "source":
			to.Source = from.Source
		case "owner_user_id":
			to.OwnerUserID = from.OwnerUserID
		case "custom_fields":
			to.CustomFields = from.CustomFields
		}
	}
	return to
}

// Delete deletes a candidate softly.
func (c *Candidates) Delete(ctx context.Context, orgID, id string) (store.Candidate, error) {
	out, err := c.store.DeleteCandidate(ctx, orgID, id)
	return out, mapStore("", err)
}

// Undelete restores a candidate deleted less than RestoreWindow ago.
func (c *Candidates) Undelete(ctx context.Context, orgID, id string) (store.Candidate, error) {
	out, err := c.store.UndeleteCandidate(ctx, orgID, id, func(cur store.Candidate) error {
		if cur.DeletedAt != nil && c.now().Sub(*cur.DeletedAt) > RestoreWindow {
			return apperr.FailedPrecondition("restore_window_passed", "the candidate was deleted more than 30 days ago and cannot be restored")
		}
		return nil
	})
	return out, mapStore("", err)
}

// Merge merges mergedID into survivorID.
func (c *Candidates) Merge(ctx context.Context, caller authz.Principal, survivorID, mergedID string) (store.Candidate, error) {
	if survivorID == mergedID {
		return store.Candidate{}, apperr.InvalidArgument("merged_id", "must differ from survivor_id")
	}
	out, err := c.store.MergeCandidates(ctx, caller.OrgID, survivorID, mergedID, caller.UserID, Combine)
	return out, mapStore("", err)
}

// Combine is the survivor of a merge: its own fields, the other's where its
// own are empty, and the addresses, links and tags of both (the survivor's
// primary address stays primary).
func Combine(survivor, merged store.Candidate) store.Candidate {
	out := survivor
	for _, f := range []struct{ to, from *string }{
		{&out.Phone, &merged.Phone}, {&out.Title, &merged.Title}, {&out.Company, &merged.Company},
		{&out.Location, &merged.Location}, {&out.TimeZone, &merged.TimeZone}, {&out.Source, &merged.Source},
		{&out.OwnerUserID, &merged.OwnerUserID},
	} {
		if *f.to == "" {
			*f.to = *f.from
		}
	}
	out.Emails = slices.Clone(survivor.Emails)
	for _, e := range merged.Emails {
		if !slices.ContainsFunc(out.Emails, func(x string) bool { return NormalizeEmail(x) == NormalizeEmail(e) }) {
			out.Emails = append(out.Emails, e)
		}
	}
	out.Links = slices.Clone(survivor.Links)
	for _, l := range merged.Links {
		if !slices.ContainsFunc(out.Links, func(x store.Link) bool { return x.URL == l.URL }) {
			out.Links = append(out.Links, l)
		}
	}
	out.CustomFields = map[string]string{}
	for k, v := range merged.CustomFields {
		out.CustomFields[k] = v
	}
	for k, v := range survivor.CustomFields {
		out.CustomFields[k] = v
	}
	out.Tags = slices.Clone(survivor.Tags)
	for _, t := range merged.Tags {
		if !slices.Contains(out.Tags, t) {
			out.Tags = append(out.Tags, t)
		}
	}
	return out
}

// Outcome is what became of one row of a bulk create.
type Outcome int

// The outcomes of a row.
const (
	Created Outcome = iota + 1
	Matched
	Refused
)

// RowResult reports one row of a bulk create.
type RowResult struct {
	Outcome     Outcome
	CandidateID string
	// Field and Reason say why a row was refused.
	Field, Reason string
}

// BatchCreate creates up to MaxBatch candidates: a row that fails its
// checks is refused (naming its field), a row with an address the
// organization has (or an earlier row had) is matched to that candidate and
// changes nothing, and the others are created.
func (c *Candidates) BatchCreate(ctx context.Context, caller authz.Principal, rows []store.Candidate) ([]RowResult, error) {
	if len(rows) == 0 || len(rows) > MaxBatch {
		return nil, apperr.InvalidArgument("candidates", fmt.Sprintf("must hold 1 to %d candidates", MaxBatch))
	}
	out := make([]RowResult, len(rows))
	var defs []store.FieldDefinition
	var valid []store.Candidate
	var at []int
	for i, row := range rows {
		checked, err := check(fmt.Sprintf("candidates[%d].", i), row)
		if err == nil {
			checked.CustomFields, err = c.checkCustom(ctx, caller.OrgID, fmt.Sprintf("candidates[%d].custom_fields", i), checked.CustomFields, &defs)
		}
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) {
				return nil, err
			}
			out[i] = RowResult{Outcome: Refused, Field: ae.Field, Reason: ae.Public}
			continue
		}
		checked.OrgID = caller.OrgID
		if checked.OwnerUserID == "" {
			checked.OwnerUserID = caller.UserID
		}
		valid = append(valid, checked)
		at = append(at, i)
	}
	if len(valid) == 0 {
		return out, nil
	}
	stored, err := c.store.CreateCandidates(ctx, valid, caller.UserID)
	if err != nil {
		return nil, err
	}
	for j, r := range stored {
		if r.Duplicate != nil {
			out[at[j]] = RowResult{Outcome: Matched, CandidateID: r.Duplicate.CandidateID}
			continue
		}
		out[at[j]] = RowResult{Outcome: Created, CandidateID: r.Candidate.ID}
	}
	return out, nil
}
