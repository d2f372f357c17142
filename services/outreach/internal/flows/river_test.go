package flows_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

// TestStepJobRunsOnceThroughRiver runs step jobs with River itself: the
// due step reaches mailbox, and the same job inserted and worked again
// (as after a crash between the send and River's bookkeeping) sends
// nothing more.
func TestStepJobRunsOnceThroughRiver(t *testing.T) {
	w := newWorld(t)
	workers := river.NewWorkers()
	river.AddWorker(workers, flows.NewStepWorker(w.rules))
	jc, err := jobs.New(w.pool, jobs.Options{Schema: "outreach", Workers: workers, Logger: logging.Discard(),
		Queues: map[string]river.QueueConfig{flows.QueueSteps: {MaxWorkers: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	w.rules.SetJobs(jc)
	if err := jc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := jc.Stop(ctx); err != nil {
			t.Errorf("stop river: %v", err)
		}
	})
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	e := w.enrollment(w.enroll(f.ID, w.candidate("Ada", "ada@example.com").ID)[0].EnrollmentID)
	poll.Until(t, 10*time.Second, func() error {
		if n := len(w.mail.messages()); n != 1 {
			return fmt.Errorf("%d messages", n)
		}
		return nil
	})
	again, err := jc.Insert(t.Context(), flows.StepArgs{OrgID: w.org, EnrollmentID: e.ID, Step: 0, Seq: e.ScheduleSeq}, &river.InsertOpts{Queue: flows.QueueSteps})
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, func() error {
		j, err := jc.JobGet(t.Context(), again.Job.ID)
		if err != nil {
			return err
		}
		if j.State != rivertype.JobStateCompleted {
			return fmt.Errorf("job %s", j.State)
		}
		return nil
	})
	if n, calls := len(w.mail.messages()), w.mail.count(); n != 1 || calls != 1 {
		t.Fatalf("%d messages from %d calls", n, calls)
	}
}

// TestResumedStepsLeaveOnTime: resuming spaces the steps that fell due
// ResumeStagger apart, each due sooner than River's scheduler sweeps (5
// s); each is handed to mailbox at its time, never before, and soon
// after (ADR 26), not at the next sweep.
func TestResumedStepsLeaveOnTime(t *testing.T) {
	w := newWorld(t)
	w.clock.follow()
	workers := river.NewWorkers()
	river.AddWorker(workers, flows.NewStepWorker(w.rules))
	jc, err := jobs.New(w.pool, jobs.Options{Schema: "outreach", Workers: workers, Logger: logging.Discard(),
		Queues: map[string]river.QueueConfig{flows.QueueSteps: flows.StepQueue()}})
	if err != nil {
		t.Fatal(err)
	}
	w.rules.SetJobs(jc)
	in := input()
	in.TimeZone = "UTC"
	in.Window = &flows.WindowInput{Days: []int{1, 2, 3, 4, 5, 6, 7}, Start: "00:00", End: "24:00"}
	f := w.flow(in)
	var ids []string
	for i := range 3 {
		ids = append(ids, w.candidate(fmt.Sprintf("Candidate %d", i), fmt.Sprintf("c%d@example.com", i)).ID)
	}
	rs := w.enroll(f.ID, ids...)
	// Activated and paused before River runs: the first steps fall due
	// and find the flow paused.
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.rules.Pause(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	// A probe scheduled in the past runs when River's scheduler first
	// sweeps: resuming just after it, the steps due in the next 5 s would
	// wait almost 5 s for the next sweep if they were scheduled jobs.
	probe, err := jc.Insert(t.Context(), flows.StepArgs{OrgID: w.org, EnrollmentID: uuid.NewString()},
		&river.InsertOpts{Queue: flows.QueueSteps, ScheduledAt: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if err := jc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := jc.Stop(ctx); err != nil {
			t.Errorf("stop river: %v", err)
		}
	})
	poll.Until(t, 20*time.Second, func() error {
		j, err := jc.JobGet(t.Context(), probe.Job.ID)
		if err != nil {
			return err
		}
		if j.State != rivertype.JobStateCompleted {
			return fmt.Errorf("probe %s", j.State)
		}
		return nil
	})
	if _, err := w.rules.Resume(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	due := map[string]time.Time{}
	for _, r := range rs {
		e := w.enrollment(r.EnrollmentID)
		if e.NextSendAt == nil {
			t.Fatalf("resume scheduled nothing for %s", e.ID)
		}
		due[flows.IdempotencyKey(e.ID, 0, e.FlowVersion)] = *e.NextSendAt
	}
	poll.Until(t, 20*time.Second, func() error {
		if n := len(w.mail.messages()); n != len(rs) {
			return fmt.Errorf("%d of %d handed over", n, len(rs))
		}
		return nil
	})
	w.mail.mu.Lock()
	defer w.mail.mu.Unlock()
	for i, k := range w.mail.order {
		late := w.mail.at[i].Sub(due[k])
		t.Logf("%s: due %s, handed over %s after", k, due[k].Format(time.StampMilli), late)
		if late < 0 || late > 1500*time.Millisecond {
			t.Errorf("%s handed over %s after its time, want within 1.5 s and never before", k, late)
		}
	}
}

// TestRecordSubmittedKeepsTheLatestSchedule: the hand-off's bookkeeping
// writes only for the job of the enrollment's current schedule and a
// step not recorded yet; a retry, or a job the enrollment was scheduled
// again after, leaves the record as it is. Rows of several enrollments
// share a statement, and an enrollment named twice in one call is
// written as two calls one after the other would.
func TestRecordSubmittedKeepsTheLatestSchedule(t *testing.T) {
	w := newWorld(t)
	f := w.flow(input())
	if _, err := w.rules.Activate(t.Context(), w.owner, f.ID); err != nil {
		t.Fatal(err)
	}
	rs := w.enroll(f.ID, w.candidate("Ada", "ada@example.com").ID, w.candidate("Bob", "bob@example.com").ID)
	e, bob := w.enrollment(rs[0].EnrollmentID), w.enrollment(rs[1].EnrollmentID)
	w.run(e)
	sent := w.enrollment(e.ID)
	if sent.SubmittedStep != 0 || sent.SubmittedMessageID == "" || sent.NextSendAt != nil {
		t.Fatalf("after the hand-off %+v", sent)
	}
	record := func(subs ...store.Submission) []bool {
		t.Helper()
		wrote, err := w.st.RecordSubmittedMany(t.Context(), subs)
		if err != nil {
			t.Fatal(err)
		}
		return wrote
	}
	for _, c := range []struct {
		name      string
		seq, step int
	}{{"the same step again", sent.ScheduleSeq, 0}, {"an older schedule", sent.ScheduleSeq - 1, 1}} {
		wrote := record(store.Submission{OrgID: w.org, EnrollmentID: e.ID, Seq: c.seq, Step: c.step, MessageID: "msg-other", To: "other@example.com"})
		if got := w.enrollment(e.ID); wrote[0] || got.SubmittedStep != 0 || got.SubmittedMessageID != sent.SubmittedMessageID || got.ToAddress != sent.ToAddress {
			t.Fatalf("%s wrote %v: %+v", c.name, wrote, got)
		}
	}
	wrote := record(
		store.Submission{OrgID: w.org, EnrollmentID: e.ID, Seq: sent.ScheduleSeq, Step: 1, MessageID: "msg-next", To: "ada@example.com"},
		store.Submission{OrgID: w.org, EnrollmentID: bob.ID, Seq: bob.ScheduleSeq, Step: 0, MessageID: "msg-bob", To: "bob@example.com"},
		store.Submission{OrgID: w.org, EnrollmentID: e.ID, Seq: sent.ScheduleSeq, Step: 1, MessageID: "msg-again", To: "ada@example.com"},
		store.Submission{OrgID: uuid.NewString(), EnrollmentID: bob.ID, Seq: bob.ScheduleSeq, Step: 1, MessageID: "msg-foreign", To: "bob@example.com"},
		store.Submission{OrgID: w.org, EnrollmentID: "not-an-id", Step: 1},
	)
	if !slices.Equal(wrote, []bool{true, true, false, false, false}) {
		t.Fatalf("wrote %v", wrote)
	}
	if got := w.enrollment(e.ID); got.SubmittedStep != 1 || got.SubmittedMessageID != "msg-next" {
		t.Fatalf("the next step of the current schedule: %+v", got)
	}
	if got := w.enrollment(bob.ID); got.SubmittedStep != 0 || got.SubmittedMessageID != "msg-bob" || got.ToAddress != "bob@example.com" {
		t.Fatalf("the other enrollment of the statement: %+v", got)
	}
}
