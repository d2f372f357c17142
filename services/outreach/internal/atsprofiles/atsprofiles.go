// Package atsprofiles keeps what outreach knows of a candidate's records
// in the organization's ATS: the links atsbridge reports (ats.linked,
// shown on the candidate), and the read atsbridge makes of a candidate
// when it pushes one (the candidate as it is now, its public notes, the
// flow's job).
package atsprofiles

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

// EventLinked is atsbridge's event about a candidate linked to the ATS.
const EventLinked = "ats.linked"

// Store is what the package needs of the store.
type Store interface {
	UpsertATSProfile(ctx context.Context, tx pgx.Tx, orgID string, p store.ATSProfile) error
	ATSProfiles(ctx context.Context, orgID, candidateID string) ([]store.ATSProfile, error)
	Candidate(ctx context.Context, orgID, id string) (store.Candidate, error)
	Notes(ctx context.Context, orgID, candidateID string, v store.Viewer) ([]store.Note, error)
	Job(ctx context.Context, orgID, id string) (store.Job, error)
}

// Profiles is the package's entry point.
type Profiles struct {
	store Store
}

// New returns the profiles over st.
func New(st Store) *Profiles { return &Profiles{store: st} }

// ApplyLinked is the events.Handler of ats.linked: it records the link in
// the event's transaction. A redelivery, or a link made again, leaves one
// row.
func (p *Profiles) ApplyLinked(ctx context.Context, tx pgx.Tx, ev *eventsv1.Event) error {
	var l atsbridgev1.AtsLinked
	if err := ev.GetPayload().UnmarshalTo(&l); err != nil {
		return apperr.InvalidArgument("payload", "not an AtsLinked")
	}
	if ev.GetOrganizationId() == "" || l.GetCandidateId() == "" || l.GetRemoteOpportunityId() == "" || !slices.Contains(jobs.Sources, l.GetProvider()) {
		return apperr.InvalidArgument("payload", "a link needs an organization, a candidate, an ATS record and a known provider")
	}
	err := p.store.UpsertATSProfile(ctx, tx, ev.GetOrganizationId(), store.ATSProfile{CandidateID: l.GetCandidateId(), Provider: l.GetProvider(),
		RemoteCandidateID: l.GetRemoteCandidateId(), RemoteOpportunityID: l.GetRemoteOpportunityId(), URL: l.GetUrl(), JobID: l.GetJobId(),
		LinkedAt: ev.GetOccurredAt().AsTime()})
	if err != nil {
		return fmt.Errorf("atsprofiles: record the link of %s: %w", l.GetCandidateId(), err)
	}
	return nil
}

// List returns a candidate's ATS records.
func (p *Profiles) List(ctx context.Context, orgID, candidateID string) ([]store.ATSProfile, error) {
	return p.store.ATSProfiles(ctx, orgID, candidateID)
}

// ForSync is what a push writes of a candidate.
type ForSync struct {
	Candidate store.Candidate
	// PublicNotes are oldest first; private notes never leave Tandem.
	PublicNotes []store.Note
	// Job is the job asked for (zero when none was).
	Job store.Job
}

// ForSync reads candidateID (followed to its survivor when merged), its
// public notes and, when jobID is set, the job.
func (p *Profiles) ForSync(ctx context.Context, orgID, candidateID, jobID string) (ForSync, error) {
	var out ForSync
	c, err := p.store.Candidate(ctx, orgID, candidateID)
	if err != nil {
		return out, err
	}
	out.Candidate = c
	// The zero viewer sees public notes only.
	ns, err := p.store.Notes(ctx, orgID, c.ID, store.Viewer{})
	if err != nil {
		return out, err
	}
	slices.Reverse(ns)
	out.PublicNotes = slices.DeleteFunc(ns, func(n store.Note) bool { return n.Private })
	if jobID != "" {
		j, err := p.store.Job(ctx, orgID, jobID)
		if errors.Is(err, postgres.ErrNotFound) {
			return out, apperr.NotFound("job")
		}
		if err != nil {
			return out, err
		}
		out.Job = j
	}
	return out, nil
}
