package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
)

// fakeEngine is a hand-written Engine. It keeps one snapshot and one config,
// publishes to its watchers newest-wins like the real engine, validates
// UpdateConfig with the real config.Validate, and records what the UI asked.
type fakeEngine struct {
	mu       sync.Mutex // guards everything below
	snap     engine.Snapshot
	cfg      config.Config
	watchers map[chan engine.Snapshot]struct{}

	toggles    []string     // "start" / "pause", in order
	switches   []switchCall // SetModelEnabled calls, in order
	switchErr  error        // returned by SetModelEnabled when set
	edits      int          // UpdateConfig calls
	saveTo     string       // when set, UpdateConfig saves there with config.Save, as the app does
	detectWith []backend.Health
}

type switchCall struct {
	model string
	on    bool
}

func newFakeEngine(s engine.Snapshot) *fakeEngine {
	cfg := config.Default()
	cfg.Coordinator.EnrollmentCode = "POD-ENROLL-OLD00001"
	cfg.Backends = []config.Backend{{Kind: config.KindOllama, URL: "http://localhost:11434"}}
	return &fakeEngine{snap: s, cfg: cfg, watchers: map[chan engine.Snapshot]struct{}{}}
}

func (e *fakeEngine) Watch(ctx context.Context) <-chan engine.Snapshot {
	ch := make(chan engine.Snapshot, 1)
	e.mu.Lock()
	ch <- e.snap
	e.watchers[ch] = struct{}{}
	e.mu.Unlock()
	go func() {
		<-ctx.Done()
		e.mu.Lock()
		delete(e.watchers, ch)
		close(ch)
		e.mu.Unlock()
	}()
	return ch
}

// publishLocked hands the snapshot to every watcher, replacing one it has
// not read yet.
func (e *fakeEngine) publishLocked() {
	for ch := range e.watchers {
		select {
		case <-ch:
		default:
		}
		ch <- e.snap
	}
}

// update edits the snapshot and publishes it.
func (e *fakeEngine) update(f func(*engine.Snapshot)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.snap)
	e.publishLocked()
}

func (e *fakeEngine) Start() {
	e.update(func(s *engine.Snapshot) { s.State = engine.StateWaiting })
	e.mu.Lock()
	e.toggles = append(e.toggles, "start")
	e.mu.Unlock()
}

func (e *fakeEngine) Pause() {
	e.update(func(s *engine.Snapshot) { s.State = engine.StatePaused })
	e.mu.Lock()
	e.toggles = append(e.toggles, "pause")
	e.mu.Unlock()
}

func (e *fakeEngine) SetModelEnabled(model string, on bool) error {
	e.mu.Lock()
	e.switches = append(e.switches, switchCall{model, on})
	err := e.switchErr
	e.mu.Unlock()
	if err != nil {
		return err
	}
	e.update(func(s *engine.Snapshot) {
		for i := range s.Models {
			if s.Models[i].ID == model {
				s.Models[i].Enabled = on
			}
		}
	})
	return nil
}

func (e *fakeEngine) UpdateConfig(edit func(*config.Config)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.edits++
	c := e.cfg.Clone()
	edit(&c)
	if err := c.Validate(); err != nil {
		return err
	}
	if e.saveTo != "" {
		if err := config.Save(e.saveTo, c); err != nil {
			return fmt.Errorf("save settings: %w", err) // as engine.UpdateConfig words it
		}
	}
	e.cfg = c
	return nil
}

func (e *fakeEngine) Config() config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.Clone()
}

func (e *fakeEngine) Detect(ctx context.Context) []backend.Health {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.detectWith)
}

func (e *fakeEngine) state() engine.State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snap.State
}

// fakeHW is a HardwareSource with a fixed sample.
type fakeHW struct {
	mu      sync.Mutex // guards visible
	view    HardwareView
	visible []bool
}

func (h *fakeHW) Latest() HardwareView    { return h.view }
func (h *fakeHW) History() []HardwareView { return []HardwareView{h.view, h.view} }
func (h *fakeHW) SetVisible(v bool)       { h.mu.Lock(); h.visible = append(h.visible, v); h.mu.Unlock() }
func (h *fakeHW) visibility() (out []bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.visible)
}
func gpuSample() HardwareView {
	return HardwareView{GPUs: []GPUView{testGPU}, CPUPercent: 20, MemUsed: 8 << 30, MemTotal: 32 << 30}
}
func errUnavailable() error { return errors.New("NVML not found") }

var testGPU = GPUView{Index: 0, Name: "NVIDIA GeForce RTX 4090", UtilPercent: 87, HasUtil: true,
	MemUsed: 18 << 30, MemTotal: 24 << 30, HasMem: true, TempC: 71, HasTemp: true, PowerW: 280, PowerLimitW: 450, HasPower: true}

// testClock is the fixed "now" of the widget tests: 14:20 UTC.
var testClock = time.Date(2026, 3, 4, 14, 20, 0, 0, time.UTC)

// earningSnapshot is a typical busy agent.
func earningSnapshot() engine.Snapshot {
	return engine.Snapshot{
		State:       engine.StateEarning,
		Coordinator: config.DefaultCoordinatorURL,
		ProviderID:  "prov_1",
		Models: []engine.ModelStatus{
			{ID: "gpt-oss:20b", Backend: "ollama", ContextWindow: 131072, Healthy: true, Enabled: true, Offered: true, InputPer1M: 100000, OutputPer1M: 300000},
			{ID: "llama3:8b", Backend: "ollama", ContextWindow: 8192, Healthy: true, Enabled: true, Offered: true, InputPer1M: 50000, OutputPer1M: 150000},
		},
		Backends:     []engine.BackendStatus{{Kind: "ollama", URL: "http://localhost:11434", Healthy: true, Models: 2}},
		JobsInFlight: 1,
		Earnings: ledger.Totals{
			TodayMicro: 48_213, Last7dMicro: 412_907, TotalMicro: 2_734_118, TodayJobs: 214, Jobs: 9_322,
			Models: []ledger.ModelTotal{{Model: "gpt-oss:20b", TodayJobs: 151, TodayMicro: 39_870}},
		},
		Hourly: []ledger.HourBucket{
			{Start: testClock.Truncate(time.Hour).Add(-time.Hour), Micro: 3000},
			{Start: testClock.Truncate(time.Hour), Micro: 1000},
		},
	}
}

// newTestUI builds a UI on the test app whose goroutine seams run inline:
// a "blocking" call and its report back both happen before the tap that
// caused them returns, which keeps every widget on the test goroutine.
func newTestUI(t *testing.T, eng Engine, hw HardwareSource, actions Actions) (*UI, fyne.App) {
	t.Helper()
	a := test.NewTempApp(t)
	u := newUI(a, eng, hw, actions, nil)
	u.do = func(f func()) { f() }
	u.async = func(f func()) { f() }
	u.now = func() time.Time { return testClock }
	return u, a
}

// pump plays the UI goroutine for surface goroutines under test: it runs
// what they hand to u.do, on the test goroutine, until cond holds.
type pump chan func()

func newPump(t *testing.T, u *UI) pump {
	p := make(pump, 64)
	ctx := t.Context()
	u.do = func(f func()) {
		select {
		case p <- f:
		case <-ctx.Done():
		}
	}
	return p
}

func (p pump) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case f := <-p:
			f()
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
