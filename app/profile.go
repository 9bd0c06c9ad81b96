package app

import (
	"log/slog"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile to $USEPOD_CPUPROFILE while the agent
// runs, for `make profile`. It returns the function that stops it.
func startProfile(log *slog.Logger) func() {
	path := os.Getenv("USEPOD_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		log.Warn("cpu profile", "err", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Warn("cpu profile", "err", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
