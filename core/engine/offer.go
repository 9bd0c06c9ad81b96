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

// discoveryLoop re-probes the backends every interval until ctx ends.
func (e *Engine) discoveryLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.DiscoveryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.discover(ctx)
		}
	}
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
	routes := backend.Route(healths) // healthy servers only, by kind preference
	e.mu.Lock()
	for _, old := range e.healths {
		for _, h := range healths {
			if old.Server.URL == h.Server.URL && old.Healthy != h.Healthy {
				e.log.Info("inference server changed", "kind", h.Server.Kind, "url", h.Server.URL, "healthy", h.Healthy, "err", h.Err)
			}
		}
	}
	e.healths, e.routes = healths, routes
	e.mu.Unlock()
	e.offerChanged()
}

// offerableLocked lists the models to offer now, sorted by id: enabled,
// served by a healthy backend, priced above zero, and only while the user
// wants to earn.
func (e *Engine) offerableLocked() []coordinator.CapabilityModel {
	if !e.want {
		return []coordinator.CapabilityModel{}
	}
	models := []coordinator.CapabilityModel{}
	for id, r := range e.routes {
		p := e.cfg.PriceFor(id)
		if !e.cfg.ModelEnabled(id) || (p.InputPer1M == 0 && p.OutputPer1M == 0) {
			continue
		}
		models = append(models, coordinator.CapabilityModel{
			ModelID: id, InputPer1M: p.InputPer1M, OutputPer1M: p.OutputPer1M,
			MaxConcurrent: e.cfg.Limits.MaxConcurrent, Backend: r.Server.Kind, ContextWindow: r.Model.ContextWindow,
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

// offerChanged recomputes what to offer and, on an open session, sends
// capabilities when it differs from what was last sent.
func (e *Engine) offerChanged() {
	// capsMu, not mu, is held across the send: two changes reach the
	// coordinator in order, and a slow socket never blocks a reader of the
	// engine's state (the UI).
	e.capsMu.Lock()
	defer e.capsMu.Unlock()
	e.mu.Lock()
	models := e.offerableLocked()
	key, _ := json.Marshal(struct {
		M []coordinator.CapabilityModel
		L config.Limits
	}{models, e.cfg.Limits})
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
		Limits:   coordinator.CapabilityLimits{MaxConcurrentTotal: e.cfg.Limits.MaxConcurrent},
		Metadata: map[string]string{"agent_version": agentVersion()},
	}
	if n := e.cfg.Limits.MaxTokensPerMinute; n > 0 {
		caps.Limits.MaxTokensPerMinute = &n
	}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(sess.Context(), 5*time.Second)
	err := sess.SendJSON(ctx, caps)
	cancel()
	if err != nil {
		e.log.Warn("could not send capabilities", "err", err)
	} else {
		e.log.Info("offered models to the coordinator", "models", len(models))
	}
	e.publish()
}
