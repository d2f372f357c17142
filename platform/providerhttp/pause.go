package providerhttp

import (
	"sync"
	"time"
)

// maxLocalPauses bounds the keys remembered at once; past it, ended
// pauses are swept before a new one is added.
const maxLocalPauses = 4096

// localPauses remembers, in this process, until when each key is paused.
// It is the pause every client has, limiter or not: a provider's
// Retry-After holds for every later call with the key, not only the one
// that got it. The limiter's pause (when it has one) carries it to the
// other replicas.
type localPauses struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// pause keeps key paused for d from now, unless a longer pause holds
// already.
func (p *localPauses) pause(key string, now time.Time, d time.Duration) {
	until := now.Add(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.until == nil {
		p.until = map[string]time.Time{}
	}
	if len(p.until) >= maxLocalPauses {
		for k, u := range p.until {
			if !u.After(now) {
				delete(p.until, k)
			}
		}
	}
	if cur, ok := p.until[key]; !ok || until.After(cur) {
		p.until[key] = until
	}
}

// remaining is how much of key's pause is left at now (0: none).
func (p *localPauses) remaining(key string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.until[key]
	if !ok {
		return 0
	}
	if !u.After(now) {
		delete(p.until, key)
		return 0
	}
	return u.Sub(now)
}
