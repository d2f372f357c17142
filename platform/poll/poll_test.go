package poll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// fakeTB records what Until asks of a test, so a failing wait can be
// checked without failing this test. Methods Until does not use panic
// through the nil embedded interface.
type fakeTB struct {
	testing.TB
	ctx     context.Context
	fatals  []string
	helpers int
}

func (f *fakeTB) Helper()                  { f.helpers++ }
func (f *fakeTB) Context() context.Context { return f.ctx }
func (f *fakeTB) Fatal(args ...any)        { f.fatals = append(f.fatals, fmt.Sprint(args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
}

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := &fakeTB{ctx: t.Context()}
		start := time.Now()
		calls := 0
		Until(tb, time.Minute, func() error {
			calls++
			if time.Since(start) < 2*time.Second {
				return errors.New("not yet")
			}
			return nil
		})
		if len(tb.fatals) != 0 {
			t.Fatalf("the test failed: %q", tb.fatals)
		}
		if calls < 2 {
			t.Fatalf("check called %d times; it had to be asked again", calls)
		}
		// The pause is capped, so a condition is seen soon after it holds.
		if took := time.Since(start); took < 2*time.Second || took > 2*time.Second+maxPause {
			t.Fatalf("returned after %s, want within %s of the condition holding at 2s", took, maxPause)
		}
		if tb.helpers == 0 {
			t.Fatal("Until does not mark itself a helper: failures would point at poll.go")
		}
	})
}

func TestUntilFailsWithTheLastCheckAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := &fakeTB{ctx: t.Context()}
		start := time.Now()
		var last time.Duration
		calls := 0
		Until(tb, 10*time.Second, func() error {
			calls++
			last = time.Since(start)
			return fmt.Errorf("health is NOT_SERVING (check %d), want SERVING", calls)
		})
		if len(tb.fatals) != 1 {
			t.Fatalf("Fatal called %d times, want once: %q", len(tb.fatals), tb.fatals)
		}
		msg := tb.fatals[0]
		for _, want := range []string{
			fmt.Sprintf("health is NOT_SERVING (check %d), want SERVING", calls), // the last check's words
			"10s", // how long it waited
			fmt.Sprintf("%d checks", calls),
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("failure message %q does not contain %q", msg, want)
			}
		}
		// The last look is at the deadline itself, not a pause short of it
		// nor one beyond.
		if last != 10*time.Second {
			t.Errorf("last check at %s, want at the deadline, 10s", last)
		}
		if took := time.Since(start); took != 10*time.Second {
			t.Errorf("failed after %s, want 10s", took)
		}
		if calls < 10 {
			t.Errorf("only %d checks in 10s", calls)
		}
	})
}

func TestWaitWrapsTheDeadlineAndTheLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		notYet := errors.New("queue not empty")
		err := Wait(t.Context(), time.Second, func() error { return notYet })
		if !errors.Is(err, ErrDeadline) || !errors.Is(err, notYet) {
			t.Fatalf("Wait = %v; want it to wrap ErrDeadline and the check's error", err)
		}
	})
}

func TestWaitChecksOnceWithoutWaitingWhenTheConditionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		if err := Wait(t.Context(), time.Minute, func() error { calls++; return nil }); err != nil {
			t.Fatal(err)
		}
		if calls != 1 || time.Since(start) != 0 {
			t.Fatalf("%d checks over %s, want 1 and no wait", calls, time.Since(start))
		}
	})
}

func TestWaitWithNoTimeChecksOnce(t *testing.T) {
	calls := 0
	err := Wait(t.Context(), 0, func() error { calls++; return errors.New("no") })
	if !errors.Is(err, ErrDeadline) || calls != 1 {
		t.Fatalf("Wait = %v after %d checks; want ErrDeadline after exactly 1", err, calls)
	}
}

func TestWaitStopsWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		notYet := errors.New("no reply yet")
		err := Wait(ctx, time.Hour, func() error { return notYet })
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, notYet) || errors.Is(err, ErrDeadline) {
			t.Fatalf("Wait = %v; want the context's error with the last check's", err)
		}
		if took := time.Since(start); took != time.Second {
			t.Fatalf("stopped after %s, want when the context ended at 1s", took)
		}
	})
}

func TestUntilPassesWithARealClock(t *testing.T) {
	// Outside a bubble, on the wall clock: a condition another goroutine
	// makes true is seen.
	done := make(chan struct{})
	time.AfterFunc(20*time.Millisecond, func() { close(done) })
	Until(t, 10*time.Second, func() error {
		select {
		case <-done:
			return nil
		default:
			return errors.New("not closed yet")
		}
	})
}
