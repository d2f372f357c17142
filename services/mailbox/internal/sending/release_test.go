package sending

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tandemhq/tandem/services/mailbox/internal/store"
)

// A connection releases the held head of the mailbox's queue: its job is
// made available at once.
func TestAConnectionMakesTheHeldMessagesJobAvailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	m := e.submit(mb, "k1", "cand@example.com")
	if _, err := e.pool.Exec(e.ctx, `UPDATE river_job SET state = 'scheduled', scheduled_at = now() + interval '2 minutes' WHERE id = $1`, *m.JobID); err != nil {
		t.Fatal(err)
	}
	if err := e.st.InTx(e.ctx, func(tx pgx.Tx) error { return e.pipeline.ReleaseOnConnect(e.ctx, tx, mb) }); err != nil {
		t.Fatal(err)
	}
	job, err := e.jc.JobGet(e.ctx, *m.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != rivertype.JobStateAvailable {
		t.Errorf("the held message's job is %s", job.State)
	}
}

// A wake that finds the next message's job running (its safety-net run,
// about to wait again) is not lost: a release job wakes it once that run
// is over, instead of the message waiting its whole WaitTurn.
func TestAWakeOfARunningJobIsNotLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mb := e.connect(mailboxA, org, adele, store.StatusChange{})
	m := e.submit(mb, "k1", "cand@example.com")
	if _, err := e.pool.Exec(e.ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE id = $1`, *m.JobID); err != nil {
		t.Fatal(err)
	}
	if err := e.st.InTx(e.ctx, func(tx pgx.Tx) error { return wakeHead(e.ctx, tx, e.st, e.jc, mb.ID, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	var releases int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND args->>'mailbox_id' = $2`, ReleaseKind, mb.ID).Scan(&releases); err != nil {
		t.Fatal(err)
	}
	if releases != 1 {
		t.Fatalf("%d release jobs, want 1", releases)
	}
	// While the run goes on, the release leaves it alone and gives up in
	// the end (a long run is the head sending itself).
	w := NewReleaseWorker(e.st, e.jc)
	if err := w.Work(e.ctx, &river.Job[ReleaseArgs]{Args: ReleaseArgs{MailboxID: mb.ID}}); err != nil {
		t.Fatal(err)
	}
	if job, err := e.jc.JobGet(e.ctx, *m.JobID); err != nil || job.State != rivertype.JobStateRunning {
		t.Fatalf("a running job was touched: %v %v", job, err)
	}
	// The run ended by waiting (River snoozed the job): the release makes
	// it available.
	if _, err := e.pool.Exec(e.ctx, `UPDATE river_job SET state = 'scheduled', scheduled_at = now() + interval '30 seconds' WHERE id = $1`, *m.JobID); err != nil {
		t.Fatal(err)
	}
	if err := w.Work(e.ctx, &river.Job[ReleaseArgs]{Args: ReleaseArgs{MailboxID: mb.ID}}); err != nil {
		t.Fatal(err)
	}
	job, err := e.jc.JobGet(e.ctx, *m.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != rivertype.JobStateAvailable {
		t.Errorf("the next message's job is %s, want available", job.State)
	}
}
