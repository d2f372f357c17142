// Package server is the gRPC handler of the outreach service. Each handler
// translates: it reads the request and the caller, calls one domain package
// (candidates, stages, timeline, notes, customfields, jobs, referrals,
// conversations, files), and turns the answer and its errors into protos. Rules live
// in those packages, records in the store; this package has neither.
package server

import (
	"context"
	"errors"
	"io"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/postgres"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/atsprofiles"
	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/conversations"
	"github.com/tandemhq/tandem/services/outreach/internal/files"
	"github.com/tandemhq/tandem/services/outreach/internal/jobs"
	"github.com/tandemhq/tandem/services/outreach/internal/notes"
	"github.com/tandemhq/tandem/services/outreach/internal/referrals"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/timeline"
)

// The domain, as the handlers use it.
type (
	// Candidates keeps the organization's candidates.
	Candidates interface {
		Create(ctx context.Context, caller authz.Principal, in store.Candidate) (store.Candidate, error)
		Get(ctx context.Context, orgID, id string) (store.Candidate, error)
		Update(ctx context.Context, orgID, id string, in store.Candidate, paths []string) (store.Candidate, error)
		Search(ctx context.Context, orgID string, q candidates.Query) (candidates.Page, error)
		Delete(ctx context.Context, orgID, id string) (store.Candidate, error)
		Undelete(ctx context.Context, orgID, id string) (store.Candidate, error)
		Merge(ctx context.Context, caller authz.Principal, survivorID, mergedID string) (store.Candidate, error)
		BatchCreate(ctx context.Context, caller authz.Principal, rows []store.Candidate) ([]candidates.RowResult, error)
	}
	// Stages keeps the organization's stage set and moves candidates
	// between stages.
	Stages interface {
		List(ctx context.Context, orgID string, retired bool) ([]store.Stage, error)
		Create(ctx context.Context, orgID, name string) (store.Stage, error)
		Rename(ctx context.Context, orgID, id, name string, paths []string) (store.Stage, error)
		Reorder(ctx context.Context, orgID string, ids []string) ([]store.Stage, error)
		Retire(ctx context.Context, caller authz.Principal, id, moveTo string) (store.Stage, int, error)
		Move(ctx context.Context, caller authz.Principal, candidateID, stageID, reason string) (store.Candidate, error)
	}
	// Notes keeps notes on candidates.
	Notes interface {
		Create(ctx context.Context, caller authz.Principal, candidateID, body string, private bool) (store.Note, error)
		List(ctx context.Context, caller authz.Principal, candidateID string) ([]store.Note, error)
		Update(ctx context.Context, caller authz.Principal, id string, u notes.Update) (store.Note, error)
		Delete(ctx context.Context, caller authz.Principal, id string) error
	}
	// CustomFields keeps the organization's custom field definitions.
	CustomFields interface {
		Create(ctx context.Context, orgID string, d store.FieldDefinition) (store.FieldDefinition, error)
		List(ctx context.Context, orgID string) ([]store.FieldDefinition, error)
	}
	// Timeline reads candidates' timelines.
	Timeline interface {
		List(ctx context.Context, caller authz.Principal, q timeline.Query) (timeline.Page, error)
	}
	// Jobs keeps the organization's jobs.
	Jobs interface {
		Create(ctx context.Context, caller authz.Principal, in store.Job) (store.Job, error)
		Get(ctx context.Context, caller authz.Principal, id string) (store.Job, error)
		Update(ctx context.Context, caller authz.Principal, id string, in store.Job, paths []string) (store.Job, error)
		List(ctx context.Context, caller authz.Principal, q jobs.Query) (jobs.Page, error)
		Close(ctx context.Context, caller authz.Principal, id string) (store.Job, error)
	}
	// Referrals keeps members' referrals.
	Referrals interface {
		Create(ctx context.Context, caller authz.Principal, in store.Referral) (store.Referral, error)
		Get(ctx context.Context, caller authz.Principal, id string) (store.Referral, error)
		List(ctx context.Context, caller authz.Principal, q referrals.Query) (referrals.Page, error)
	}
	// Conversations keeps the messages exchanged with candidates.
	Conversations interface {
		List(ctx context.Context, orgID string, q conversations.Query) (conversations.ConversationsPage, error)
		Get(ctx context.Context, orgID string, q conversations.Query) (conversations.Thread, error)
		Record(ctx context.Context, r store.MessageRecord, idempotencyKey string) (conversations.Recorded, error)
	}
	// ATSProfiles keeps candidates' records in the ATS and what atsbridge
	// reads of a candidate it pushes.
	ATSProfiles interface {
		List(ctx context.Context, orgID, candidateID string) ([]store.ATSProfile, error)
		ForSync(ctx context.Context, orgID, candidateID, jobID string) (atsprofiles.ForSync, error)
	}
	// Files keeps files on candidates.
	Files interface {
		Upload(ctx context.Context, caller authz.Principal, u files.Upload, content io.Reader) (store.File, error)
		List(ctx context.Context, caller authz.Principal, q files.Query) (files.Page, error)
		Get(ctx context.Context, caller authz.Principal, candidateID, id string) (store.File, error)
		Open(ctx context.Context, caller authz.Principal, candidateID, id string) (store.File, io.ReadCloser, error)
		Delete(ctx context.Context, caller authz.Principal, candidateID, id string) error
	}
)

// Domain is every domain package the handlers call.
type Domain struct {
	Candidates Candidates
	Stages     Stages
	Timeline   Timeline
	Notes      Notes
	// CustomFields is the organization's custom field definitions.
	CustomFields  CustomFields
	Jobs          Jobs
	Referrals     Referrals
	Conversations Conversations
	// Files is the candidates' resumes and other files.
	Files Files
	// Flows is the organization's flows, enrollments and their figures.
	Flows Flows
	// Emails is recruiters' one-off e-mails to candidates.
	Emails Emails
	// ATSProfiles is the candidates' records in the ATS.
	ATSProfiles ATSProfiles
}

// Server implements outreachv1.OutreachServiceServer.
type Server struct {
	outreachv1.UnimplementedOutreachServiceServer
	d Domain
}

// New returns the handler over the domain.
func New(d Domain) *Server { return &Server{d: d} }

// mapErr names what was not found; apperr errors and anything else pass
// (the server's error mapping masks what is not an apperr).
func mapErr(err error, what string) error {
	if errors.Is(err, postgres.ErrNotFound) {
		return apperr.NotFound(what)
	}
	return err
}
