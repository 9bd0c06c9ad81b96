package engine

import (
	"time"

	"usepod.ai/agent/core/policy"
)

// Observe gives the engine fresh readings for the earning policies (GPU
// telemetry, idle time, battery); the app calls it after every telemetry
// sample, which also keeps the schedule checked. It re-offers at once when
// the verdict changes. It does not block on the network.
func (e *Engine) Observe(r policy.Readings) {
	e.mu.Lock()
	e.readings = r
	e.evaluateLocked()
	e.mu.Unlock()
	e.offerChanged()
}

// evaluateLocked runs the policies over the latest readings (none before
// the first Observe: then only the schedule can apply) and keeps the
// verdict, logging each change.
func (e *Engine) evaluateLocked() {
	r := e.readings
	r.AgentIdleSince = e.idleSinceLocked()
	v := e.guard.Evaluate(policy.FromConfig(e.cfg, e.opts.Desktop), r, e.opts.Now())
	if v.Cause != e.verdict.Cause || v.Limit != e.verdict.Limit {
		if v.Cause == policy.CauseNone {
			e.log.Info("earning policy lifted", "was", e.verdict.Reason)
		} else {
			e.log.Info("earning policy applies", "cause", v.Cause, "limit", v.Limit, "reason", v.Reason)
		}
	}
	e.verdict = v
}

// idleSinceLocked is since when the agent has run none of its own jobs
// (zero while one runs): a job that ends sets lastJobAt, and before the
// first job the agent has been idle since it started.
func (e *Engine) idleSinceLocked() time.Time {
	if e.jobs == nil || e.jobs.InFlight() > 0 {
		return time.Time{}
	}
	if e.lastJobAt.IsZero() {
		return e.started
	}
	return e.lastJobAt
}

// limitLocked is how many jobs at a time to offer now: the user's
// max_concurrent, lowered by the policies (0 offers no models).
func (e *Engine) limitLocked() int {
	return min(e.verdict.Limit, e.cfg.Limits.MaxConcurrent)
}

// overrideLocked is the user's Start earning during an automatic pause:
// the pause stops counting until its condition next begins.
func (e *Engine) overrideLocked() {
	if e.verdict.Paused() && e.verdict.Overridable {
		e.log.Info("earning started over an automatic pause", "cause", e.verdict.Cause)
		e.guard.Override()
		e.evaluateLocked()
	}
}

// policyLocked is the verdict for the snapshot.
func (e *Engine) policyLocked() policy.Verdict { return e.verdict }
