package flows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	outreachv1 "github.com/tandemhq/tandem/proto/gen/go/tandem/outreach/v1"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Outcome is what became of one candidate of an enrollment request.
type Outcome int

// Outcomes of Enroll.
const (
	Enrolled Outcome = iota + 1
	AlreadyEnrolled
	InAnotherFlow
	NoEmail
	UndeliverableAddress
	CandidateNotFound
)

// EnrollResult is one candidate's outcome.
type EnrollResult struct {
	CandidateID  string
	Outcome      Outcome
	EnrollmentID string
	OtherFlowID  string
}

// Enroll enrolls candidates in a flow, each on the flow's current
// version, in one transaction with each row behind a savepoint: one
// candidate's refusal leaves the others enrolled. The first step of each
// is scheduled when the flow is active or paused (a Draft schedules on
// activation), and `enrollment.created` goes out with it.
func (f *Flows) Enroll(ctx context.Context, caller authz.Principal, flowID string, candidateIDs []string) ([]EnrollResult, error) {
	if len(candidateIDs) == 0 || len(candidateIDs) > MaxEnrollBatch {
		return nil, apperr.InvalidArgument("candidate_ids", fmt.Sprintf("must name 1 to %d candidates", MaxEnrollBatch))
	}
	for i, id := range candidateIDs {
		if id == "" {
			return nil, apperr.InvalidArgument(fmt.Sprintf("candidate_ids[%d]", i), "is required")
		}
	}
	var out []EnrollResult
	err := f.store.InTx(ctx, func(tx pgx.Tx) error {
		out = make([]EnrollResult, len(candidateIDs))
		// The flow's lock orders enrollments with edits and status changes.
		fl, err := store.FlowTx(ctx, tx, caller.OrgID, flowID, "FOR UPDATE")
		if err != nil {
			return notFound(err, "flow")
		}
		if err := mayChange(caller, fl); err != nil {
			return err
		}
		if fl.Status != store.FlowDraft && fl.Status != store.FlowActive && fl.Status != store.FlowPaused {
			return apperr.FailedPrecondition("flow_status", fmt.Sprintf("candidates cannot join a %s flow", fl.Status))
		}
		now := f.now()
		var first *time.Time
		if fl.Status != store.FlowDraft {
			at, err := f.firstSend(fl.Current, now)
			if err != nil {
				return err
			}
			first = &at
		}
		var jobs []river.InsertManyParams
		for i, cid := range candidateIDs {
			r, job, err := f.enrollOne(ctx, tx, caller, fl, cid, first)
			if err != nil {
				return err
			}
			out[i] = r
			if job != nil {
				jobs = append(jobs, *job)
			}
		}
		return f.insertJobs(ctx, tx, jobs)
	})
	return out, err
}

func (f *Flows) enrollOne(ctx context.Context, tx pgx.Tx, caller authz.Principal, fl store.Flow, candidateID string, first *time.Time) (EnrollResult, *river.InsertManyParams, error) {
	r := EnrollResult{CandidateID: candidateID}
	c, err := store.CandidateTx(ctx, tx, caller.OrgID, candidateID)
	switch {
	case errors.Is(err, postgres.ErrNotFound) || (err == nil && !c.Live()):
		r.Outcome = CandidateNotFound
		return r, nil, nil
	case err != nil:
		return r, nil, err
	}
	r.CandidateID = c.ID // a merged id enrolls its survivor
	if len(c.Emails) == 0 {
		r.Outcome = NoEmail
		return r, nil, nil
	}
	bad, err := store.Undeliverable(ctx, tx, caller.OrgID, c.Emails)
	if err != nil {
		return r, nil, err
	}
	to := deliverable(c, "", bad)
	if to == "" {
		r.Outcome = UndeliverableAddress
		return r, nil, nil
	}
	var job *river.InsertManyParams
	err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		in := store.Enrollment{OrgID: caller.OrgID, FlowID: fl.ID, CandidateID: c.ID, FlowVersion: fl.Current.Version,
			NextSendAt: first, ToAddress: to, CreatedBy: caller.UserID}
		if first != nil {
			in.ScheduleSeq = 1
		}
		e, err := store.InsertEnrollment(ctx, sp, in)
		if err != nil {
			return err
		}
		r.Outcome, r.EnrollmentID = Enrolled, e.ID
		if first != nil {
			j := f.stepJob(e, *first)
			job = &j
		}
		_, err = f.pub.Publish(ctx, sp, events.Event{
			Type: EventEnrollmentCreated, OrganizationID: e.OrgID, AggregateID: e.ID, Version: 1, OccurredAt: e.CreatedAt,
			Payload: &outreachv1.EnrollmentCreated{EnrollmentId: e.ID, FlowId: fl.ID, CandidateId: c.ID, FlowVersion: int32(e.FlowVersion),
				JobId: fl.Current.JobID, OwnerUserId: fl.OwnerUserID, SenderUserId: fl.Current.SenderUserID, ActorUserId: caller.UserID},
		})
		return err
	})
	var other *store.InAnotherFlowError
	switch {
	case errors.Is(err, store.ErrAlreadyEnrolled):
		r.Outcome = AlreadyEnrolled
		if r.EnrollmentID, err = existingEnrollment(ctx, tx, fl.ID, c.ID); err != nil {
			return r, nil, err
		}
		return r, nil, nil
	case errors.As(err, &other):
		r.Outcome, r.OtherFlowID = InAnotherFlow, other.FlowID
		return r, nil, nil
	case err != nil:
		return r, nil, err
	}
	return r, job, nil
}

func existingEnrollment(ctx context.Context, tx pgx.Tx, flowID, candidateID string) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `SELECT id::text FROM enrollments WHERE flow_id = $1 AND candidate_id = $2`, flowID, candidateID).Scan(&id)
	return id, postgres.MapError(err)
}

// GetEnrollment returns an enrollment of the organization.
func (f *Flows) GetEnrollment(ctx context.Context, orgID, id string) (store.Enrollment, error) {
	e, err := f.store.Enrollment(ctx, orgID, id)
	return e, notFound(err, "enrollment")
}

// ListEnrollments returns a page of a flow's enrollments.
func (f *Flows) ListEnrollments(ctx context.Context, orgID, flowID string, pageSize int, pageToken string) ([]store.Enrollment, string, error) {
	limit, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	if _, err := f.Get(ctx, orgID, flowID); err != nil {
		return nil, "", err
	}
	var after string
	if pageToken != "" {
		if after, err = paging.Decode[string](pageToken); err != nil {
			return nil, "", err
		}
	}
	out, err := f.store.ListEnrollments(ctx, orgID, flowID, after, limit+1)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil, "", paging.ErrBadToken
	}
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		if next, err = paging.Encode(out[len(out)-1].ID); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// changeEnrollment runs change on an enrollment under its lock (and its
// flow's, taken first as everywhere), after the caller's right is checked.
func (f *Flows) changeEnrollment(ctx context.Context, caller authz.Principal, id string,
	change func(tx pgx.Tx, fl store.Flow, e *store.Enrollment) error) (store.Enrollment, error) {
	var out store.Enrollment
	err := f.store.InTx(ctx, func(tx pgx.Tx) error {
		e, err := store.EnrollmentTx(ctx, tx, caller.OrgID, id, "")
		if err != nil {
			return notFound(err, "enrollment")
		}
		fl, err := store.FlowTx(ctx, tx, caller.OrgID, e.FlowID, "FOR UPDATE")
		if err != nil {
			return err
		}
		if err := mayChange(caller, fl); err != nil {
			return err
		}
		if e, err = store.EnrollmentTx(ctx, tx, caller.OrgID, id, "FOR UPDATE"); err != nil {
			return err
		}
		if err := change(tx, fl, &e); err != nil {
			return err
		}
		out, err = store.WriteEnrollment(ctx, tx, e)
		return err
	})
	return out, err
}

var errStopped = apperr.FailedPrecondition("enrollment_stopped", "the enrollment has stopped")

// Remove stops an enrollment for good.
func (f *Flows) Remove(ctx context.Context, caller authz.Principal, id string) (store.Enrollment, error) {
	var flowID string
	e, err := f.changeEnrollment(ctx, caller, id, func(tx pgx.Tx, fl store.Flow, e *store.Enrollment) error {
		if !e.Running() {
			return errStopped
		}
		flowID = fl.ID
		e.Stop(store.StopRemoved, f.now())
		return f.cancelSubmitted(ctx, tx, e)
	})
	if err != nil {
		return e, err
	}
	// The flow completes when this was its last running enrollment.
	err = f.store.InTx(ctx, func(tx pgx.Tx) error {
		_, err := store.CompleteIfDone(ctx, tx, flowID)
		return err
	})
	return e, err
}

// PauseEnrollment holds one enrollment.
func (f *Flows) PauseEnrollment(ctx context.Context, caller authz.Principal, id string) (store.Enrollment, error) {
	return f.changeEnrollment(ctx, caller, id, func(_ pgx.Tx, _ store.Flow, e *store.Enrollment) error {
		switch e.Status {
		case store.EnrollmentStopped:
			return errStopped
		case store.EnrollmentPaused:
			return nil
		}
		e.Status = store.EnrollmentPaused
		return nil
	})
}

// ResumeEnrollment restarts a held enrollment: a step that fell due goes
// out at the window's next opening from now.
func (f *Flows) ResumeEnrollment(ctx context.Context, caller authz.Principal, id string) (store.Enrollment, error) {
	return f.changeEnrollment(ctx, caller, id, func(tx pgx.Tx, fl store.Flow, e *store.Enrollment) error {
		switch e.Status {
		case store.EnrollmentStopped:
			return errStopped
		case store.EnrollmentActive:
			return nil
		}
		e.Status = store.EnrollmentActive
		now := f.now()
		if e.NextSendAt == nil || e.NextSendAt.After(now) {
			return nil // its job is waiting, or mailbox has the step, or the flow is a draft
		}
		v, err := store.FlowAt(ctx, tx, fl.OrgID, fl.ID, e.FlowVersion)
		if err != nil {
			return err
		}
		cal, err := f.calendar(v.Current)
		if err != nil {
			return err
		}
		at, err := cal.Fit(now)
		if err != nil {
			return err
		}
		job, err := f.reschedule(ctx, tx, e, at)
		if err != nil {
			return err
		}
		return f.insertJobs(ctx, tx, []river.InsertManyParams{job})
	})
}
