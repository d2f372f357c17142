// Package flows holds the rules of flows: sequences of e-mail steps a
// recruiter writes once and Tandem sends to each enrolled candidate on
// schedule, from the sender's mailbox, until the candidate answers.
//
// A flow is Draft (nothing sent), Active, Paused (nothing sent), Completed
// or Archived. Editing an Active or Paused flow makes a new version;
// enrollments keep the version they started on. Each due step is a River
// job (StepArgs) inserted in the transaction that decides its time; the
// job re-checks everything just before it hands the message to mailbox
// with an idempotency key of enrollment, step and version, so a retry
// never sends twice. mailbox's `message.sent` records the send and
// schedules the next step from the actual send time; `message.received`
// stops the enrollment on a reply or a bounce.
package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/apperr"
	"github.com/tandemhq/tandem/platform/authz"
	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/paging"
	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/schedule"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
	"github.com/tandemhq/tandem/services/outreach/internal/templates"
)

// Store is what the package needs of the store beyond the transactional
// steps it runs in InTx.
type Store interface {
	InTx(ctx context.Context, fn func(pgx.Tx) error) error
	CreateFlow(ctx context.Context, f store.Flow) (store.Flow, error)
	Flow(ctx context.Context, orgID, id string) (store.Flow, error)
	FlowVersion(ctx context.Context, orgID, id string, version int) (store.Flow, error)
	ListFlows(ctx context.Context, orgID, status string, after *store.FlowCursor, limit int) ([]store.Flow, error)
	Enrollment(ctx context.Context, orgID, id string) (store.Enrollment, error)
	StepChecks(ctx context.Context, keys []store.StepKey) (map[string]store.StepCheck, error)
	RecordSubmittedMany(ctx context.Context, subs []store.Submission) ([]bool, error)
	ListEnrollments(ctx context.Context, orgID, flowID, afterID string, limit int) ([]store.Enrollment, error)
	FlowStats(ctx context.Context, orgID, flowID string) ([]store.StepStats, error)
	FieldDefinitions(ctx context.Context, orgID string) ([]store.FieldDefinition, error)
	Candidate(ctx context.Context, orgID, id string) (store.Candidate, error)
	HasDelegation(ctx context.Context, orgID, grantor, grantee string) (bool, error)
	GrantDelegation(ctx context.Context, orgID, grantor, grantee string) (store.Delegation, error)
	RevokeDelegation(ctx context.Context, orgID, grantor, grantee string) error
	Delegations(ctx context.Context, orgID, userID string, after *store.DelegationCursor, limit int) ([]store.Delegation, error)
}

// Publisher publishes an event in the caller's transaction
// (events.Publisher).
type Publisher interface {
	Publish(ctx context.Context, tx pgx.Tx, ev events.Event) (string, error)
}

// Jobs inserts River jobs in the caller's transaction (the River client).
type Jobs interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Directory gives templates the fields of a job and of the organization,
// which other parts own. Either may answer an empty map.
type Directory interface {
	Job(ctx context.Context, orgID, jobID string) (map[string]string, error)
	Organization(ctx context.Context, orgID string) (map[string]string, error)
}

// JobLinks says whether a flow of the organization may be linked to a
// job; an error is the refusal.
type JobLinks interface {
	CheckJobLink(ctx context.Context, orgID, jobID string) error
}

// noDirectory knows nothing: job and organization fields render empty
// (a template's default filter fills them) until one is wired.
type noDirectory struct{}

func (noDirectory) Job(context.Context, string, string) (map[string]string, error) {
	return map[string]string{}, nil
}

func (noDirectory) Organization(context.Context, string) (map[string]string, error) {
	return map[string]string{}, nil
}

// EventEnrollmentCreated is published when a candidate is enrolled.
const EventEnrollmentCreated = "enrollment.created"

// ResumeStagger spaces out the steps that fell due while a flow or an
// enrollment was paused: mailbox enforces the limits (30 a minute), and a
// queue built at that pace leaves none waiting behind a burst.
const ResumeStagger = 2 * time.Second

// Options are the package's collaborators.
type Options struct {
	Store     Store
	Publisher Publisher
	// StagePublish publishes the automatic stage moves (stages.PublishMove).
	StagePublish store.Publish
	Mailbox      Mailbox
	Directory    Directory
	// JobLinks checks a job a flow is linked to (atsjobs: an ATS's job
	// needs a published posting and a saved stage mapping); nil checks
	// nothing.
	JobLinks JobLinks
	Logger   *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Flows runs the rules.
type Flows struct {
	store     Store
	pub       Publisher
	stagePub  store.Publish
	jobs      Jobs
	mailbox   Mailbox
	dir       Directory
	jobLinks  JobLinks
	templates *templates.Engine
	log       *slog.Logger
	now       func() time.Time
	// locations caches loaded time zones by name.
	locations sync.Map
	// checks and records are the step path's statements, each shared by
	// the steps at that point at the same moment (RunStep).
	checks  *batcher[store.StepKey, *stepState]
	records *batcher[store.Submission, bool]
}

// New returns the rules. SetJobs must be called before anything is
// scheduled: the River client is built after its workers, one of which
// runs these rules.
func New(o Options) *Flows {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Directory == nil {
		o.Directory = noDirectory{}
	}
	f := &Flows{store: o.Store, pub: o.Publisher, stagePub: o.StagePublish, mailbox: o.Mailbox, dir: o.Directory, jobLinks: o.JobLinks,
		templates: templates.New(), log: o.Logger, now: o.Now}
	f.checks = newBatcher(maxStepBatch, f.checkBatch)
	f.records = newBatcher(maxStepBatch, f.store.RecordSubmittedMany)
	return f
}

// SetJobs gives the rules the River client that inserts step jobs.
func (f *Flows) SetJobs(j Jobs) { f.jobs = j }

// mayChange reports whether the caller may change the flow: its owner, or
// an Admin and above (DESIGN §4).
func mayChange(caller authz.Principal, fl store.Flow) error {
	if caller.Role.AtLeast(authz.RoleAdmin) || (caller.UserID != "" && caller.UserID == fl.OwnerUserID) {
		return nil
	}
	return apperr.PermissionDenied("only the flow's owner or an admin may change it")
}

// Create stores a Draft flow owned by the caller.
func (f *Flows) Create(ctx context.Context, caller authz.Principal, in Input) (store.Flow, error) {
	fl := store.Flow{OrgID: caller.OrgID, OwnerUserID: caller.UserID}
	fl, err := f.apply(ctx, caller.OrgID, fl.OwnerUserID, fl, in, allPaths)
	if err != nil {
		return store.Flow{}, err
	}
	return f.store.CreateFlow(ctx, fl)
}

// Get returns a flow at its current version.
func (f *Flows) Get(ctx context.Context, orgID, id string) (store.Flow, error) {
	fl, err := f.store.Flow(ctx, orgID, id)
	return fl, notFound(err, "flow")
}

// Version returns a flow at one of its versions.
func (f *Flows) Version(ctx context.Context, orgID, id string, version int) (store.Flow, error) {
	if version < 1 {
		return store.Flow{}, apperr.InvalidArgument("version", "must be 1 or more")
	}
	fl, err := f.store.FlowVersion(ctx, orgID, id, version)
	return fl, notFound(err, "flow version")
}

// Update changes the fields named by paths: in place for a Draft, as a new
// version for an Active or Paused flow.
func (f *Flows) Update(ctx context.Context, caller authz.Principal, id string, in Input, paths []string) (store.Flow, error) {
	if len(paths) == 0 {
		return store.Flow{}, apperr.InvalidArgument("update_mask", "name at least one field")
	}
	for _, p := range paths {
		if !allPaths[p] {
			return store.Flow{}, apperr.InvalidArgument("update_mask", fmt.Sprintf("%q cannot be changed", p))
		}
	}
	mask := map[string]bool{}
	for _, p := range paths {
		mask[p] = true
	}
	cur, err := f.Get(ctx, caller.OrgID, id)
	if err != nil {
		return store.Flow{}, err
	}
	if err := mayChange(caller, cur); err != nil {
		return store.Flow{}, err
	}
	// Checked outside the transaction (templates, delegations), then
	// written under the flow's lock against the flow as it is then.
	next, err := f.apply(ctx, caller.OrgID, cur.OwnerUserID, cur, in, mask)
	if err != nil {
		return store.Flow{}, err
	}
	var out store.Flow
	err = f.store.InTx(ctx, func(tx pgx.Tx) error {
		locked, err := store.FlowTx(ctx, tx, caller.OrgID, id, "FOR UPDATE")
		if err != nil {
			return notFound(err, "flow")
		}
		if locked.Status == store.FlowCompleted || locked.Status == store.FlowArchived {
			return apperr.FailedPrecondition("flow_closed", "a completed or archived flow cannot be edited")
		}
		if locked.Current.Version != cur.Current.Version {
			return apperr.FailedPrecondition("flow_changed", "the flow changed meanwhile: read it again")
		}
		out, err = store.WriteFlow(ctx, tx, locked, next)
		return err
	})
	return out, err
}

// List returns a page of the organization's flows.
func (f *Flows) List(ctx context.Context, orgID, status string, pageSize int, pageToken string) ([]store.Flow, string, error) {
	limit, err := pageLimit(pageSize)
	if err != nil {
		return nil, "", err
	}
	var after *store.FlowCursor
	if pageToken != "" {
		c, err := paging.Decode[store.FlowCursor](pageToken)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}
	out, err := f.store.ListFlows(ctx, orgID, status, after, limit+1)
	if errors.Is(err, postgres.ErrNotFound) {
		return nil, "", paging.ErrBadToken
	}
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		if next, err = paging.Encode(store.FlowCursor{CreatedAt: last.CreatedAt, ID: last.ID}); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// transition runs change on the flow under its lock, after the caller's
// right and the status's are checked.
func (f *Flows) transition(ctx context.Context, caller authz.Principal, id string, from []string, to string,
	change func(tx pgx.Tx, fl store.Flow) error) (store.Flow, error) {
	var out store.Flow
	err := f.store.InTx(ctx, func(tx pgx.Tx) error {
		fl, err := store.FlowTx(ctx, tx, caller.OrgID, id, "FOR UPDATE")
		if err != nil {
			return notFound(err, "flow")
		}
		if err := mayChange(caller, fl); err != nil {
			return err
		}
		ok := false
		for _, s := range from {
			ok = ok || fl.Status == s
		}
		if !ok {
			return apperr.FailedPrecondition("flow_status", fmt.Sprintf("a %s flow cannot become %s", fl.Status, to))
		}
		if change != nil {
			if err := change(tx, fl); err != nil {
				return err
			}
		}
		out, err = store.SetFlowStatus(ctx, tx, fl, to)
		return err
	})
	return out, err
}

// Activate starts a Draft flow: the first steps of its enrollments are
// scheduled.
func (f *Flows) Activate(ctx context.Context, caller authz.Principal, id string) (store.Flow, error) {
	return f.transition(ctx, caller, id, []string{store.FlowDraft}, store.FlowActive, func(tx pgx.Tx, fl store.Flow) error {
		pending, err := store.PendingEnrollments(ctx, tx, fl.ID, false, time.Time{})
		if err != nil {
			return err
		}
		now := f.now()
		var jobs []river.InsertManyParams
		for _, e := range pending {
			// A Draft has one version, the one its enrollments are on.
			at, err := f.firstSend(fl.Current, now)
			if err != nil {
				return err
			}
			job, err := f.reschedule(ctx, tx, &e, at)
			if err != nil {
				return err
			}
			jobs = append(jobs, job)
		}
		return f.insertJobs(ctx, tx, jobs)
	})
}

// Pause holds an Active flow: its step jobs find it paused and send
// nothing.
func (f *Flows) Pause(ctx context.Context, caller authz.Principal, id string) (store.Flow, error) {
	return f.transition(ctx, caller, id, []string{store.FlowActive}, store.FlowPaused, nil)
}

// Resume restarts a Paused flow: steps that fell due meanwhile are
// scheduled again from now, in the window, ResumeStagger apart.
func (f *Flows) Resume(ctx context.Context, caller authz.Principal, id string) (store.Flow, error) {
	return f.transition(ctx, caller, id, []string{store.FlowPaused}, store.FlowActive, func(tx pgx.Tx, fl store.Flow) error {
		now := f.now()
		due, err := store.PendingEnrollments(ctx, tx, fl.ID, true, now)
		if err != nil {
			return err
		}
		return f.restagger(ctx, tx, fl, due, now)
	})
}

// restagger schedules due enrollments again from now, spread out.
func (f *Flows) restagger(ctx context.Context, tx pgx.Tx, fl store.Flow, due []store.Enrollment, now time.Time) error {
	versions := map[int]store.FlowVersion{}
	var jobs []river.InsertManyParams
	for i, e := range due {
		v, ok := versions[e.FlowVersion]
		if !ok {
			at, err := store.FlowAt(ctx, tx, fl.OrgID, fl.ID, e.FlowVersion)
			if err != nil {
				return err
			}
			v, versions[e.FlowVersion] = at.Current, at.Current
		}
		cal, err := f.calendar(v)
		if err != nil {
			return err
		}
		at, err := cal.Fit(now.Add(time.Duration(i) * ResumeStagger))
		if err != nil {
			return err
		}
		job, err := f.reschedule(ctx, tx, &e, at)
		if err != nil {
			return err
		}
		jobs = append(jobs, job)
	}
	return f.insertJobs(ctx, tx, jobs)
}

// Complete ends an Active or Paused flow by hand, stopping every
// enrollment; confirm must be true.
func (f *Flows) Complete(ctx context.Context, caller authz.Principal, id string, confirm bool) (store.Flow, error) {
	if !confirm {
		return store.Flow{}, apperr.InvalidArgument("confirm", "must be true: completing stops every enrollment of the flow for good")
	}
	return f.transition(ctx, caller, id, []string{store.FlowActive, store.FlowPaused}, store.FlowCompleted, func(tx pgx.Tx, fl store.Flow) error {
		_, err := store.StopRunning(ctx, tx, fl.ID, store.StopFlowCompleted)
		return err
	})
}

// Archive files away a Draft or Completed flow.
func (f *Flows) Archive(ctx context.Context, caller authz.Principal, id string) (store.Flow, error) {
	return f.transition(ctx, caller, id, []string{store.FlowDraft, store.FlowCompleted}, store.FlowArchived, nil)
}

// firstSend is when a new enrollment's first step may leave.
func (f *Flows) firstSend(v store.FlowVersion, now time.Time) (time.Time, error) {
	cal, err := f.calendar(v)
	if err != nil {
		return time.Time{}, err
	}
	return cal.Next(now, delayOf(v.Steps[0]))
}

// reschedule gives e's next step the send time at, with a new schedule
// number (so an older job for it does nothing), and returns its job.
func (f *Flows) reschedule(ctx context.Context, tx pgx.Tx, e *store.Enrollment, at time.Time) (river.InsertManyParams, error) {
	e.ScheduleSeq++
	e.NextSendAt = &at
	written, err := store.WriteEnrollment(ctx, tx, *e)
	if err != nil {
		return river.InsertManyParams{}, err
	}
	*e = written
	return f.stepJob(*e, at), nil
}

func (f *Flows) insertJobs(ctx context.Context, tx pgx.Tx, jobs []river.InsertManyParams) error {
	if len(jobs) == 0 {
		return nil
	}
	if f.jobs == nil {
		return errors.New("flows: no job client")
	}
	if _, err := f.jobs.InsertManyTx(ctx, tx, jobs); err != nil {
		return fmt.Errorf("insert step jobs: %w", err)
	}
	return nil
}

// location loads a time zone once: every step job needs its flow's, and
// loading parses the zone's file each time.
func (f *Flows) location(name string) (*time.Location, error) {
	if loc, ok := f.locations.Load(name); ok {
		return loc.(*time.Location), nil //nolint:forcetypeassert // only *time.Location is stored
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	f.locations.Store(name, loc)
	return loc, nil
}

// calendar is the sending rules of a version.
func (f *Flows) calendar(v store.FlowVersion) (schedule.Calendar, error) {
	loc, err := f.location(v.TimeZone)
	if err != nil {
		return schedule.Calendar{}, fmt.Errorf("flow time zone %q: %w", v.TimeZone, err)
	}
	w := schedule.Window{Start: v.WindowStart, End: v.WindowEnd}
	for _, d := range v.WindowDays {
		w.Days[time.Weekday(d%7)] = true
	}
	holidays := map[schedule.Date]bool{}
	for _, h := range v.Holidays {
		d, err := schedule.ParseDate(h)
		if err != nil {
			return schedule.Calendar{}, err
		}
		holidays[d] = true
	}
	return schedule.Calendar{Loc: loc, Window: w, Holidays: holidays}, nil
}

var delayUnits = map[string]schedule.Unit{"hours": schedule.Hours, "days": schedule.Days, "business_days": schedule.BusinessDays}

func delayOf(s store.FlowStep) schedule.Delay {
	return schedule.Delay{Unit: delayUnits[s.DelayUnit], Count: s.Delay}
}

func notFound(err error, what string) error {
	if errors.Is(err, postgres.ErrNotFound) {
		return apperr.NotFound(what).Wrap(err)
	}
	return err
}
