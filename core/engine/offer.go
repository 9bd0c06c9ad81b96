package engine

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/coordinator"
)

// discoveryLoop re-probes the backends until ctx ends: every
// DiscoveryRetryInterval while no model is found or a server that served
// models is down (so a server started or restarted shows up within seconds),
// every DiscoveryInterval otherwise.
func (e *Engine) discoveryLoop(ctx context.Context) {
	t := time.NewTimer(e.nextDiscovery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.discover(ctx)
			t.Reset(e.nextDiscovery())
		}
	}
}

// nextDiscovery is the wait before the next probe.
func (e *Engine) nextDiscovery() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.routes) == 0 || len(e.down) > 0 {
		return e.opts.DiscoveryRetryInterval
	}
	return e.opts.DiscoveryInterval
}

// downServer is a server that served models and stopped answering: its
// last known models stay in the models table, marked down, not offered.
type downServer struct {
	server backend.Server
	models []backend.Model
	since  time.Time
}

// discover probes the configured backends (the default ports when none
// are configured), rebuilds the routing table and re-offers if the offered
// set changed. It blocks for the probes (a few seconds at most).
func (e *Engine) discover(ctx context.Context) {
	cfg := e.Config()
	servers := make([]backend.Server, 0, len(cfg.Backends))
	for _, b := range cfg.Backends {
		servers = append(servers, backend.Server{Kind: b.Kind, URL: b.URL, APIKey: b.APIKey, Models: b.Models})
	}
	healths := e.backends.Discover(ctx, servers)
	if ctx.Err() != nil {
		return // the probes were cut short: they say nothing about the servers
	}
	routes := backend.Route(healths) // healthy servers only, by kind preference
	e.mu.Lock()
	for _, old := range e.healths {
		for _, h := range healths {
			if old.Server.URL == h.Server.URL && old.Healthy != h.Healthy {
				e.log.Info("inference server changed", "kind", h.Server.Kind, "url", h.Server.URL, "healthy", h.Healthy, "err", h.Err)
			}
		}
	}
	e.down = nextDown(e.down, e.healths, healths, e.opts.Now())
	e.healths, e.routes = healths, routes
	e.mu.Unlock()
	e.offerChanged()
}

// nextDown works out which servers are down with known models after a
// probe: one that was healthy and no longer is goes down now; one already
// down stays down since when it went; one that answers again, or is no
// longer probed (removed, or its settings changed), is dropped.
func nextDown(down map[string]downServer, old, now []backend.Health, at time.Time) map[string]downServer {
	next := map[string]downServer{}
	for _, h := range now {
		if h.Healthy {
			continue
		}
		if d, ok := down[h.Server.URL]; ok && sameServer(d.server, h.Server) {
			next[h.Server.URL] = d
			continue
		}
		for _, o := range old {
			if o.Healthy && len(o.Models) > 0 && sameServer(o.Server, h.Server) {
				next[h.Server.URL] = downServer{server: h.Server, models: slices.Clone(o.Models), since: at}
			}
		}
	}
	return next
}

func sameServer(a, b backend.Server) bool {
	return a.Kind == b.Kind && a.URL == b.URL && slices.Equal(a.Models, b.Models)
}

// offerableLocked lists the models to offer now, sorted by id: enabled,
// served by a healthy backend, priced above zero, only while the user wants
// to earn and no earning policy pauses, each with the jobs at a time the
// policies allow.
func (e *Engine) offerableLocked() []coordinator.CapabilityModel {
	limit := e.limitLocked()
	if !e.want || limit <= 0 {
		return []coordinator.CapabilityModel{}
	}
	return e.servableLocked(limit)
}

// servableLocked lists the models that could be offered, policies aside,
// with limit jobs at a time each.
func (e *Engine) servableLocked(limit int) []coordinator.CapabilityModel {
	models := []coordinator.CapabilityModel{}
	for id, r := range e.routes {
		p := e.cfg.PriceFor(id)
		if !e.cfg.ModelEnabled(id) || (p.InputPer1M == 0 && p.OutputPer1M == 0) {
			continue
		}
		models = append(models, coordinator.CapabilityModel{
			ModelID: id, InputPer1M: p.InputPer1M, OutputPer1M: p.OutputPer1M,
			MaxConcurrent: limit, Backend: r.Server.Kind, ContextWindow: r.Model.ContextWindow,
		})
	}
	slices.SortFunc(models, func(a, b coordinator.CapabilityModel) int {
		if a.ModelID < b.ModelID {
			return -1
		}
		if a.ModelID > b.ModelID {
			return 1
		}
		return 0
	})
	return models
}

// offerChanged recomputes what to offer and, on an open session, queues
// capabilities when it differs from what was last offered. It never blocks
// on the network: offerLoop sends them. The routing table (offeredSet)
// changes at once, so a paused agent refuses new jobs before the
// coordinator has heard of it.
func (e *Engine) offerChanged() {
	e.mu.Lock()
	models := e.offerableLocked()
	limits := e.cfg.Limits
	limits.MaxConcurrent = max(e.limitLocked(), 1) // no models when 0; the total stays valid
	key, _ := json.Marshal(struct {
		M []coordinator.CapabilityModel
		L config.Limits
	}{models, limits})
	sess := e.sess
	if sess == nil || string(key) == e.offered {
		e.mu.Unlock()
		e.publish()
		return
	}
	e.offered = string(key)
	set := make(map[string]bool, len(models))
	for _, m := range models {
		set[m.ModelID] = true
	}
	e.offeredSet = set
	caps := coordinator.Capabilities{
		Type:     "capabilities",
		Models:   models,
		Limits:   coordinator.CapabilityLimits{MaxConcurrentTotal: limits.MaxConcurrent},
		Metadata: map[string]string{"agent_version": agentVersion()},
	}
	if n := e.cfg.Limits.MaxTokensPerMinute; n > 0 {
		caps.Limits.MaxTokensPerMinute = &n
	}
	e.pendingCaps = &pendingOffer{sess: sess, caps: caps} // newest wins
	e.mu.Unlock()
	select {
	case e.offerKick <- struct{}{}:
	default:
	}
	e.publish()
}

// pendingOffer is capabilities computed for one session, not sent yet.
type pendingOffer struct {
	sess *coordinator.Session
	caps coordinator.Capabilities
}

// offerLoop sends the queued capabilities until ctx ends, so that Start,
// Pause and config changes never wait on the coordinator's socket.
func (e *Engine) offerLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.offerKick:
			e.flushOffer()
		}
	}
}

// flushOffer sends the queued capabilities, if any, and returns once they
// are written (bounded by the send timeout). capsMu, not mu, is held
// across the send: two offers reach the coordinator in the order they were
// computed, and a slow socket never blocks a reader of the engine's state.
func (e *Engine) flushOffer() {
	e.capsMu.Lock()
	defer e.capsMu.Unlock()
	e.mu.Lock()
	p := e.pendingCaps
	e.pendingCaps = nil
	e.mu.Unlock()
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(p.sess.Context(), 5*time.Second)
	err := p.sess.SendJSON(ctx, p.caps)
	cancel()
	if err != nil {
		e.log.Warn("could not send capabilities", "err", err)
	} else {
		e.log.Info("offered models to the coordinator", "models", len(p.caps.Models))
	}
	e.publish()
}
