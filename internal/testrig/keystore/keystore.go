// Package keystore is an identity.KeyStore for tests: it keeps the key in
// memory and never touches the keychain or a file.
package keystore

import (
	"context"
	"sync"

	"usepod.ai/agent/core/identity"
)

// MemStore keeps the identity in memory only: for tests, and for tools that
// must not touch a real key. Safe for concurrent use; it never blocks.
type MemStore struct {
	mu sync.Mutex // guards id
	id *identity.Identity
}

// Load returns a copy of the stored identity, or identity.ErrNotFound.
func (s *MemStore) Load(ctx context.Context) (*identity.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == nil {
		return nil, identity.ErrNotFound
	}
	c := *s.id
	return &c, nil
}

// Save stores a copy of id.
func (s *MemStore) Save(ctx context.Context, id *identity.Identity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *id
	s.id = &c
	return nil
}

// Where says the key is kept in memory.
func (s *MemStore) Where() string { return "memory (not saved)" }
