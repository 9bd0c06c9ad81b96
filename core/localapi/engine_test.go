package localapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/keystore"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// TestRealEngineThroughTheSocket drives a real engine, connected to the
// local coordinator and a replayed llama.cpp, through the client.
func TestRealEngineThroughTheSocket(t *testing.T) {
	coord := localcoord.New(localcoord.Options{})
	hs := httptest.NewServer(coord.Handler())
	defer hs.Close()
	llama := replay.LlamaCpp(t)
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	cfg := config.Default()
	cfg.Coordinator.URL = "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"
	cfg.Coordinator.AllowInsecure = true
	cfg.Coordinator.EnrollmentCode = "POD-ENROLL-TEST0001"
	cfg.Backends = []config.Backend{{Kind: llama.Kind, URL: llama.URL}}
	eng, err := engine.New(engine.Options{Config: cfg, KeyStore: &keystore.MemStore{}, Ledger: led,
		HeartbeatInterval: time.Hour, DiscoveryInterval: time.Hour, HandshakeTimeout: 5 * time.Second, DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ectx, stopEngine := context.WithCancel(context.Background())
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Run(ectx) }()
	defer func() {
		stopEngine()
		if err := <-engDone; err != nil {
			t.Error(err)
		}
	}()

	s := serve(t, ServerOptions{Engine: eng})
	defer s.stop(t) // before the engine stops: the watch streams end first
	c := s.client
	ctx := ctxT(t)

	waitFor := func(what string, ok func(engine.Snapshot) bool) engine.Snapshot {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var last engine.Snapshot
		for sn := range c.Watch(wctx) {
			if last = sn; ok(sn) {
				return sn
			}
		}
		t.Fatalf("timed out waiting for %s; last %v %+v", what, last.State, last)
		return last
	}
	p, err := coord.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sn := waitFor("waiting for jobs", func(s engine.Snapshot) bool { return s.State == engine.StateWaiting })
	if len(sn.Models) != 1 || sn.Models[0].ID != "tiny" || !sn.Models[0].Offered || sn.ProviderID != p.ID {
		t.Fatalf("snapshot through the socket = %+v", sn)
	}

	if err := c.SetModelEnabled("tiny", false); err != nil {
		t.Fatal(err)
	}
	caps, _, err := p.WaitCapabilities(ctx, 1)
	if err != nil || len(caps.Models) != 0 {
		t.Fatalf("capabilities after switching tiny off: %+v, %v", caps, err)
	}
	waitFor("tiny off", func(s engine.Snapshot) bool { return len(s.Models) == 1 && !s.Models[0].Enabled })

	c.Pause()
	waitFor("paused", func(s engine.Snapshot) bool { return s.State == engine.StatePaused })
	if err := c.SetEarning(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitFor("no backends (tiny is off)", func(s engine.Snapshot) bool { return s.State == engine.StateNoBackends })

	err = c.UpdateConfig(func(c *config.Config) { c.Limits.MaxConcurrent = 1000 })
	var ve *config.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Key != "limits.max_concurrent" {
		t.Fatalf("invalid change through the socket: %#v", err)
	}
	if err := c.UpdateConfig(func(c *config.Config) { c.Limits.MaxConcurrent = 2 }); err != nil {
		t.Fatal(err)
	}
	if got := eng.Config().Limits.MaxConcurrent; got != 2 {
		t.Fatalf("engine max_concurrent = %d after UpdateConfig, want 2", got)
	}
	if got := c.Config().Limits.MaxConcurrent; got != 2 {
		t.Fatalf("client Config().Limits.MaxConcurrent = %d, want 2", got)
	}
	st, err := c.Status(ctx)
	if err != nil || st.Engine().State != engine.StateNoBackends || st.PID == 0 {
		t.Fatalf("status = %+v, %v", st, err)
	}
}
