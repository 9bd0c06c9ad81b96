package agent

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/policy"
	"usepod.ai/agent/core/presence"
	"usepod.ai/agent/core/telemetry"
)

// Sampling intervals: every second while a dashboard shows the figures,
// rarely while nobody looks, so the always-on process costs next to nothing;
// every few seconds while nobody looks when an earning policy needs fresh
// GPU readings (another program on the GPU is seen within 10 s).
const (
	hardwareWatchedEvery = time.Second
	hardwareIdleEvery    = 30 * time.Second
	hardwarePolicyEvery  = 5 * time.Second
	// hardwareWatchLease is how long one dashboard request keeps the fast
	// rate: a dashboard asks every second while it shows, so a closed or
	// crashed one lets the rate drop by itself.
	hardwareWatchLease = 5 * time.Second
	hardwareHistory    = 300 // five minutes at one sample a second
	// presenceTimeout bounds the idle-time and battery reads.
	presenceTimeout = time.Second
)

// hardware is the agent's telemetry sampler, served to dashboards through
// the local API (localapi.Hardware), and the earning policies' eyes: each
// sample, with the idle time and power source on the desktop, goes to the
// engine (engine.Observe).
type hardware struct {
	s       *telemetry.Sampler
	eng     *engine.Engine // nil: readings go nowhere (tests)
	desktop bool           // read idle time and battery (never headless)
	// gpuSeen: the last sample read a GPU. The GPU policies need the fast
	// rate only then; a computer without one samples at the idle rate.
	gpuSeen atomic.Bool

	mu           sync.Mutex // guards watchedUntil and slowdown
	watchedUntil time.Time
	slowdown     *time.Timer // drops the rate once the lease has run out
}

func newHardware(log *slog.Logger, eng *engine.Engine, desktop bool) *hardware {
	h := &hardware{eng: eng, desktop: desktop}
	h.s = telemetry.NewSampler(telemetry.Options{
		Interval: h.idleEvery(),
		History:  hardwareHistory,
		Logger:   log,
	})
	return h
}

// idleEvery is the interval while no dashboard looks.
func (h *hardware) idleEvery() time.Duration {
	if h.eng == nil {
		return hardwareIdleEvery
	}
	e := h.eng.Config().Earning
	idleOnly := h.desktop && idleOnlyOn(e)
	gpuPolicy := h.gpuSeen.Load() && (e.PauseWhenGPUBusy || e.MaxGPUTempC > 0 || e.MaxGPUPowerW > 0)
	if gpuPolicy || idleOnly {
		return hardwarePolicyEvery
	}
	return hardwareIdleEvery
}

// run samples until ctx ends. It blocks.
func (h *hardware) run(ctx context.Context) {
	h.s.Run(ctx, func(smp telemetry.Sample) { h.observe(ctx, smp) })
	h.mu.Lock()
	if h.slowdown != nil {
		h.slowdown.Stop()
	}
	h.mu.Unlock()
}

// observe hands one sample, with what else the policies read, to the
// engine, and follows a settings change in the idle rate.
func (h *hardware) observe(ctx context.Context, smp telemetry.Sample) {
	if h.eng == nil {
		return
	}
	cfg := h.eng.Config()
	r := policy.Readings{GPU: smp, HasGPU: smp.GPUSource != "" && len(smp.GPUs) > 0}
	h.gpuSeen.Store(r.HasGPU)
	// Only programs that would count as foreign are traced to a server:
	// the desktop's own graphics processes cost nothing.
	if cands := policy.Foreign(smp.Procs, nil); len(cands) > 0 {
		pids := make([]int, len(cands))
		for i, p := range cands {
			pids[i] = p.PID
		}
		r.Servers = telemetry.ServerPIDs(backendPorts(cfg), pids)
	}
	if h.desktop {
		pctx, cancel := context.WithTimeout(ctx, presenceTimeout)
		if idleOnlyOn(cfg.Earning) {
			r.IdleFor, r.HasIdle = presence.Idle(pctx)
		}
		if cfg.Earning.PauseOnBattery {
			r.OnBattery, _ = presence.OnBattery(pctx)
		}
		cancel()
	}
	h.eng.Observe(r)

	h.mu.Lock()
	watched := time.Now().Before(h.watchedUntil)
	h.mu.Unlock()
	if want := h.idleEvery(); !watched && h.s.Interval() != want {
		h.s.SetInterval(want)
	}
}

// idleOnlyOn reports whether only_when_idle is set (not "", not zero).
func idleOnlyOn(e config.Earning) bool {
	d, err := time.ParseDuration(strings.TrimSpace(e.OnlyWhenIdle))
	return err == nil && d > 0
}

// backendPorts are the ports of the configured inference servers, or of
// the default ones when none are configured.
func backendPorts(cfg config.Config) []int {
	var urls []string
	for _, b := range cfg.Backends {
		urls = append(urls, b.URL)
	}
	if len(urls) == 0 {
		for _, s := range backend.DefaultServers() {
			urls = append(urls, s.URL)
		}
	}
	var ports []int
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			continue
		}
		port := pu.Port()
		if port == "" {
			port = map[string]string{"https": "443"}[pu.Scheme]
			if port == "" {
				port = "80"
			}
		}
		if n, err := strconv.Atoi(port); err == nil {
			ports = append(ports, n)
		}
	}
	return ports
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
	h.s.SetInterval(h.idleEvery())
}
