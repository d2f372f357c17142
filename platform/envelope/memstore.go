package envelope

import (
	"context"
	"sync"
)

// MemoryKeyStore is a DataKeyStore (and DataKeyReplacer) in process memory,
// for tests. Services keep wrapped data keys in Postgres.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys map[string]string
}

// NewMemoryKeyStore returns an empty store.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{keys: make(map[string]string)}
}

// GetWrapped implements DataKeyStore.
func (s *MemoryKeyStore) GetWrapped(ctx context.Context, orgID string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.keys[orgID]
	if !ok {
		return "", ErrDataKeyNotFound
	}
	return w, nil
}

// PutWrapped implements DataKeyStore.
func (s *MemoryKeyStore) PutWrapped(ctx context.Context, orgID, wrapped string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[orgID]; ok {
		return ErrDataKeyExists
	}
	s.keys[orgID] = wrapped
	return nil
}

// ReplaceWrapped implements DataKeyReplacer.
func (s *MemoryKeyStore) ReplaceWrapped(ctx context.Context, orgID, old, new string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.keys[orgID]
	if !ok {
		return ErrDataKeyNotFound
	}
	if cur != old {
		return ErrDataKeyChanged
	}
	s.keys[orgID] = new
	return nil
}
