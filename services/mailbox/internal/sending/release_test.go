package sending

import (
	"testing"

	"github.com/jackc/pgx/v5"
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
