// Package writers holds the io.Writers the tests log into: a buffer that
// many goroutines write at once, and a writer that always fails.
package writers

import (
	"bytes"
	"errors"
	"sync"
)

// Locked is a bytes.Buffer safe to read while other goroutines write to it
// (an engine's or an agent's log).
type Locked struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *Locked) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what was written so far.
func (l *Locked) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Broken fails every write, as os.Stderr does in a Windows app started by
// a double click (there is no console). It counts the writes it refused.
type Broken struct {
	mu     sync.Mutex // guards writes
	writes int
}

func (b *Broken) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.writes++
	b.mu.Unlock()
	return 0, errors.New("the handle is invalid")
}

// Writes is how many writes were tried.
func (b *Broken) Writes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writes
}
