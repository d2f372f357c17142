package simcore

import (
	"strings"
	"sync"
)

// Counters counts calls by name. Names are documented in the README; they look
// like "microsoft.token.refresh_token" or "graph.sendMail/user=adele@contoso.example".
type Counters struct {
	mu sync.Mutex
	m  map[string]int64
}

// NewCounters returns an empty set of counters.
func NewCounters() *Counters { return &Counters{m: map[string]int64{}} }

// Add adds delta to the named counter.
func (c *Counters) Add(name string, delta int64) {
	c.mu.Lock()
	c.m[name] += delta
	c.mu.Unlock()
}

// Inc adds one to each named counter.
func (c *Counters) Inc(names ...string) {
	c.mu.Lock()
	for _, n := range names {
		c.m[n]++
	}
	c.mu.Unlock()
}

// Get returns the value of one counter.
func (c *Counters) Get(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name]
}

// Snapshot copies every counter whose name starts with prefix.
func (c *Counters) Snapshot(prefix string) map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// Reset sets every counter back to zero.
func (c *Counters) Reset() {
	c.mu.Lock()
	c.m = map[string]int64{}
	c.mu.Unlock()
}
