package selftest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/jobs"
)

// Tester runs self-tests for a running agent against the servers it found,
// and keeps the last result of each model.
type Tester struct {
	Streamer jobs.Streamer
	// Servers returns the agent's last probe of each server (see
	// engine.Engine.Backends). It must not block.
	Servers func() []backend.Health
	Store   *Store
	Timeout time.Duration // per model; 0 means DefaultTimeout
	Log     *slog.Logger  // nil logs nothing; the Tester adds component=selftest

	mu sync.Mutex // held while tests run: one at a time, so they do not skew each other
}

// Run tests the named models one after the other (every model of every
// healthy server when none is named) and keeps the results. A model no
// healthy server serves is an error before anything runs. It blocks.
func (t *Tester) Run(ctx context.Context, models []string) ([]Result, error) {
	type target struct {
		model  string
		server backend.Server
	}
	serving := map[string]backend.Server{}
	var all []string
	for _, h := range t.Servers() {
		if !h.Healthy {
			continue
		}
		for _, m := range h.Models {
			if _, dup := serving[m.ID]; !dup {
				serving[m.ID] = h.Server
				all = append(all, m.ID)
			}
		}
	}
	if len(models) == 0 {
		if len(all) == 0 {
			return nil, fmt.Errorf("no inference server with a model is running, so there is nothing to test")
		}
		models = all
	}
	var targets []target
	for _, m := range models {
		s, ok := serving[m]
		if !ok {
			slices.Sort(all)
			return nil, fmt.Errorf("no running inference server serves model %q (models found: %s)", m, orNone(all))
		}
		targets = append(targets, target{m, s})
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Result, 0, len(targets))
	for _, tg := range targets {
		r := Run(ctx, t.Streamer, tg.server, tg.model, t.Timeout)
		out = append(out, r)
		if ctx.Err() != nil {
			break // cancelled: keep nothing half-measured
		}
	}
	if ctx.Err() == nil && t.Store != nil {
		if err := t.Store.Put(out...); err != nil && t.Log != nil {
			t.Log.With("component", "selftest").Warn("could not keep the self-test results; they are shown but not saved", "err", err)
		}
	}
	return out, nil
}

// Last returns the last result of every model tested.
func (t *Tester) Last() []Result {
	if t.Store == nil {
		return nil
	}
	return t.Store.All()
}

func orNone(ms []string) string {
	if len(ms) == 0 {
		return "none"
	}
	return strings.Join(ms, ", ")
}
