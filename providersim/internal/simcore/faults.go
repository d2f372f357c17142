package simcore

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/tandemhq/tandem/providersim/simclient"
)

// Faults holds the injected faults. A provider asks Apply for every request
// it serves; the first matching fault wins.
type Faults struct {
	mu     sync.Mutex
	ids    *IDs
	faults []*fault
}

type fault struct {
	spec    simclient.Fault
	release chan struct{} // closed when the fault is removed; frees stalled requests
}

// NewFaults returns an empty fault table.
func NewFaults(ids *IDs) *Faults { return &Faults{ids: ids} }

// Add installs a fault and returns it with its id.
func (f *Faults) Add(spec simclient.Fault) simclient.Fault {
	spec.ID = "fault-" + f.ids.LowerHex("fault", 6)
	spec.Remaining = spec.Count
	f.mu.Lock()
	f.faults = append(f.faults, &fault{spec: spec, release: make(chan struct{})})
	f.mu.Unlock()
	return spec
}

// List returns the installed faults.
func (f *Faults) List() []simclient.Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]simclient.Fault, 0, len(f.faults))
	for _, x := range f.faults {
		out = append(out, x.spec)
	}
	return out
}

// Remove deletes one fault, releasing the requests it stalls.
func (f *Faults) Remove(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.faults {
		if x.spec.ID == id {
			close(x.release)
			f.faults = append(f.faults[:i], f.faults[i+1:]...)
			return true
		}
	}
	return false
}

// Reset deletes every fault, releasing every stalled request.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.faults {
		close(x.release)
	}
	f.faults = nil
}

// Apply finds the fault for a request to endpoint (for mailbox, which may be
// empty), waits out its latency or stall, and returns it. It returns nil when
// no fault matches or when the fault injects no error.
func (f *Faults) Apply(ctx context.Context, endpoint, mailbox string) *simclient.Fault {
	f.mu.Lock()
	var hit *fault
	for i, x := range f.faults {
		if x.spec.Count > 0 && x.spec.Remaining <= 0 {
			continue // used up; kept only to release what it stalls
		}
		if !matchEndpoint(x.spec.Endpoint, endpoint) {
			continue
		}
		if x.spec.Mailbox != "" && !strings.EqualFold(x.spec.Mailbox, mailbox) {
			continue
		}
		hit = x
		if x.spec.Count > 0 {
			x.spec.Remaining--
			if x.spec.Remaining <= 0 && !x.spec.Stall {
				f.faults = append(f.faults[:i], f.faults[i+1:]...)
			}
		}
		break
	}
	f.mu.Unlock()
	if hit == nil {
		return nil
	}
	spec := hit.spec
	if spec.LatencyMs > 0 {
		t := time.NewTimer(time.Duration(spec.LatencyMs) * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if spec.Stall {
		select {
		case <-hit.release:
		case <-ctx.Done():
		}
	}
	if spec.Status == 0 {
		return nil
	}
	return &spec
}

func matchEndpoint(pattern, endpoint string) bool {
	switch {
	case pattern == "*":
		return true
	case strings.HasSuffix(pattern, ".*"):
		return strings.HasPrefix(endpoint, strings.TrimSuffix(pattern, "*"))
	default:
		return strings.EqualFold(pattern, endpoint)
	}
}
