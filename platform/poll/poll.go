// Package poll waits, in tests, for something that comes true by itself: a
// server answering, a health status changing, a job being worked, a token
// falling due. It checks again and again until the condition holds or a
// deadline passes, and then fails with what the last check saw. It is the
// house's one replacement for sleeps and hand-written polling loops.
package poll

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// The pause between checks starts short, so a condition that is nearly
// true costs little, and doubles up to a ceiling, so a long wait does not
// hammer what it asks.
const (
	firstPause = time.Millisecond
	maxPause   = 50 * time.Millisecond
)

// ErrDeadline is what Wait returns (wrapped, with the last check's error)
// when the condition did not hold in time.
var ErrDeadline = errors.New("poll: condition not met in time")

// Until calls check until it returns nil, and fails t, with the error the
// last check returned, if that has not happened within the given time.
// check runs on the caller's goroutine, so it may call t.Fatal itself for
// an outcome that waiting cannot change. It should say in its error what it
// saw and what it wants ("health is NOT_SERVING, want SERVING"): that is
// the failure message. Waiting also ends when the test's context does.
func Until(t testing.TB, within time.Duration, check func() error) {
	t.Helper()
	if err := Wait(t.Context(), within, check); err != nil {
		t.Fatal(err)
	}
}

// Wait is Until for code that must not stop the test where it stands (a
// goroutine, or a test that has to release something before it fails): it
// returns nil once check does, an error wrapping both ErrDeadline and the
// last check's error when within has passed, or ctx's error wrapped when
// ctx ends first. check is called at least once, and once more at the
// deadline.
func Wait(ctx context.Context, within time.Duration, check func() error) error {
	deadline := time.Now().Add(within)
	pause := firstPause
	for checks := 1; ; checks++ {
		err := check()
		if err == nil {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w: %w (still so after %s and %d checks)", ErrDeadline, err, within, checks)
		}
		timer := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("poll: stopped waiting: %w (the last check said: %w)", ctx.Err(), err)
		case <-timer.C:
		}
		pause = min(2*pause, maxPause)
	}
}
