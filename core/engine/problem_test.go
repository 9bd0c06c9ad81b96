package engine

import (
	"net"
	"strings"
	"testing"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/explain"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// The snapshot says what is wrong in plain words, computed from the state,
// with the technical text kept for Details.
func TestSnapshotProblemInPlainWords(t *testing.T) {
	t.Run("coordinator refuses connections", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withConfig(func(c *config.Config) {
			c.Coordinator.URL = "ws://" + addr + "/provider/connect"
		}))
		s := h.waitState(func(s Snapshot) bool { return s.State == StateOffline }, "offline")
		if s.Problem.Summary != "Use Pod refused the connection" || s.Problem.RetryAt.IsZero() || !strings.Contains(s.Problem.Detail, "refused") {
			t.Errorf("Problem = %+v", s.Problem)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		h := newHarness(t, localcoord.Options{RejectReason: "enrollment code expired"}, withBackends(replay.LlamaCpp(t)))
		s := h.waitState(stateIs(StateEnrollmentRejected), "rejected")
		if s.Problem.Summary != "Use Pod turned this agent away: enrollment code expired" || s.Problem.Kind != explain.KindEnrollment {
			t.Errorf("Problem = %+v", s.Problem)
		}
	})
	t.Run("no inference server", func(t *testing.T) {
		h := newHarness(t, localcoord.Options{}, withConfig(func(c *config.Config) {
			c.Backends = []config.Backend{{Kind: "ollama", URL: "http://127.0.0.1:1"}}
		}))
		s := h.waitState(func(s Snapshot) bool { return s.State == StateNoBackends && len(s.Backends) == 1 }, "no backends")
		if s.Problem.Summary != "Ollama isn't running at 127.0.0.1:1" {
			t.Errorf("Problem = %+v", s.Problem)
		}
	})
	t.Run("needs enrollment", func(t *testing.T) {
		h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withConfig(func(c *config.Config) { c.Coordinator.EnrollmentCode = "" }))
		s := h.waitState(stateIs(StateNeedsEnrollment), "needs enrollment")
		if s.Problem != explain.NeedsEnrollment() {
			t.Errorf("Problem = %+v", s.Problem)
		}
	})
	t.Run("nothing wrong while waiting", func(t *testing.T) {
		h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)))
		s := h.waitState(stateIs(StateWaiting), "waiting")
		if !s.Problem.IsZero() {
			t.Errorf("Problem = %+v while all is well", s.Problem)
		}
	})
}
