package flows_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/poll"
	"github.com/tandemhq/tandem/services/outreach/internal/flows"
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
