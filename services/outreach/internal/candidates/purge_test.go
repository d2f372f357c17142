package candidates_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/tandemhq/tandem/services/outreach/internal/candidates"
	"github.com/tandemhq/tandem/services/outreach/internal/store"
)

func noBlobs(context.Context, pgx.Tx, []string) error { return nil }

// purger reports the batches it is given, then fails if asked to.
type purger struct {
	batches []int
	before  []time.Time
	fail    error
}

func (p *purger) PurgeDeletedCandidates(_ context.Context, before time.Time, limit int, removeBlobs store.RemoveBlobs) (int, error) {
	if removeBlobs == nil {
		return 0, errors.New("no way to remove the purged files' bytes")
	}
	p.before = append(p.before, before)
	if len(p.batches) == 0 {
		return 0, p.fail
	}
	n := min(p.batches[0], limit)
	p.batches = p.batches[1:]
	return n, nil
}

func TestPurgeWorkerPurgesUntilABatchIsShort(t *testing.T) {
	p := &purger{batches: []int{500, 500, 3, 500}}
	w := candidates.NewPurgeWorker(p, noBlobs, nil)
	start := time.Now()
	if err := w.Work(t.Context(), &river.Job[candidates.PurgeArgs]{}); err != nil {
		t.Fatal(err)
	}
	if len(p.before) != 3 || len(p.batches) != 1 {
		t.Fatalf("%d calls, %v left", len(p.before), p.batches)
	}
	end := time.Now()
	if b := p.before[0]; b.Before(start.Add(-candidates.RestoreWindow)) || b.After(end.Add(-candidates.RestoreWindow)) {
		t.Fatalf("purges candidates deleted before %v, want %v ago", b, candidates.RestoreWindow)
	}
	p = &purger{fail: errors.New("db down")}
	if err := candidates.NewPurgeWorker(p, noBlobs, nil).Work(t.Context(), &river.Job[candidates.PurgeArgs]{}); !errors.Is(err, p.fail) {
		t.Fatalf("a failure should be retried: %v", err)
	}
}
