package flows

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// batcher runs the calls of concurrent steps to one store statement as
// one call of many (group commit): a step's call waits while one batch
// is running and goes in the next with every call that arrived
// meanwhile. A step alone goes at once, so at low load nothing waits;
// under load, 50 steps' reads or writes are one round trip instead of
// 50. One batch runs at a time per batcher; the caller that starts it
// runs it, and hands the next to the oldest waiting caller.
type batcher[I, O any] struct {
	run func(ctx context.Context, in []I) ([]O, error)
	max int

	mu    sync.Mutex
	queue []*batchCall[I, O]
	busy  bool
}

type batchCall[I, O any] struct {
	in   I
	out  O
	err  error
	done chan struct{}
	// lead tells the call to run the next batch.
	lead chan struct{}
}

// batchTimeout bounds a batch: its statement runs for every caller in
// it, so not under one caller's context, which may end first.
const batchTimeout = 10 * time.Second

func newBatcher[I, O any](max int, run func(ctx context.Context, in []I) ([]O, error)) *batcher[I, O] {
	return &batcher[I, O]{run: run, max: max}
}

// do runs in within a batch and returns its answer. It waits for the
// batch (at most batchTimeout), not for ctx: a batch answers each caller.
func (b *batcher[I, O]) do(ctx context.Context, in I) (O, error) {
	c := &batchCall[I, O]{in: in, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if !b.busy {
		b.busy = true
		c.lead <- struct{}{}
	}
	b.mu.Unlock()
	for {
		select {
		case <-c.done:
			return c.out, c.err
		case <-c.lead:
			b.runNext(ctx)
		}
	}
}

// runNext runs the oldest calls (the leader's among them: it is the
// oldest), under the leader's ctx, answers them, and passes the lead to
// the oldest left.
func (b *batcher[I, O]) runNext(ctx context.Context) {
	b.mu.Lock()
	n := min(len(b.queue), b.max)
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	b.mu.Unlock()

	in := make([]I, len(batch))
	for i, c := range batch {
		in[i] = c.in
	}
	out, err := b.runSafely(ctx, in)
	if err == nil && len(out) != len(in) {
		err = fmt.Errorf("batch of %d answered %d", len(in), len(out))
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.out = out[i]
		}
		close(c.done)
	}

	b.mu.Lock()
	if len(b.queue) > 0 {
		b.queue[0].lead <- struct{}{}
	} else {
		b.busy = false
	}
	b.mu.Unlock()
}

// runSafely runs a batch; a panic is every caller's error rather than a
// lead lost with the goroutine that had it.
func (b *batcher[I, O]) runSafely(ctx context.Context, in []I) (out []O, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("batch panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	return b.run(ctx, in)
}
