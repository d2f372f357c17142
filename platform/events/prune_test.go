package events_test

import (
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/platform/events"
	"github.com/tandemhq/tandem/platform/logging"
	"github.com/tandemhq/tandem/platform/pgtest"
	"github.com/tandemhq/tandem/platform/postgres"
)

func TestPruneForgetsOnlyOldProcessedIDs(t *testing.T) {
	ctx := t.Context()
	db, err := postgres.Open(ctx, postgres.Options{URL: pgtest.NewDatabase(t), Schema: "mailbox"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.Exec(ctx, processedEvents); err != nil {
		t.Fatal(err)
	}
	// More old rows than one batch, so the worker must loop; and ids
	// processed inside the retention, which must stay.
	if _, err := db.Exec(ctx, `INSERT INTO processed_events (event_id, source, processed_at)
		SELECT 'old-' || i, 'outreach', now() - interval '31 days' FROM generate_series(1, 12001) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO processed_events (event_id, source, processed_at)
		SELECT 'recent-' || i, 'outreach', now() - interval '29 days' FROM generate_series(1, 3) i`); err != nil {
		t.Fatal(err)
	}
	w := events.NewPruneWorker(db, logging.Discard())
	if err := w.Work(ctx, &river.Job[events.PruneArgs]{Args: events.PruneArgs{}}); err != nil {
		t.Fatal(err)
	}
	var old, recent int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE event_id LIKE 'old-%'), count(*) FILTER (WHERE event_id LIKE 'recent-%') FROM processed_events`).Scan(&old, &recent); err != nil {
		t.Fatal(err)
	}
	if old != 0 || recent != 3 {
		t.Fatalf("after pruning with the default 30 days: %d old and %d recent ids, want 0 and 3", old, recent)
	}

	// A shorter retention forgets the recent ones too.
	if err := w.Work(ctx, &river.Job[events.PruneArgs]{Args: events.PruneArgs{Retention: 24 * time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM processed_events`).Scan(&recent); err != nil {
		t.Fatal(err)
	}
	if recent != 0 {
		t.Fatalf("%d ids older than a day are left", recent)
	}
}
