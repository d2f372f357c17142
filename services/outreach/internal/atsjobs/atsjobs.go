// Package atsjobs mirrors the ATS's job postings into the organization's
// job list (ats.job_synced from atsbridge, LV-3) and checks, with
// atsbridge, that a flow may be linked to an ATS job: the posting is
// published and the stage mapping is saved and complete (LV-2).
package atsjobs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/postgres"
	atsbridgev1 "github.com/tandemhq/tandem/proto/gen/go/tandem/atsbridge/v1"
	eventsv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/events/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/jobs"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// EventJobSynced is atsbridge's event about a posting.
const EventJobSynced = "ats.job_synced"

// Posting states (Lever's) that are not closed: published is open,
// draft and pending are drafts; the rest (internal, closed, rejected, and
// removed from the ATS) are closed.
var draftStates = []string{"draft", "pending"}

// untitled names a posting the ATS sent without a title.
const untitled = "Untitled posting"

// status is a posting's job status: open only for published postings,
// which alone are offered for linking.
func status(p *atsbridgev1.AtsJobSynced) string {
	switch {
	case p.GetPublished():
		return store.JobOpen
	case slices.Contains(draftStates, p.GetState()):
		return store.JobDraft
	}
	return store.JobClosed
}

// ApplyJobSynced is the events.Handler of ats.job_synced: it upserts the
// job in the event's transaction. The receiver has dropped a delivery
// older than one applied (the version is the import's time).
func ApplyJobSynced(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var p atsbridgev1.AtsJobSynced
	if err := ev.GetPayload().UnmarshalTo(&p); err != nil {
		return apperr.InvalidArgument("payload", "not an AtsJobSynced")
	}
	if ev.GetOrganizationId() == "" || p.GetExternalId() == "" || !slices.Contains(jobs.Sources, p.GetProvider()) {
		return apperr.InvalidArgument("payload", "a synced job needs an organization, an external id and a known provider")
	}
	title := p.GetTitle()
	if title == "" {
		title = untitled
	}
	if _, err := store.UpsertExternalJob(ctx, tx, store.Job{OrgID: ev.GetOrganizationId(), Title: title, Department: p.GetDepartment(),
		Team: p.GetTeam(), Location: p.GetLocation(), Status: status(&p), ExternalSource: p.GetProvider(), ExternalID: p.GetExternalId()}); err != nil {
		return fmt.Errorf("atsjobs: mirror job %s: %w", p.GetExternalId(), err)
	}
	return nil
}

// Store is what the link check reads.
type Store interface {
	Job(ctx context.Context, orgID, id string) (store.Job, error)
}

// Checker asks atsbridge whether a flow may be linked to its ATS job.
type Checker interface {
	CheckFlowLink(ctx context.Context, orgID, externalJobID string) (reason, description string, err error)
}

// Links is flows.JobLinks.
type Links struct {
	store Store
	ats   Checker
}

// NewLinks returns the check over st, asking ats.
func NewLinks(st Store, ats Checker) *Links { return &Links{store: st, ats: ats} }

// CheckJobLink reports whether a flow of the organization may be linked
// to job jobID: the job exists, and when it is an ATS's job, atsbridge
// agrees (FailedPrecondition with its reason otherwise, such as
// stage_mapping_required or posting_not_published).
func (l *Links) CheckJobLink(ctx context.Context, orgID, jobID string) error {
	j, err := l.store.Job(ctx, orgID, jobID)
	if errors.Is(err, postgres.ErrNotFound) {
		return apperr.InvalidArgument("flow.job_id", "no such job")
	}
	if err != nil {
		return err
	}
	if j.ExternalSource == "" {
		return nil
	}
	reason, description, err := l.ats.CheckFlowLink(ctx, orgID, j.ExternalID)
	if err != nil {
		return err
	}
	if reason != "" {
		return apperr.FailedPrecondition(reason, description)
	}
	return nil
}
