// Package relaybench measures the relay path end to end: the real agent
// binary (built headless) between a local WebSocket coordinator and a local
// SSE backend, side by side with a plain client reading the same backend
// directly, in the same run. `make bench` runs it; BENCHMARKS.md has the
// figures.
package relaybench
