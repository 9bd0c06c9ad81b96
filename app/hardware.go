package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"usepod.ai/agent/core/telemetry"
)

// Sampling intervals: every second while a dashboard shows the figures,
// rarely while nobody looks, so the always-on process costs next to nothing.
const (
	hardwareWatchedEvery = time.Second
	hardwareIdleEvery    = 30 * time.Second
	// hardwareWatchLease is how long one dashboard request keeps the fast
	// rate: a dashboard asks every second while it shows, so a closed or
	// crashed one lets the rate drop by itself.
	hardwareWatchLease = 5 * time.Second
	hardwareHistory    = 300 // five minutes at one sample a second
)

// hardware is the agent's telemetry sampler, served to dashboards through
// the local API (localapi.Hardware).
type hardware struct {
	s *telemetry.Sampler

	mu           sync.Mutex // guards watchedUntil and slowdown
	watchedUntil time.Time
	slowdown     *time.Timer // drops the rate once the lease has run out
}

func newHardware(log *slog.Logger) *hardware {
	return &hardware{s: telemetry.NewSampler(telemetry.Options{
		Interval: hardwareIdleEvery,
		History:  hardwareHistory,
		Logger:   log.With("component", "telemetry"),
	})}
}

// run samples until ctx ends. It blocks.
func (h *hardware) run(ctx context.Context) {
	h.s.Run(ctx, nil)
	h.mu.Lock()
	if h.slowdown != nil {
		h.slowdown.Stop()
	}
	h.mu.Unlock()
}

func (h *hardware) Latest() (telemetry.Sample, bool) { return h.s.Latest() }
func (h *hardware) History(n int) []telemetry.Sample { return h.s.History(min(n, hardwareHistory)) }

// Watched says a dashboard is looking: sample every second for the next few
// seconds.
func (h *hardware) Watched() {
	h.mu.Lock()
	defer h.mu.Unlock()
	fresh := time.Now().After(h.watchedUntil)
	h.watchedUntil = time.Now().Add(hardwareWatchLease)
	if !fresh {
		h.slowdown.Reset(hardwareWatchLease)
		return
	}
	h.s.SetInterval(hardwareWatchedEvery)
	if h.slowdown == nil {
		h.slowdown = time.AfterFunc(hardwareWatchLease, h.lapse)
	} else {
		h.slowdown.Reset(hardwareWatchLease)
	}
}

// lapse drops back to the idle rate once no dashboard has asked for a while.
func (h *hardware) lapse() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if wait := time.Until(h.watchedUntil); wait > 0 {
		h.slowdown.Reset(wait)
		return
	}
	h.s.SetInterval(hardwareIdleEvery)
}
