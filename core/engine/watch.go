package engine

import (
	"context"
	"slices"
	"strings"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/policy"
)

// publishEvery is the longest a snapshot goes unrefreshed: the "earning"
// to "waiting" switch and the day's totals depend on the clock alone.
const publishEvery = 30 * time.Second

// Watch returns a channel of snapshots. The first value is the full current
// state; after that a slow reader gets the newest snapshot, never a
// backlog, and never blocks the engine. The channel closes when ctx ends.
func (e *Engine) Watch(ctx context.Context) <-chan Snapshot {
	ch := make(chan Snapshot, 1)
	e.mu.Lock()
	ch <- e.snapshotLocked()
	e.watchers[ch] = struct{}{}
	e.mu.Unlock()
	context.AfterFunc(ctx, func() {
		e.mu.Lock()
		delete(e.watchers, ch)
		close(ch)
		e.mu.Unlock()
	})
	return ch
}

// Snapshot returns the current state.
func (e *Engine) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snapshotLocked()
}

// publish asks the publisher to send a fresh snapshot. It never blocks.
func (e *Engine) publish() {
	select {
	case e.dirty <- struct{}{}:
	default:
	}
}

// refreshEvery bounds how often the earnings are read back from the
// ledger: under a steady stream of jobs, reading them after every job would
// cost more CPU than relaying them.
const refreshEvery = time.Second

// publishLoop coalesces publish requests, refreshes the earnings from the
// ledger when a job has been recorded (at most every refreshEvery), and
// hands each watcher the newest snapshot.
func (e *Engine) publishLoop(ctx context.Context) {
	t := time.NewTicker(publishEvery)
	defer t.Stop()
	var lastRefresh time.Time
	refresh := time.NewTimer(0) // fires when a held-back refresh is due
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.dirty:
		case <-refresh.C:
		case <-t.C:
			e.mu.Lock()
			e.ledgerDirty = true
			e.mu.Unlock()
		}
		if wait := refreshEvery - time.Since(lastRefresh); wait > 0 {
			refresh.Reset(wait) // publish the rest now, the earnings soon
		} else if e.refreshEarnings(ctx) {
			lastRefresh = time.Now()
		}
		e.mu.Lock()
		s := e.snapshotLocked()
		if s.State != e.lastState {
			if s.Problem.IsZero() {
				e.log.Info("state changed", "state", s.State.String(), "was", e.lastState.String())
			} else { // the plain words, for headless servers whose only surface is the log
				e.log.Info("state changed", "state", s.State.String(), "was", e.lastState.String(),
					"problem", s.Problem.Summary, "what_to_do", s.Problem.Action)
			}
			e.lastState = s.State
		}
		for ch := range e.watchers {
			select { // newest wins: drop the unread one
			case <-ch:
			default:
			}
			ch <- s
		}
		e.mu.Unlock()
	}
}

// refreshEarnings reads the totals back when a job was recorded since the
// last read, and reports whether it read them.
func (e *Engine) refreshEarnings(ctx context.Context) bool {
	e.mu.Lock()
	dirty := e.ledgerDirty
	e.ledgerDirty = false
	e.mu.Unlock()
	if !dirty {
		return false
	}
	now := e.opts.Now()
	totals, err := e.opts.Ledger.Totals(ctx, now)
	if err != nil {
		e.log.Warn("could not read earnings", "err", err)
		return true
	}
	hourly, err := e.opts.Ledger.Hourly(ctx, now, 24)
	if err != nil {
		e.log.Warn("could not read hourly earnings", "err", err)
		return true
	}
	e.mu.Lock()
	e.totals, e.hourly = totals, hourly
	e.mu.Unlock()
	return true
}

// nextStateLocked derives the one state word from the facts.
func (e *Engine) nextStateLocked(inFlight int) State {
	switch {
	case !e.want:
		return StatePaused
	case e.id != nil && !e.canEnrollLocked():
		return StateNeedsEnrollment
	case e.sess == nil && e.authReason != "":
		return StateEnrollmentRejected
	case len(e.servableLocked(1)) == 0 && inFlight == 0: // a policy's pause is not "no backends"
		return StateNoBackends
	case e.sess == nil && !e.retryAt.IsZero():
		return StateOffline
	case e.sess == nil:
		return StateConnecting
	case inFlight > 0 || (!e.lastJobAt.IsZero() && e.opts.Now().Sub(e.lastJobAt) < earningWindow):
		return StateEarning
	}
	return StateWaiting
}

// ledgerProblem is a ledger that keeps jobs it cannot write yet and says
// why (*ledger.Keeper). Problem must not block: it is called under e.mu.
type ledgerProblem interface{ Problem() string }

func (e *Engine) snapshotLocked() Snapshot {
	inFlight := e.jobs.InFlight()
	s := Snapshot{
		State:        e.nextStateLocked(inFlight),
		Reason:       e.authReason,
		Policy:       e.policyLocked(),
		RetryAt:      e.retryAt,
		Coordinator:  e.cfg.Coordinator.URL,
		Connected:    e.sess != nil,
		Sessions:     e.sessions,
		JobsInFlight: inFlight,
		JobsServed:   e.jobs.Served(),
		Earnings:     e.totals,
		Hourly:       slices.Clone(e.hourly),
		LastError:    e.lastErr,
		LastErrorAt:  e.lastErrAt,
		KeyWhere:     e.opts.KeyStore.Where(),
	}
	if e.id != nil {
		s.ProviderID, s.PublicKey = e.id.ProviderID, e.id.PublicBase64()
	}
	if e.idSaveErr != "" {
		s.Problems = append(s.Problems, e.idSaveErr)
	}
	if lp, ok := e.opts.Ledger.(ledgerProblem); ok {
		if p := lp.Problem(); p != "" {
			s.Problems = append(s.Problems, p)
		}
	}
	for _, h := range e.healths {
		b := BackendStatus{Kind: h.Server.Kind, URL: h.Server.URL, Healthy: h.Healthy, Models: len(h.Models)}
		if h.Err != nil {
			b.Error = h.Err.Error()
		}
		s.Backends = append(s.Backends, b)
	}
	for id, r := range e.routes {
		p := e.cfg.PriceFor(id)
		s.Models = append(s.Models, ModelStatus{
			ID: id, Backend: r.Server.Kind, BackendURL: r.Server.URL, ContextWindow: r.Model.ContextWindow,
			Healthy: true, // the routing table holds healthy servers only; down ones follow
			Enabled: e.cfg.ModelEnabled(id), Offered: e.offeredSet[id],
			InputPer1M: p.InputPer1M, OutputPer1M: p.OutputPer1M,
		})
	}
	for _, d := range e.down {
		for _, m := range d.models {
			if _, up := e.routes[m.ID]; up || slices.ContainsFunc(s.Models, func(x ModelStatus) bool { return x.ID == m.ID }) {
				continue // another server serves it, or another down server listed it
			}
			p := e.cfg.PriceFor(m.ID)
			s.Models = append(s.Models, ModelStatus{
				ID: m.ID, Backend: d.server.Kind, BackendURL: d.server.URL, ContextWindow: m.ContextWindow,
				DownSince: d.since, Enabled: e.cfg.ModelEnabled(m.ID),
				InputPer1M: p.InputPer1M, OutputPer1M: p.OutputPer1M,
			})
		}
	}
	slices.SortFunc(s.Models, func(a, b ModelStatus) int { return strings.Compare(a.ID, b.ID) })
	s.Problem = e.problemLocked(s)
	if s.Reason == "" && e.want && s.Policy.Cause != policy.CauseNone {
		s.Reason = s.Policy.Reason // a hand pause wins: no automatic reason then
	}
	return s
}

// Backends reports the last probe of every inference server.
func (e *Engine) Backends() []backend.Health {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.healths)
}
