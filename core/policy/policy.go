// Package policy decides when the agent steps aside so that earning never
// gets in the user's way: while another program uses the GPU, while the
// user is at the keyboard (when asked), on battery, outside the earning
// hours, and while a GPU runs too hot or draws too much power. It is pure:
// a Guard turns readings, settings and the time into a Verdict; the engine
// applies it where it computes what to offer.
package policy

import (
	"strings"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/policy/schedule"
	"usepod.ai/agent/core/telemetry"
)

// Settings are the [earning] settings, parsed, plus the user's own limit.
type Settings struct {
	PauseWhenGPUBusy bool
	ResumeAfter      time.Duration
	OnlyWhenIdle     time.Duration // 0 = off
	PauseOnBattery   bool
	Schedule         schedule.Schedule
	MaxTempC         float64 // 0 = no limit
	MaxPowerW        float64 // 0 = no limit
	MaxConcurrent    int     // the user's limits.max_concurrent
	// Desktop: the idle and battery policies apply (never headless).
	Desktop bool
}

// FromConfig parses c's [earning] settings. Validate has checked them; an
// unreadable value falls back to its default.
func FromConfig(c config.Config, desktop bool) Settings {
	e := c.Earning
	s := Settings{
		PauseWhenGPUBusy: e.PauseWhenGPUBusy,
		ResumeAfter:      2 * time.Minute,
		PauseOnBattery:   e.PauseOnBattery,
		MaxTempC:         float64(e.MaxGPUTempC),
		MaxPowerW:        float64(e.MaxGPUPowerW),
		MaxConcurrent:    max(c.Limits.MaxConcurrent, 1),
		Desktop:          desktop,
	}
	if d, err := time.ParseDuration(strings.TrimSpace(e.ResumeAfter)); err == nil && d >= 0 {
		s.ResumeAfter = d
	}
	if d, err := time.ParseDuration(strings.TrimSpace(e.OnlyWhenIdle)); err == nil && d > 0 {
		s.OnlyWhenIdle = d
	}
	if sch, err := schedule.Parse(e.Schedule); err == nil {
		s.Schedule = sch
	}
	return s
}

// Readings are what the Guard looks at, taken at one moment.
type Readings struct {
	// GPU is the latest telemetry sample; HasGPU false when there is none
	// (no GPU, or not sampled yet): the GPU policies then do nothing.
	GPU    telemetry.Sample
	HasGPU bool
	// Servers are the inference servers' process ids (and their children):
	// their GPU use never counts.
	Servers map[int]bool
	// IdleFor is how long keyboard and mouse have been idle, when HasIdle.
	IdleFor time.Duration
	HasIdle bool
	// OnBattery: the machine runs on battery (false when unknown).
	OnBattery bool
	// AgentIdleSince is since when the agent has run none of its own jobs;
	// zero while one runs, or when not known. The engine fills it in: where
	// the process list cannot show games, the GPU's overall utilisation
	// counts as another program's only once the agent has been idle a while.
	AgentIdleSince time.Time
}

// Cause is why the Guard steps aside.
type Cause string

const (
	CauseNone     Cause = ""
	CauseSchedule Cause = "schedule"
	CauseBattery  Cause = "battery"
	CauseGPUBusy  Cause = "gpu_busy"
	CauseUserBusy Cause = "user_active"
	CauseHeat     Cause = "heat"
	CausePower    Cause = "power"
)

// Verdict is what to offer now and why.
type Verdict struct {
	Cause Cause `json:"cause,omitempty"`
	// Limit is how many jobs at a time to offer: 0 offers no models;
	// Settings.MaxConcurrent when nothing applies.
	Limit int `json:"limit"`
	// Reason says why, in plain words ("" when nothing applies).
	Reason string `json:"reason,omitempty"`
	// Until is when it lifts, where known (the schedule's next window, the
	// end of resume_after).
	Until time.Time `json:"until,omitzero"`
	// Overridable: a pause the user may override with Start earning.
	Overridable bool `json:"overridable,omitempty"`
}

// Paused reports whether no models are offered.
func (v Verdict) Paused() bool { return v.Limit == 0 }
