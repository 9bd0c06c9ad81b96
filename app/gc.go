package app

import (
	"os"
	"runtime/debug"
)

// relayGCPercent is the agent's GOGC. Its live heap is small (a few MB),
// so with the default of 100 a burst of jobs (a read buffer, HTTP buffers
// and goroutines each) starts several collections in a row, and their
// stops and assists are the largest scheduling delays under 256 streams
// (BENCHMARKS.md). 400 lets the heap grow to about five times the live
// data before collecting: fewer collections, peak RSS still under 40 MB.
const relayGCPercent = 400

// tuneGC applies relayGCPercent unless the user set GOGC.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(relayGCPercent)
	}
}
