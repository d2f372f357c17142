package sessions

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

type fakeDeleter struct {
	left    int64
	fail    bool
	calls   int
	befores []time.Time
}

func (f *fakeDeleter) DeleteEndedSessions(_ context.Context, before time.Time, limit int) (int64, error) {
	f.calls++
	f.befores = append(f.befores, before)
	if f.fail && f.calls == 2 {
		return 0, errors.New("database gone")
	}
	n := min(f.left, int64(limit))
	f.left -= n
	return n, nil
}

func TestPruneWorkerDeletesEveryBatch(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f := &fakeDeleter{left: 2*pruneBatch + 3}
	w := NewPruneWorker(f, nil)
	w.now = func() time.Time { return now }
	job := &river.Job[PruneArgs]{JobRow: &rivertype.JobRow{}, Args: PruneArgs{}}
	if err := w.Work(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	if f.left != 0 || f.calls != 3 {
		t.Fatalf("left %d after %d calls, want 0 after 3", f.left, f.calls)
	}
	if want := now.Add(-DefaultEndedRetention); !f.befores[0].Equal(want) {
		t.Errorf("cutoff %v, want %v (the default retention)", f.befores[0], want)
	}

	// A failing batch fails the job for River to retry.
	f = &fakeDeleter{left: 5 * pruneBatch, fail: true}
	w = NewPruneWorker(f, nil)
	job.Args.Retention = time.Hour
	if err := w.Work(t.Context(), job); err == nil || f.calls != 2 {
		t.Fatalf("a failing batch: %v after %d calls", err, f.calls)
	}
}
