package flows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandemhq/tandem/platform/poll"
)

// TestBatcherAnswersEachCallerOfABatch: concurrent calls share batches
// of at most max, each caller gets its own answer, and a failed or
// panicking batch fails its callers only: the next calls still run.
func TestBatcherAnswersEachCallerOfABatch(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	fail := errors.New("statement failed")
	release := make(chan struct{})
	b := newBatcher(16, func(_ context.Context, in []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(in))
		mu.Unlock()
		out := make([]int, len(in))
		for i, v := range in {
			switch v {
			case 0:
				<-release // the others queue meanwhile
			case -1:
				return nil, fail
			case -2:
				panic("boom")
			}
			out[i] = 2 * v
		}
		return out, nil
	})
	const n = 200
	var wg sync.WaitGroup
	got := make([]int, n)
	errs := make([]error, n)
	wg.Go(func() { got[0], errs[0] = b.do(t.Context(), 0) })
	poll.Until(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(sizes) != 1 {
			return errors.New("the first batch has not started")
		}
		return nil
	})
	for i := 1; i < n; i++ {
		wg.Go(func() { got[i], errs[i] = b.do(t.Context(), i) })
	}
	poll.Until(t, 10*time.Second, func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.queue) != n-1 {
			return fmt.Errorf("%d calls queued", len(b.queue))
		}
		return nil
	})
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != 2*i {
			t.Fatalf("call %d: %d, %v", i, got[i], errs[i])
		}
	}
	if want := 1 + (n-1+15)/16; len(sizes) != want {
		t.Fatalf("%d batches %v, want %d: the first alone, then the queued ones 16 at a time", len(sizes), sizes, want)
	}
	for _, s := range sizes[1 : len(sizes)-1] {
		if s != 16 {
			t.Fatalf("batches %v: want 16 each after the first", sizes)
		}
	}
	if _, err := b.do(t.Context(), -1); !errors.Is(err, fail) {
		t.Fatalf("a failed batch answered %v", err)
	}
	if _, err := b.do(t.Context(), -2); err == nil {
		t.Fatal("a panicking batch answered no error")
	}
	if v, err := b.do(t.Context(), 21); err != nil || v != 42 {
		t.Fatalf("after the failures: %d, %v", v, err)
	}
}

// TestBatcherAnswersAfterTheCallersContextEnds: a batch runs for every
// caller in it, so one caller's cancelled context does not fail the
// others.
func TestBatcherAnswersAfterTheCallersContextEnds(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	b := newBatcher(16, func(ctx context.Context, in []int) ([]int, error) {
		if in[0] == 0 {
			close(started)
			<-release
		}
		return in, ctx.Err()
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := b.do(ctx, 0)
		done <- err
	}()
	<-started
	other := make(chan error, 1)
	go func() {
		_, err := b.do(t.Context(), 1)
		other <- err
	}()
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the cancelled caller's batch: %v", err)
	}
	if err := <-other; err != nil {
		t.Fatalf("the next batch: %v", err)
	}
}
