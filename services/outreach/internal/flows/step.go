package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/postgres"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// Mailbox takes a message to send (mailbox's SubmitMessage): it returns
// once the message is durably queued, and the same key never queues a
// second message.
type Mailbox interface {
	Submit(ctx context.Context, m Message) (Submitted, error)
	// Cancel stops a message that has not left; one that is leaving or
	// left is ErrTooLate.
	Cancel(ctx context.Context, orgID, messageID string) error
}

// Message is one step's e-mail, rendered.
type Message struct {
	OrgID     string
	MailboxID string
	To        string
	ToName    string
	Subject   string
	HTMLBody  string
	// ReplyTo is the provider id of the message this one answers in its
	// thread; empty for a new thread.
	ReplyTo        string
	IdempotencyKey string
	// SendAfter holds the message in mailbox until then (a scheduled
	// one-off e-mail); nil: as soon as the mailbox may send.
	SendAfter *time.Time
}

// Submitted is mailbox's answer.
type Submitted struct {
	MessageID string
}

// Mailbox's refusals, as a Mailbox implementation reports them.
var (
	// ErrRefused is a message mailbox will never take (no such mailbox in
	// the organization, a recipient it refuses): retrying cannot help.
	ErrRefused = errors.New("mailbox refused the message")
	// ErrKeyUsed is a key that made a message already, with other content
	// (the candidate's name changed between two attempts): that message
	// is the step's.
	ErrKeyUsed = errors.New("the idempotency key made a message already")
	// ErrTooLate is a cancel of a message that is leaving or left.
	ErrTooLate = errors.New("the message is leaving or left")
)

// IdempotencyKey is the key of a step of an enrollment on its version; a
// retry, a rescheduled job and a second replica all use the same one.
func IdempotencyKey(enrollmentID string, step, version int) string {
	return fmt.Sprintf("flowstep:%s:%d:v%d", enrollmentID, step, version)
}

// parseKey reads an IdempotencyKey; ok is false for other keys.
func parseKey(key string) (enrollmentID string, step, version int, ok bool) {
	parts := strings.Split(key, ":")
	if len(parts) != 4 || parts[0] != "flowstep" || !strings.HasPrefix(parts[3], "v") {
		return "", 0, 0, false
	}
	step, err1 := strconv.Atoi(parts[2])
	version, err2 := strconv.Atoi(parts[3][1:])
	if err1 != nil || err2 != nil || step < 0 {
		return "", 0, 0, false
	}
	return parts[1], step, version, true
}

// StepKind is the River kind of a step job; QueueSteps its queue.
const (
	StepKind   = "flow_step"
	QueueSteps = "flow_steps"
)

// StepQueue is the step queue's configuration: 50 workers, each mostly
// waiting on mailbox; a 10 ms fetch cooldown (River fetches one batch
// per cooldown; its default 100 ms would cap the queue at 500 steps a
// second, docs/benchmarks.md); and a 100 ms poll, which is how soon a
// step is taken once due (ADR 26: River's scheduler sweeps every 5 s and
// makes a step available up to 5 s before it is due, the poll finds it).
func StepQueue() river.QueueConfig {
	return river.QueueConfig{MaxWorkers: 50, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: StepPoll}
}

// StepPoll is how often a step queue looks for steps that fell due.
const StepPoll = 100 * time.Millisecond

// schedulerLead is River's scheduler interval (5 s, not configurable in
// the version used): a job scheduled for later becomes available at a
// sweep up to this long before its time, so one due sooner than this
// after its insert could wait for the next sweep, past its time. Such a
// step is inserted available and snoozes until it is due (ADR 26).
const schedulerLead = 5 * time.Second

// StepArgs are a step job's: the enrollment, its step and the schedule
// number the job was inserted with, and when it is due if it was
// inserted before (a step due within schedulerLead).
type StepArgs struct {
	OrgID        string    `json:"org_id"`
	EnrollmentID string    `json:"enrollment_id"`
	Step         int       `json:"step"`
	Seq          int       `json:"seq"`
	DueAt        time.Time `json:"due_at,omitzero"`
}

// Kind implements river.JobArgs.
func (StepArgs) Kind() string { return StepKind }

// stepJob is e's next step's job, due at: a step due now (or before) is
// available at once; one due within schedulerLead is available at once
// and snoozes until at; a later one is scheduled for at, and River's
// scheduler makes it available before then.
func (f *Flows) stepJob(e store.Enrollment, at time.Time) river.InsertManyParams {
	args := StepArgs{OrgID: e.OrgID, EnrollmentID: e.ID, Step: e.NextStep, Seq: e.ScheduleSeq}
	opts := &river.InsertOpts{Queue: QueueSteps}
	switch lead := at.Sub(f.now()); {
	case lead <= 0:
	case lead < schedulerLead:
		args.DueAt = at
	default:
		opts.ScheduledAt = at
	}
	return river.InsertManyParams{Args: args, InsertOpts: opts}
}

// StepWorker runs step jobs.
type StepWorker struct {
	river.WorkerDefaults[StepArgs]
	flows *Flows
}

// NewStepWorker returns the worker over the rules.
func NewStepWorker(f *Flows) *StepWorker { return &StepWorker{flows: f} }

// Timeout bounds one attempt: a render and one call to mailbox.
func (*StepWorker) Timeout(*river.Job[StepArgs]) time.Duration { return 30 * time.Second }

// Work sends the step, if it should still go.
func (w *StepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	// A snooze shorter than River's scheduler interval leaves the job
	// available for its new time, so the queue's poll takes it then.
	if early := job.Args.DueAt.Sub(w.flows.now()); early > 0 {
		return river.JobSnooze(early)
	}
	return w.flows.RunStep(ctx, job.Args)
}

// outbound is a step that passed the checks, ready to render and send.
type outbound struct {
	flow      store.Flow // at the enrollment's version
	e         store.Enrollment
	candidate store.Candidate
	to        string
}

// RunStep re-checks a due step and hands it to mailbox: the flow and the
// enrollment are active and this job is the step's latest, the candidate
// neither replied nor bounced and has a deliverable address, and now is
// inside the window (else the step moves to the window's next opening).
func (f *Flows) RunStep(ctx context.Context, a StepArgs) error {
	// Most steps pass their checks and write nothing there: their reads
	// are one statement with those of the other steps being checked at the
	// same moment (f.checks), without a transaction or a lock. One that
	// must stop or move the enrollment, or whose enrollment or candidate
	// the statement did not find, checks again under the enrollment's
	// lock, and writes.
	var ob *outbound
	st, err := f.checks.do(ctx, store.StepKey{OrgID: a.OrgID, EnrollmentID: a.EnrollmentID})
	if err == nil {
		ob, err = f.checkStep(ctx, nil, a, st)
	}
	if errors.Is(err, errNeedsLock) {
		err = f.store.InTx(ctx, func(tx pgx.Tx) error {
			st, err := readStepLocked(ctx, tx, a)
			if err != nil || st == nil {
				return err
			}
			ob, err = f.checkStep(ctx, tx, a, st)
			return err
		})
	}
	if err != nil || ob == nil {
		return err
	}
	msg, err := f.render(ctx, ob.flow, ob.e.NextStep, ob.candidate, ob.to)
	if err != nil {
		return fmt.Errorf("render step %d of enrollment %s: %w", a.Step, a.EnrollmentID, err)
	}
	msg.OrgID, msg.MailboxID, msg.To = a.OrgID, ob.flow.Current.MailboxConnectionID, ob.to
	msg.ToName = ob.candidate.Name
	msg.IdempotencyKey = IdempotencyKey(ob.e.ID, a.Step, ob.e.FlowVersion)
	if step := ob.flow.Current.Steps[a.Step]; a.Step > 0 && !step.NewThread {
		msg.ReplyTo = ob.e.LastProviderMessageID
	}
	sub, err := f.mailbox.Submit(ctx, msg)
	switch {
	case errors.Is(err, ErrKeyUsed):
		f.log.InfoContext(ctx, "step was submitted before", slog.String("enrollment_id", a.EnrollmentID), slog.Int("step", a.Step))
	case errors.Is(err, ErrRefused):
		f.log.WarnContext(ctx, "mailbox refused a step; it is not retried", slog.String("enrollment_id", a.EnrollmentID),
			slog.Int("step", a.Step), slog.Any("error", err))
		return river.JobCancel(err)
	case err != nil:
		return fmt.Errorf("submit step %d of enrollment %s: %w", a.Step, a.EnrollmentID, err)
	}
	// A rescheduled enrollment, or a step recorded already (a retry after
	// this write), is left as it is. The write is one statement with those
	// of the other steps handed over at the same moment (f.records).
	wrote, err := f.records.do(ctx, store.Submission{OrgID: a.OrgID, EnrollmentID: a.EnrollmentID, Seq: a.Seq, Step: a.Step,
		MessageID: sub.MessageID, To: ob.to})
	if err != nil {
		return fmt.Errorf("record step %d of enrollment %s: %w", a.Step, a.EnrollmentID, err)
	}
	if !wrote {
		return f.cancelIfStopped(ctx, a, sub.MessageID)
	}
	f.log.DebugContext(ctx, "step handed to mailbox", slog.String("enrollment_id", a.EnrollmentID), slog.Int("step", a.Step), slog.String("message_id", sub.MessageID))
	return nil
}

// cancelIfStopped is a step mailbox took that could not be recorded. A
// retry of a step recorded already, or a rescheduled enrollment, is left
// as it is; but an enrollment that stopped (a reply, a bounce, a removal)
// or went between the check and the record found nothing to cancel when
// it stopped, so the message it took is cancelled here.
func (f *Flows) cancelIfStopped(ctx context.Context, a StepArgs, messageID string) error {
	if messageID == "" {
		return nil
	}
	return f.store.InTx(ctx, func(tx pgx.Tx) error {
		e, err := store.EnrollmentTx(ctx, tx, a.OrgID, a.EnrollmentID, "FOR UPDATE")
		switch {
		case errors.Is(err, postgres.ErrNotFound):
		case err != nil:
			return err
		case e.Status != store.EnrollmentStopped || e.SubmittedMessageID == messageID:
			return nil
		}
		f.log.InfoContext(ctx, "the enrollment stopped while its step was handed over; the step is cancelled",
			slog.String("enrollment_id", a.EnrollmentID), slog.Int("step", a.Step), slog.String("message_id", messageID))
		return f.insertJobs(ctx, tx, []river.InsertManyParams{{Args: CancelArgs{OrgID: a.OrgID, MessageID: messageID}, InsertOpts: &river.InsertOpts{Queue: QueueSteps}}})
	})
}

// maxStepBatch bounds the steps of one check or record statement; the
// step queue's workers (StepQueue) are fewer.
const maxStepBatch = 100

// checkBatch reads the checks of several steps' enrollments in one
// statement (store.StepChecks); a nil state is one it did not find.
func (f *Flows) checkBatch(ctx context.Context, keys []store.StepKey) ([]*stepState, error) {
	found, err := f.store.StepChecks(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]*stepState, len(keys))
	for i, k := range keys {
		if sc, ok := found[k.EnrollmentID]; ok && sc.Enrollment.OrgID == k.OrgID {
			out[i] = &stepState{StepCheck: sc, candidateFound: true}
		}
	}
	return out, nil
}

// stepState is what a step's check reads; locked is a read under the
// enrollment's row lock, in the transaction that may write.
type stepState struct {
	store.StepCheck
	candidateFound bool
	locked         bool
}

// readStepLocked reads a step's check in tx, the enrollment locked
// first; nil when the enrollment is not there.
func readStepLocked(ctx context.Context, tx pgx.Tx, a StepArgs) (*stepState, error) {
	e, err := store.EnrollmentTx(ctx, tx, a.OrgID, a.EnrollmentID, "FOR UPDATE")
	if errors.Is(err, postgres.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	st := &stepState{StepCheck: store.StepCheck{Enrollment: e}, locked: true}
	if stale(e, a) {
		return st, nil // checkStep reads no further
	}
	if st.Flow, err = store.FlowAt(ctx, tx, a.OrgID, e.FlowID, e.FlowVersion); err != nil {
		return nil, err
	}
	c, err := store.CandidateTx(ctx, tx, a.OrgID, e.CandidateID)
	if errors.Is(err, postgres.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	st.Candidate, st.candidateFound = c, true
	if st.Undeliverable, err = store.Undeliverable(ctx, tx, a.OrgID, c.Emails); err != nil {
		return nil, err
	}
	return st, nil
}

// stale is a job that is not the one that matters for e: a superseded
// job, a step sent already, or a held enrollment (resuming makes a job).
func stale(e store.Enrollment, a StepArgs) bool {
	return e.ScheduleSeq != a.Seq || e.NextStep != a.Step || e.SubmittedStep >= a.Step || e.StepsSent > a.Step || e.Status != store.EnrollmentActive
}

// errNeedsLock is a check that must write: it is run again locked.
var errNeedsLock = errors.New("the step's check must write under the enrollment's lock")

// checkStep returns the step to send, or nil when there is nothing to
// send now (rescheduling or stopping the enrollment as needed, which
// only a locked check does, in tx: an unlocked one, or one whose state
// was not found, returns errNeedsLock instead).
func (f *Flows) checkStep(ctx context.Context, tx pgx.Tx, a StepArgs, st *stepState) (*outbound, error) {
	if st == nil {
		return nil, errNeedsLock // not found unlocked: a locked read tells
	}
	e, fl, locked := st.Enrollment, st.Flow, st.locked
	if stale(e, a) {
		return nil, nil
	}
	if fl.Status != store.FlowActive {
		return nil, nil // resuming the flow schedules it again
	}
	if a.Step >= len(fl.Current.Steps) {
		return nil, fmt.Errorf("enrollment %s: step %d of a version with %d", e.ID, a.Step, len(fl.Current.Steps))
	}
	now := f.now()
	if !locked && (e.RepliedAt != nil || e.BouncedAt != nil) {
		return nil, errNeedsLock
	}
	if e.RepliedAt != nil || e.BouncedAt != nil {
		reason := store.StopReplied
		if e.RepliedAt == nil {
			reason = store.StopBounced
		}
		return nil, f.stop(ctx, tx, e, reason, now)
	}
	c := st.Candidate
	if !st.candidateFound || !c.Live() {
		if !locked {
			return nil, errNeedsLock
		}
		return nil, f.stop(ctx, tx, e, store.StopRemoved, now)
	}
	to := deliverable(c, e.ToAddress, st.Undeliverable)
	if to == "" {
		if !locked {
			return nil, errNeedsLock
		}
		return nil, f.stop(ctx, tx, e, store.StopUndeliverable, now)
	}
	cal, err := f.calendar(fl.Current)
	if err != nil {
		return nil, err
	}
	if !cal.Inside(now) {
		if !locked {
			return nil, errNeedsLock
		}
		at, err := cal.Fit(now)
		if err != nil {
			return nil, err
		}
		job, err := f.reschedule(ctx, tx, &e, at)
		if err != nil {
			return nil, err
		}
		return nil, f.insertJobs(ctx, tx, []river.InsertManyParams{job})
	}
	return &outbound{flow: fl, e: e, candidate: c, to: to}, nil
}

// stop stops e for reason, cancels a step still queued in mailbox, and
// completes its flow if it was the last running enrollment.
func (f *Flows) stop(ctx context.Context, tx pgx.Tx, e store.Enrollment, reason string, now time.Time) error {
	e.Stop(reason, now)
	if err := f.cancelSubmitted(ctx, tx, &e); err != nil {
		return err
	}
	if _, err := store.WriteEnrollment(ctx, tx, e); err != nil {
		return err
	}
	_, err := store.CompleteIfDone(ctx, tx, e.FlowID)
	return err
}

// deliverable picks the address to write to: the one used before while
// it stays the candidate's and deliverable, else the first deliverable
// one; "" when none is. bad are the candidate's undeliverable addresses
// (store.Undeliverable).
func deliverable(c store.Candidate, prefer string, bad map[string]bool) string {
	first := ""
	for _, a := range c.Emails {
		if bad[a] {
			continue
		}
		if strings.EqualFold(a, prefer) {
			return a
		}
		if first == "" {
			first = a
		}
	}
	return first
}

// CancelKind is the River kind of a job that cancels a step queued in
// mailbox (a reply or a removal came first).
const CancelKind = "flow_step_cancel"

// CancelArgs name the mailbox message to cancel.
type CancelArgs struct {
	OrgID     string `json:"org_id"`
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs.
func (CancelArgs) Kind() string { return CancelKind }

// cancelSubmitted enqueues, in tx, the cancel of e's step that is with
// mailbox and not known to be sent; the call to mailbox happens in the
// job, outside the transaction.
func (f *Flows) cancelSubmitted(ctx context.Context, tx pgx.Tx, e *store.Enrollment) error {
	if e.SubmittedStep < 0 || e.SubmittedMessageID == "" {
		return nil
	}
	job := river.InsertManyParams{Args: CancelArgs{OrgID: e.OrgID, MessageID: e.SubmittedMessageID}, InsertOpts: &river.InsertOpts{Queue: QueueSteps}}
	e.SubmittedMessageID = ""
	return f.insertJobs(ctx, tx, []river.InsertManyParams{job})
}

// CancelWorker runs cancel jobs.
type CancelWorker struct {
	river.WorkerDefaults[CancelArgs]
	flows *Flows
}

// NewCancelWorker returns the worker over the rules.
func NewCancelWorker(f *Flows) *CancelWorker { return &CancelWorker{flows: f} }

// Work asks mailbox to cancel; a message that is leaving or left is
// beyond reach, and its message.sent is recorded as any other.
func (w *CancelWorker) Work(ctx context.Context, job *river.Job[CancelArgs]) error {
	err := w.flows.mailbox.Cancel(ctx, job.Args.OrgID, job.Args.MessageID)
	if errors.Is(err, ErrTooLate) {
		w.flows.log.InfoContext(ctx, "a stopped enrollment's step had left already", slog.String("message_id", job.Args.MessageID))
		return nil
	}
	return err
}
