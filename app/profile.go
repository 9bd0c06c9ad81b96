package app

import (
	"log/slog"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// startProfile writes a CPU profile to $USEPOD_CPUPROFILE and a runtime
// (scheduler) trace to $USEPOD_TRACE while the agent runs, for `make
// bench-procs`. It returns the function that stops them.
func startProfile(log *slog.Logger) func() {
	stopCPU := startCPUProfile(log, os.Getenv("USEPOD_CPUPROFILE"))
	stopTrace := startTrace(log, os.Getenv("USEPOD_TRACE"))
	return func() { stopCPU(); stopTrace() }
}

func startCPUProfile(log *slog.Logger, path string) func() {
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

func startTrace(log *slog.Logger, path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		log.Warn("runtime trace", "err", err)
		return func() {}
	}
	if err := trace.Start(f); err != nil {
		log.Warn("runtime trace", "err", err)
		f.Close()
		return func() {}
	}
	return func() { trace.Stop(); f.Close() }
}
