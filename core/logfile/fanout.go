package logfile

import (
	"io"
	"sync"
)

// Named is one destination of a FanOut; the name goes into the failure
// report.
type Named struct {
	Name string
	W    io.Writer
}

// FanOut writes each line to every writer. Unlike io.MultiWriter it does not
// stop at the first writer that fails: a Windows app started by a double
// click has no console, so its stderr fails every write, and the log file
// must still get every line. Each writer's first failure is reported once;
// a failed writer is still tried, since it may come back (a full disk).
// Safe for concurrent use.
type FanOut struct {
	writers []Named
	onFail  func(name string, err error) // called once per failing writer, with mu held

	mu       sync.Mutex   // guards reported and serialises writes
	reported map[int]bool // writers whose failure has been reported
}

// NewFanOut returns a writer to all of ws. onFail (may be nil) hears of
// each writer's first failure, with the FanOut's lock held: it must not
// Write to the FanOut itself (WriteOthersLocked is for that).
func NewFanOut(onFail func(name string, err error), ws ...Named) *FanOut {
	return &FanOut{writers: ws, onFail: onFail, reported: map[int]bool{}}
}

// Write writes p to every writer. It fails only when no writer took p.
func (f *FanOut) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var firstErr error
	ok := false
	for i, nw := range f.writers {
		n, err := nw.W.Write(p)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		if err == nil {
			ok = true
			continue
		}
		if firstErr == nil {
			firstErr = err
		}
		if !f.reported[i] {
			f.reported[i] = true
			if f.onFail != nil {
				f.onFail(nw.Name, err)
			}
		}
	}
	if !ok && firstErr != nil {
		return 0, firstErr
	}
	return len(p), nil
}

// WriteOthersLocked writes p to every writer but the named one, ignoring
// errors: how a failure is reported without going through the failed writer.
func (f *FanOut) WriteOthersLocked(skip string, p []byte) {
	for _, nw := range f.writers {
		if nw.Name != skip {
			nw.W.Write(p)
		}
	}
}
