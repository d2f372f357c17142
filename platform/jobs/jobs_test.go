package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/tandemhq/tandem/platform/jobs"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
)

type pingArgs struct{ N int }

func (pingArgs) Kind() string { return "ping" }

type pingWorker struct {
	river.WorkerDefaults[pingArgs]
	done chan int
}

func (w *pingWorker) Work(ctx context.Context, j *river.Job[pingArgs]) error {
	w.done <- j.Args.N
	return nil
}

// Replicas starting together migrate River's tables once, without errors.
func TestMigrateConcurrently(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			pool, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "svc"})
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			errs[i] = jobs.Migrate(ctx, pool, "svc", logging.Discard())
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A job inserted in the same transaction as a business row is worked once the
// transaction commits, and not at all when it rolls back.
func TestTransactionalEnqueueOnServiceSchema(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	pool, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	log := logging.Discard()
	if err := jobs.Migrate(ctx, pool, "svc", log); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Migrate(ctx, pool, "svc", log); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE things (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	w := &pingWorker{done: make(chan int, 4)}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	client, err := jobs.New(pool, jobs.Options{Schema: "svc", Workers: workers, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := client.Stop(stopCtx); err != nil {
			t.Error(err)
		}
	}()

	// Rolled back: neither row nor job.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO things VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.InsertTx(ctx, tx, pingArgs{N: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Committed: worked.
	tx, err = pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO things VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.InsertTx(ctx, tx, pingArgs{N: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-w.done:
		if n != 2 {
			t.Fatalf("worked job %d; the rolled-back job must never run", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("job not worked")
	}
	var jobsInSchema int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM svc.river_job").Scan(&jobsInSchema); err != nil {
		t.Fatal(err)
	}
	if jobsInSchema != 1 {
		t.Fatalf("want exactly the committed job in svc.river_job, got %d", jobsInSchema)
	}
}
