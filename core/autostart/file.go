//go:build !windows

package autostart

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"usepod.ai/agent/core/internal/atomicfile"
)

// fileEntry is an entry kept as one file that carries a marker line.
type fileEntry struct {
	path   string
	marker string
}

// ours reports whether the file exists and carries the marker.
func (f fileEntry) ours() (exists, ours bool, err error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("autostart: %w", err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if string(bytes.TrimSpace(line)) == f.marker {
			return true, true, nil
		}
	}
	return true, false, nil
}

func (f fileEntry) notOurs() error {
	return fmt.Errorf("autostart: %s: %w; leaving it alone", f.path, ErrNotOurs)
}

func (f fileEntry) write(content []byte) error {
	exists, ours, err := f.ours()
	if err != nil {
		return err
	}
	if exists && !ours {
		return f.notOurs()
	}
	// Written beside it, then renamed, so a crash never leaves half a file.
	if err := atomicfile.Write(f.path, content, 0o644); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

func (f fileEntry) remove() error {
	exists, ours, err := f.ours()
	switch {
	case err != nil:
		return err
	case !exists:
		return nil
	case !ours:
		return f.notOurs()
	}
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

func (f fileEntry) enabled() (bool, error) {
	exists, ours, err := f.ours()
	if err != nil {
		return false, err
	}
	if exists && !ours {
		return false, f.notOurs()
	}
	return exists, nil
}
