package policy

import (
	"fmt"
	"math"
	"strings"
	"time"

	"usepod.ai/agent/core/telemetry"
)

// Timing of the thermal and power guard. The first step down comes at once;
// further steps wait StepDown so the GPU has time to respond; each step back
// up needs the GPU to have stayed under the limit (less the margin) for
// StepUp.
type Timing struct {
	StepDown time.Duration
	StepUp   time.Duration
}

// DefaultTiming suits GPUs whose temperature settles within a minute.
var DefaultTiming = Timing{StepDown: 20 * time.Second, StepUp: 60 * time.Second}

// Hysteresis: a throttle lifts only below the limit less these margins.
const (
	tempMargin  = 5    // °C
	powerMargin = 0.10 // of the limit
)

// Graphics processes count as "really using" the GPU above these: a
// desktop's display server, compositor and browser at rest stay well under.
const (
	graphicsBusySM  = 30.0    // % of GPU time
	graphicsBusyMem = 2 << 30 // bytes, when NVML gives no per-process time
)

// Where the process list cannot show graphics processes (nvidia-smi lists
// compute processes only; the AMD and Apple sources list none), a game is
// seen only as the GPU's overall utilisation staying high while the agent
// runs nothing.
const (
	// loadBusyUtil: a game keeps a GPU well above half busy; a desktop at
	// rest, a video or a browser stay far under.
	loadBusyUtil = 50.0 // % of GPU time
	// loadBusyHold: high for this long (three samples at the policy rate of
	// one every 5 s), so a program starting or a page loading does not count.
	loadBusyHold = 10 * time.Second
	// ownJobGrace: the agent idle this long before high utilisation counts,
	// so the tail of its own last job never does. The H200 recordings fall
	// from 100 % to 3 % within a second of the load ending; a server's
	// clean-up after a job takes a few seconds more.
	ownJobGrace = 15 * time.Second
)

// desktopShells never count: they draw the desktop itself.
var desktopShells = map[string]bool{
	"xorg": true, "x": true, "xwayland": true, "gnome-shell": true, "kwin_x11": true,
	"kwin_wayland": true, "plasmashell": true, "mutter": true, "weston": true, "sway": true,
	"hyprland": true, "cinnamon": true, "marco": true, "xfwm4": true, "compiz": true, "picom": true,
	"dwm.exe": true, "explorer.exe": true, "csrss.exe": true, "windowserver": true,
}

// inferenceNames are the inference servers' programs, for where the
// listening port cannot be traced to a process (the port check is better:
// vLLM runs as python).
var inferenceNames = []string{"ollama", "llama-server", "llama_server", "lm studio", "lmstudio", "lms", "vllm"}

// Foreign lists the programs other than the inference servers that really
// use a GPU: every compute process, and graphics processes well above what
// a desktop uses at rest.
func Foreign(procs []telemetry.GPUProcess, servers map[int]bool) []telemetry.GPUProcess {
	var out []telemetry.GPUProcess
	for _, p := range procs {
		if servers[p.PID] || isInferenceName(p.Name) {
			continue
		}
		name := strings.ToLower(baseName(p.Name))
		if !p.Compute {
			if desktopShells[name] {
				continue
			}
			busy := (p.HasSM && p.SMPercent >= graphicsBusySM) || (!p.HasSM && p.MemUsed >= graphicsBusyMem)
			if !busy {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

func isInferenceName(name string) bool {
	n := strings.ToLower(baseName(name))
	n = strings.TrimSuffix(n, ".exe")
	for _, s := range inferenceNames {
		if n == s || strings.HasPrefix(n, s+" ") || strings.HasPrefix(n, s+"-") {
			return true
		}
	}
	return false
}

// baseName strips a path ("C:\Games\x.exe", "/usr/bin/blender").
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Guard decides, sample after sample, what to offer. It remembers what it
// needs between calls: when a foreign program was last seen, the throttle's
// level and the user's overrides. Not safe for concurrent use.
type Guard struct {
	Timing Timing

	foreignName string    // the last foreign program seen
	foreignSeen time.Time // when it was last seen
	loadSince   time.Time // since when the GPU has stayed busy with no job of ours
	loadLatched bool      // that load has paused earning: our own jobs no longer explain it
	limit       int       // the thermal guard's level; 0 before the first call
	lastStep    time.Time // when limit last changed
	underSince  time.Time // since when the GPUs stay under the limits less margin
	overridden  map[Cause]bool
	last        Verdict
	active      []Cause // the pauses whose condition holds now, overridden or not
}

// NewGuard returns a Guard with DefaultTiming.
func NewGuard() *Guard { return &Guard{Timing: DefaultTiming} }

// Override is the user's Start earning: the pauses active now stop counting
// until their condition ends and begins again. A hand pause is the engine's
// business and always wins.
func (g *Guard) Override() {
	if g.overridden == nil {
		g.overridden = map[Cause]bool{}
	}
	for _, c := range g.active {
		g.overridden[c] = true
	}
}

// Evaluate decides what to offer at now.
func (g *Guard) Evaluate(s Settings, r Readings, now time.Time) Verdict {
	if g.Timing == (Timing{}) {
		g.Timing = DefaultTiming
	}
	g.active = g.active[:0]
	pauses := []Verdict{}
	add := func(v Verdict) {
		v.Overridable = true
		g.active = append(g.active, v.Cause)
		if !g.overridden[v.Cause] {
			pauses = append(pauses, v)
		}
	}
	if len(s.Schedule) > 0 && !s.Schedule.Open(now) {
		next := s.Schedule.NextOpen(now)
		add(Verdict{Cause: CauseSchedule, Reason: "Outside your earning hours — back " + when(next, now), Until: next})
	}
	if s.Desktop && s.PauseOnBattery && r.OnBattery {
		add(Verdict{Cause: CauseBattery, Reason: "Paused on battery — resumes when you plug in"})
	}
	if v, ok := g.gpuBusy(s, r, now); ok {
		add(v)
	}
	if s.Desktop && s.OnlyWhenIdle > 0 && r.HasIdle && r.IdleFor < s.OnlyWhenIdle {
		until := now.Add(s.OnlyWhenIdle - r.IdleFor)
		add(Verdict{Cause: CauseUserBusy, Reason: "Paused while you use the computer — resumes after " + span(s.OnlyWhenIdle) + " idle", Until: until})
	}
	// A condition that has ended forgets the user's override: the next
	// time it begins, it pauses again.
	for c := range g.overridden {
		if !g.isActive(c) {
			delete(g.overridden, c)
		}
	}
	var v Verdict
	if len(pauses) > 0 {
		v = pauses[0]
	} else {
		v = g.thermal(s, r, now)
	}
	g.last = v
	return v
}

func (g *Guard) isActive(c Cause) bool {
	for _, a := range g.active {
		if a == c {
			return true
		}
	}
	return false
}

// gpuBusy is the step-aside-for-another-program policy: a program seen in
// the process list, or, where the list cannot show games, the GPU busy with
// no job of ours.
func (g *Guard) gpuBusy(s Settings, r Readings, now time.Time) (Verdict, bool) {
	if !s.PauseWhenGPUBusy {
		g.foreignSeen, g.loadSince, g.loadLatched = time.Time{}, time.Time{}, false
		return Verdict{}, false
	}
	util, loaded := g.unexplainedLoad(r, now)
	if r.HasGPU && r.GPU.ProcsOK {
		if f := Foreign(r.GPU.Procs, r.Servers); len(f) > 0 {
			g.foreignName, g.foreignSeen = displayName(f[0].Name), now
			return Verdict{Cause: CauseGPUBusy, Reason: fmt.Sprintf("Paused while %s uses the GPU — resumes %s after it closes", g.foreignName, span(s.ResumeAfter))}, true
		}
	}
	if loaded {
		g.foreignName, g.foreignSeen = "another program", now
		return Verdict{Cause: CauseGPUBusy, Reason: fmt.Sprintf("Paused while another program uses the GPU (%.0f %%) — resumes %s after it stops", util, span(s.ResumeAfter))}, true
	}
	if g.foreignSeen.IsZero() {
		return Verdict{}, false
	}
	until := g.foreignSeen.Add(s.ResumeAfter)
	if !now.Before(until) {
		g.foreignSeen = time.Time{}
		return Verdict{}, false
	}
	return Verdict{Cause: CauseGPUBusy, Reason: fmt.Sprintf("Paused: %s used the GPU — resumes %s", g.foreignName, when(until, now)), Until: until}, true
}

// unexplainedLoad reports the GPU's utilisation once it has stayed at
// loadBusyUtil or more for loadBusyHold while the agent ran no job of its
// own (for ownJobGrace before), on a machine whose process list cannot
// show graphics processes. Where it can (NVML), the list says it better.
// Once the load has paused earning, the agent's own jobs (the user's Start
// earning over the pause) no longer explain it away while it stays high.
func (g *Guard) unexplainedLoad(r Readings, now time.Time) (float64, bool) {
	util, ok := busiestGPU(r)
	graphicsSeen := r.GPU.ProcsOK && r.GPU.ProcsGraphics
	agentIdle := !r.AgentIdleSince.IsZero() && now.Sub(r.AgentIdleSince) >= ownJobGrace
	if !r.HasGPU || graphicsSeen || !ok || util < loadBusyUtil || !agentIdle && !g.loadLatched {
		g.loadSince, g.loadLatched = time.Time{}, false
		return 0, false
	}
	if g.loadSince.IsZero() {
		g.loadSince = now
	}
	if now.Sub(g.loadSince) < loadBusyHold {
		return 0, false
	}
	g.loadLatched = true
	return util, true
}

// busiestGPU is the highest utilisation among the GPUs that read one.
func busiestGPU(r Readings) (float64, bool) {
	util, ok := 0.0, false
	for _, gpu := range r.GPU.GPUs {
		if gpu.Valid.Has(telemetry.FieldUtil) {
			util, ok = math.Max(util, gpu.UtilPercent), true
		}
	}
	return util, ok
}

func displayName(n string) string {
	n = strings.TrimSuffix(baseName(n), ".exe")
	if n == "" {
		return "another program"
	}
	return n
}

// thermal is the temperature and power guard: fewer jobs at a time while a
// GPU is over a limit, step by step back up once it has stayed under.
func (g *Guard) thermal(s Settings, r Readings, now time.Time) Verdict {
	full := Verdict{Limit: s.MaxConcurrent}
	if g.limit <= 0 && g.lastStep.IsZero() || g.limit > s.MaxConcurrent {
		g.limit = s.MaxConcurrent
	}
	if !r.HasGPU || (s.MaxTempC <= 0 && s.MaxPowerW <= 0) {
		g.limit, g.lastStep, g.underSince = s.MaxConcurrent, time.Time{}, time.Time{}
		return full
	}
	hotC, hotW, over, under := 0.0, 0.0, false, true
	for _, gpu := range r.GPU.GPUs {
		if s.MaxTempC > 0 && gpu.Valid.Has(telemetry.FieldTemp) {
			hotC = math.Max(hotC, gpu.TempC)
			over = over || gpu.TempC > s.MaxTempC
			under = under && gpu.TempC <= s.MaxTempC-tempMargin
		}
		if s.MaxPowerW > 0 && gpu.Valid.Has(telemetry.FieldPower) {
			hotW = math.Max(hotW, gpu.PowerW)
			over = over || gpu.PowerW > s.MaxPowerW
			under = under && gpu.PowerW <= s.MaxPowerW*(1-powerMargin)
		}
	}
	switch {
	case over:
		g.underSince = time.Time{}
		if g.limit == s.MaxConcurrent && g.lastStep.IsZero() || now.Sub(g.lastStep) >= g.Timing.StepDown {
			if g.limit > 0 {
				g.limit /= 2 // 8, 4, 2, 1, 0
				g.lastStep = now
			}
		}
	case under:
		if g.underSince.IsZero() {
			g.underSince = now
		}
		if g.limit < s.MaxConcurrent && now.Sub(g.underSince) >= g.Timing.StepUp && now.Sub(g.lastStep) >= g.Timing.StepUp {
			g.limit = min(max(g.limit*2, 1), s.MaxConcurrent)
			g.lastStep = now
			if g.limit == s.MaxConcurrent {
				g.lastStep = time.Time{}
			}
		}
	default: // between the limit and the margin: hold
		g.underSince = time.Time{}
	}
	if g.limit >= s.MaxConcurrent {
		return full
	}
	v := Verdict{Cause: CauseHeat, Limit: g.limit}
	what := fmt.Sprintf("Cooling down: GPU at %.0f °C", hotC)
	if s.MaxTempC <= 0 || hotC <= s.MaxTempC-tempMargin && s.MaxPowerW > 0 && hotW > s.MaxPowerW*(1-powerMargin) {
		v.Cause = CausePower
		what = fmt.Sprintf("Holding power down: GPU at %.0f W", hotW)
	}
	if g.limit == 0 {
		v.Reason = what + " — no jobs until it cools"
	} else {
		v.Reason = fmt.Sprintf("%s, %d of %d jobs at a time", what, g.limit, s.MaxConcurrent)
	}
	return v
}

// when says a moment in the user's words: "at 22:00", or "Mon at 22:00"
// when it is not within the next day.
func when(t, now time.Time) string {
	if t.IsZero() {
		return "later"
	}
	if t.Sub(now) < 20*time.Hour {
		return "at " + t.Format("15:04")
	}
	return t.Format("Mon") + " at " + t.Format("15:04")
}

// span says a duration in words: "2 min", "90 s", "1 h".
func span(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
}
