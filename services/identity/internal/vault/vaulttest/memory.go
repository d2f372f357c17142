// Package vaulttest holds an in-memory vault.DurableStore and the contract
// every DurableStore must meet.
package vaulttest

import (
	"context"
	"sync"

	"github.com/tandemhq/tandem/services/identity/internal/vault"
)

// Memory is a vault.DurableStore in process memory, for tests. Any
// connection id exists, in the organization of its first Put.
type Memory struct {
	mu   sync.Mutex
	kept map[string]vault.Kept
	// Fail, when set, is returned by every call, as from a store that is
	// down.
	Fail error
}

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{kept: map[string]vault.Kept{}} }

var _ vault.DurableStore = (*Memory)(nil)

// SetFail makes every later call fail with err (nil: succeed again).
func (m *Memory) SetFail(err error) {
	m.mu.Lock()
	m.Fail = err
	m.mu.Unlock()
}

// Get implements vault.DurableStore.
func (m *Memory) Get(_ context.Context, connID string) (vault.Kept, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return vault.Kept{}, m.Fail
	}
	k, ok := m.kept[connID]
	if !ok {
		return vault.Kept{}, vault.ErrNotKept
	}
	return k, nil
}

// Put implements vault.DurableStore.
func (m *Memory) Put(_ context.Context, orgID, connID, sealed string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return 0, m.Fail
	}
	k, ok := m.kept[connID]
	if ok && k.OrgID != orgID {
		return 0, vault.ErrNotKept
	}
	k = vault.Kept{OrgID: orgID, Sealed: sealed, Version: k.Version + 1}
	m.kept[connID] = k
	return k.Version, nil
}

// Swap implements vault.DurableStore.
func (m *Memory) Swap(_ context.Context, orgID, connID string, from int64, sealed string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return 0, m.Fail
	}
	k, ok := m.kept[connID]
	if (ok && (k.OrgID != orgID || k.Version != from)) || (!ok && from != 0) {
		return 0, vault.ErrVersionChanged
	}
	k = vault.Kept{OrgID: orgID, Sealed: sealed, Version: from + 1}
	m.kept[connID] = k
	return k.Version, nil
}

// Refuse implements vault.DurableStore.
func (m *Memory) Refuse(_ context.Context, orgID, connID string, from int64, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	k, ok := m.kept[connID]
	if !ok || k.OrgID != orgID || k.Version != from {
		return vault.ErrVersionChanged
	}
	m.kept[connID] = vault.Kept{OrgID: orgID, Refused: reason, Version: from + 1}
	return nil
}

// Delete implements vault.DurableStore.
func (m *Memory) Delete(_ context.Context, connID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		return m.Fail
	}
	delete(m.kept, connID)
	return nil
}
