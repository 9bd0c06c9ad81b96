package engine

import (
	"time"

	"usepod.ai/agent/core/explain"
)

// sideProblemWindow is how long a failure that does not stop earning (the
// earnings file, the key store, saving a choice) stays shown after it
// last happened.
const sideProblemWindow = 10 * time.Minute

// problemLocked is the one place that says what is wrong, in plain words,
// from the state and the facts behind it. s is the snapshot being built,
// models included.
func (e *Engine) problemLocked(s Snapshot) explain.Problem {
	switch s.State {
	case StateNeedsEnrollment:
		return explain.NeedsEnrollment()
	case StateEnrollmentRejected:
		p := explain.Rejected(e.authReason)
		p.RetryAt = e.retryAt
		return p
	case StateNoBackends:
		servers := make([]explain.Server, 0, len(e.healths))
		for _, h := range e.healths {
			servers = append(servers, explain.Server{Kind: h.Server.Kind, URL: h.Server.URL, Configured: len(e.cfg.Backends) > 0, Err: h.Err})
		}
		return explain.NoBackends(servers, allSwitchedOff(s.Models))
	case StateOffline:
		p := explain.Error(e.connErr)
		if p.IsZero() {
			p = explain.Problem{Kind: explain.KindNetwork, Summary: "Can't reach Use Pod", Action: "The agent keeps trying by itself."}
		}
		p.RetryAt = e.retryAt
		return p
	}
	// Earning, waiting, paused or connecting: only a recent failure that
	// does not stop earning is worth showing.
	if e.lastErrV == nil || e.opts.Now().Sub(e.lastErrAt) > sideProblemWindow {
		return explain.Problem{}
	}
	switch p := explain.Error(e.lastErrV); p.Kind {
	case explain.KindLedger, explain.KindKeyStore, explain.KindSettings:
		return p
	}
	return explain.Problem{}
}

// allSwitchedOff tells the two causes of StateNoBackends apart: servers
// answer and serve models, but the user has switched every one off.
func allSwitchedOff(models []ModelStatus) bool {
	for _, m := range models {
		if m.Enabled {
			return false
		}
	}
	return len(models) > 0
}
