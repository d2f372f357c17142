package simcore

import (
	"sync"
	"time"
)

// Clock is the simulator's notion of "now": real time plus an offset that the
// control API can advance. Expiry of codes, tokens, subscriptions and rate-limit
// windows is measured on it, so a test can expire things without waiting.
type Clock struct {
	mu     sync.RWMutex
	offset time.Duration
	real   func() time.Time
}

// NewClock returns a clock that starts at real time.
func NewClock() *Clock { return &Clock{real: time.Now} }

// Now returns the simulated time in UTC.
func (c *Clock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.real().Add(c.offset).UTC()
}

// Advance moves the clock forward by d and returns the new time. A negative d
// is ignored: the simulated clock never runs backwards.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	if d > 0 {
		c.offset += d
	}
	c.mu.Unlock()
	return c.Now()
}

// Offset reports how far the clock has been advanced.
func (c *Clock) Offset() time.Duration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.offset
}

// Reset puts the clock back to real time.
func (c *Clock) Reset() {
	c.mu.Lock()
	c.offset = 0
	c.mu.Unlock()
}
