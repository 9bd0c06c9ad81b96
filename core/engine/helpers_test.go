package engine

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/keystore"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testCode = "POD-ENROLL-TEST0001"

// waits records the reconnect waits the engine asked for and returns at once.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) after(d time.Duration) <-chan time.Time {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

func (w *waits) list() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// harness is one engine wired to a local coordinator and replay backends.
type harness struct {
	t      *testing.T
	coord  *localcoord.Server
	url    string
	eng    *Engine
	store  *keystore.MemStore
	ledger *ledger.Ledger
	saved  []config.Config
	waits  *waits
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
}

type harnessOpt func(*harness, *Options)

func withBackends(servers ...*replay.Server) harnessOpt {
	return func(h *harness, o *Options) {
		for _, s := range servers {
			o.Config.Backends = append(o.Config.Backends, config.Backend{Kind: s.Kind, URL: s.URL})
		}
	}
}

func withConfig(edit func(*config.Config)) harnessOpt {
	return func(h *harness, o *Options) { edit(&o.Config) }
}

func withOptions(edit func(*Options)) harnessOpt {
	return func(h *harness, o *Options) { edit(o) }
}

func newHarness(t *testing.T, copts localcoord.Options, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, coord: localcoord.New(copts), store: &keystore.MemStore{}, waits: &waits{}}
	hs := httptest.NewServer(h.coord.Handler())
	t.Cleanup(hs.Close)
	h.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	h.ledger = led
	t.Cleanup(func() { led.Close() })

	cfg := config.Default()
	cfg.Coordinator.URL = h.url
	cfg.Coordinator.AllowInsecure = true
	cfg.Coordinator.EnrollmentCode = testCode
	o := Options{
		Config:            cfg,
		KeyStore:          h.store,
		Ledger:            led,
		SaveConfig:        func(c config.Config) error { h.mu.Lock(); h.saved = append(h.saved, c); h.mu.Unlock(); return nil },
		HeartbeatInterval: time.Hour,
		DiscoveryInterval: time.Hour,
		HandshakeTimeout:  5 * time.Second,
		DrainTimeout:      10 * time.Second,
		After:             h.waits.after,
		Rand:              func() float64 { return 0.5 }, // jitter factor 1.0
	}
	for _, f := range opts {
		f(h, &o)
	}
	eng, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- eng.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

// stop cancels the engine and waits for Run to return.
func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
		h.done <- nil // let a second stop return too
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return after cancel")
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// provider waits for the next authenticated connection.
func (h *harness) provider() *localcoord.Provider {
	h.t.Helper()
	p, err := h.coord.Next(ctxT(h.t))
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// capabilities waits for the next capabilities frame from index from.
func capabilities(t *testing.T, p *localcoord.Provider, from int) (localcoord.Capabilities, int) {
	t.Helper()
	c, i, err := p.WaitCapabilities(ctxT(t), from)
	if err != nil {
		t.Fatalf("wait for capabilities: %v", err)
	}
	return c, i
}

// waitState waits until the engine's snapshot satisfies ok.
func (h *harness) waitState(ok func(Snapshot) bool, what string) Snapshot {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := h.eng.Watch(ctx)
	var last Snapshot
	for s := range ch {
		last = s
		if ok(s) {
			return s
		}
	}
	h.t.Fatalf("timed out waiting for %s; last state %v (%+v)", what, last.State, last)
	return last
}

func stateIs(st State) func(Snapshot) bool { return func(s Snapshot) bool { return s.State == st } }

func chatRequest() map[string]any {
	return map[string]any{"messages": []map[string]string{{"role": "user", "content": "hi"}}, "max_tokens": 8}
}
