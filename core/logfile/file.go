// Package logfile holds where the agent's log lines go: a size-capped,
// owner-only log file, and a fan-out that keeps writing the file when the
// terminal is gone. The app configures the slog handler on top.
package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// MaxBytes caps the log file; when it is reached the file is moved to
// agent.log.1 (replacing the previous one) and a new one is started, so the
// logs never hold more than twice this.
const MaxBytes = 10 << 20

// File is a size-capped append-only log file. Safe for concurrent use.
type File struct {
	mu   sync.Mutex // guards f and size
	path string
	f    *os.File
	size int64
}

// Open opens (or creates) the log file at path, owner-only.
func Open(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}
	// The logs folder is the agent's own: keep it private even if it was
	// made looser (the data folder itself may be the user's and is left as
	// it is; every file in it is 0600).
	if st, err := os.Stat(filepath.Dir(path)); err == nil && st.Mode().Perm()&0o077 != 0 && runtime.GOOS != "windows" {
		os.Chmod(filepath.Dir(path), 0o700)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	// A log file made earlier with looser permissions (an older version, a
	// umask, the user) is made owner-only too: logs name models, backends
	// and the provider id.
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return nil, fmt.Errorf("make the log file private: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return &File{path: path, f: f, size: st.Size()}, nil
}

func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size+int64(len(p)) > MaxBytes {
		l.rotateLocked()
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

func (l *File) rotateLocked() {
	l.f.Close()
	os.Rename(l.path, l.path+".1")
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		// Keep writing somewhere rather than lose the logs: reopen the old name.
		f, _ = os.OpenFile(l.path+".1", os.O_WRONLY|os.O_APPEND, 0o600)
	}
	l.f, l.size = f, 0
}

func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
