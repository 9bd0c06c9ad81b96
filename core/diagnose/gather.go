package diagnose

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"

	"usepod.ai/agent/core/engine"
)

// CollectBuild reads the running binary's build information.
func CollectBuild(version string) Build {
	b := Build{Version: version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b.Settings = map[string]string{}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified", "-tags", "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOARM64":
				b.Settings[s.Key] = s.Value
			}
		}
	}
	return b
}

// CollectSystem reads the operating system and hardware; a part that
// cannot be read is left empty. It leaves the host name out: it may name a
// person.
func CollectSystem(ctx context.Context) System {
	s := System{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
	if hi, err := host.InfoWithContext(ctx); err == nil {
		s.Platform = strings.TrimSpace(hi.Platform + " " + hi.PlatformVersion)
		s.Kernel = hi.KernelVersion
	}
	if ci, err := cpu.InfoWithContext(ctx); err == nil && len(ci) > 0 {
		s.CPUModel = ci[0].ModelName
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		s.MemTotal = vm.Total
	}
	return s
}

// maxTailRead bounds how much of a log file TailLines reads.
const maxTailRead = 1 << 20

// TailLines returns the last n lines of the file at path (at most the last
// megabyte of it), oldest first.
func TailLines(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read the log: %w", err)
	}
	off := max(st.Size()-maxTailRead, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return nil, fmt.Errorf("read the log: %w", err)
	}
	if off > 0 { // the first line is cut: drop it
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil, nil
	}
	return lines[max(len(lines)-n, 0):], nil
}

// historyLen is how many state changes a History keeps.
const historyLen = 200

// History keeps the latest state changes seen in the engine's snapshots.
// Safe for concurrent use.
type History struct {
	mu      sync.Mutex    // guards changes
	changes []StateChange // oldest first, at most historyLen
}

// Follow records every change of state (or of its reason) in ch until it
// closes. It blocks.
func (h *History) Follow(ch <-chan engine.Snapshot) {
	for s := range ch {
		h.observe(s)
	}
}

func (h *History) observe(s engine.Snapshot) {
	c := StateChange{At: time.Now(), State: s.State.String(), Reason: s.Reason, LastError: s.LastError}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.changes); n > 0 && h.changes[n-1].State == c.State && h.changes[n-1].Reason == c.Reason {
		return
	}
	if len(h.changes) == historyLen {
		h.changes = append(h.changes[:0], h.changes[1:]...)
	}
	h.changes = append(h.changes, c)
}

// Changes returns the recorded changes, oldest first.
func (h *History) Changes() []StateChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]StateChange{}, h.changes...)
}
