package sending

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// A message submitted behind another waits for it without a run of its
// own, and the one ahead wakes it when it is sent.
func TestAMessageSubmittedBehindAnotherIsWokenByIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	first := e.submit(mb, "k1", "cand1@example.com")
	second := e.submit(mb, "k2", "cand2@example.com")
	if got := e.jobState(first); got != rivertype.JobStateAvailable {
		t.Fatalf("the first message's job is %s, want available", got)
	}
	if got := e.jobState(second); got != rivertype.JobStateScheduled {
		t.Fatalf("the job of the message behind is %s, want scheduled (its safety net)", got)
	}
	if got := e.drain(first, 4); got.State != store.StateSent {
		t.Fatalf("first: %s", got.State)
	}
	if got := e.jobState(second); got != rivertype.JobStateAvailable {
		t.Fatalf("after the first was sent the second's job is %s, want available", got)
	}
}

// A submit and the end of the message ahead, at the same moment, never
// lose the wake: the new message's job is either available from the
// start or woken by the one that ended (they serialise on the mailbox
// row).
func TestASubmitRacingTheEndOfTheMessageAheadIsNeverLeftWaiting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	for i := range 25 {
		ahead := e.submit(mb, fmt.Sprintf("a%d", i), "cand@example.com")
		if _, err := e.pool.Exec(e.ctx, `UPDATE messages SET state = 'sending', draft_id = 'd', send_attempted_at = now() WHERE id = $1`, ahead.ID); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var behind store.Message
		wg.Go(func() {
			var err error
			if behind, _, err = e.pipeline.Submit(e.ctx, Submission{OrgID: org, MailboxID: mb.ID, Caller: caller,
				To: []Recipient{{Address: "cand@example.com"}}, Subject: "Next", HTMLBody: "<p>x</p>", IdempotencyKey: fmt.Sprintf("b%d", i)}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := e.worker.markSent(e.ctx, ahead, time.Now()); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if t.Failed() {
			return
		}
		if got := e.jobState(behind); got != rivertype.JobStateAvailable {
			t.Fatalf("round %d: the message behind is left %s", i, got)
		}
		// Out of the way of the next round.
		if _, err := e.pool.Exec(e.ctx, `UPDATE messages SET state = 'cancelled' WHERE id = $1`, behind.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) jobState(m store.Message) rivertype.JobState {
	e.t.Helper()
	job, err := e.jc.JobGet(e.ctx, *m.JobID)
	if err != nil {
		e.t.Fatal(err)
	}
	return job.State
}
