package selftest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Store keeps the last self-test of each model, in memory and in a small
// JSON file, so the models table shows them after a restart too. Safe for
// concurrent use.
type Store struct {
	path string // "" keeps them in memory only

	mu   sync.Mutex // guards last and the file
	last map[string]Result
}

// OpenStore reads the results kept at path (a missing or unreadable file
// starts empty: they are only a record of past tests). It blocks on disk I/O.
func OpenStore(path string) *Store {
	s := &Store{path: path, last: map[string]Result{}}
	if path == "" {
		return s
	}
	if b, err := os.ReadFile(path); err == nil {
		var rs []Result
		if json.Unmarshal(b, &rs) == nil {
			for _, r := range rs {
				s.last[r.ModelID] = r
			}
		}
	}
	return s
}

// Put keeps rs as the last results of their models and saves the file.
// It blocks on disk I/O.
func (s *Store) Put(rs ...Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		s.last[r.ModelID] = r
	}
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.allLocked(), "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("save self-test results: %w", err)
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save self-test results: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("save self-test results: %w", err)
	}
	return nil
}

// All returns the last result of every model tested, sorted by model.
func (s *Store) All() []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allLocked()
}

func (s *Store) allLocked() []Result {
	out := make([]Result, 0, len(s.last))
	for _, r := range s.last {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Result) int { return strings.Compare(a.ModelID, b.ModelID) })
	return out
}
