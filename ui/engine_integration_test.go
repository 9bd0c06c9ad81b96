package ui

// The dashboard and the settings window wired to a real *engine.Engine: a
// real ledger, the config saved to a real file, the local coordinator on a
// real WebSocket, and inference servers answering with the real recordings.
// The fake engine of fake_test.go checks what the UI asks; these tests
// check that what it asks has the effect a user expects.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/replay"
	"usepod.ai/agent/internal/testrig/writers"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/keystore"
	"usepod.ai/agent/internal/testrig/localcoord"
)

// liveWait bounds every wait on the engine or the coordinator. Generous:
// the race detector on two shared cores is slow, and a wait that passes
// returns as soon as its condition holds.
const liveWait = 15 * time.Second

// Flipping a model's switch in the dashboard switches it off in the engine,
// writes it to the config file, and re-offers the other models only.
func TestLiveModelSwitchReachesEngineFileAndCoordinator(t *testing.T) {
	r := newLiveRig(t)
	p := r.provider()
	caps, i := r.capabilities(p, 0)
	if got := slices.Sorted(slices.Values(caps.ModelIDs())); !slices.Equal(got, []string{"tiny", "tiny:latest"}) {
		t.Fatalf("first capabilities offer %v, want tiny (llama.cpp) and tiny:latest (Ollama)", got)
	}
	d := r.u.dash
	r.pump.within(t, "a switched-on row for each model", func() bool {
		return len(d.models.rows) == 2 && d.models.rows[0].on.Checked && d.models.rows[1].on.Checked
	})

	row := modelRowFor(t, d, "tiny")
	test.Tap(row.on) // SetModelEnabled runs inline (newTestUI's async) and has returned

	if cfg := r.eng.Config(); cfg.ModelEnabled("tiny") || !cfg.ModelEnabled("tiny:latest") {
		t.Errorf("engine config disabled = %v, want [tiny]", cfg.Models.Disabled)
	}
	onDisk, err := config.Load(r.cfgPath)
	if err != nil {
		t.Fatalf("the saved config does not load: %v", err)
	}
	if !slices.Equal(onDisk.Models.Disabled, []string{"tiny"}) {
		t.Errorf("config file [models] disabled = %v, want [tiny]\n%s", onDisk.Models.Disabled, r.file())
	}

	caps, _ = r.capabilities(p, i+1)
	if got := caps.ModelIDs(); !slices.Equal(got, []string{"tiny:latest"}) {
		t.Errorf("capabilities after the switch offer %v, want only tiny:latest", got)
	}
	if err := p.Err(); err != nil {
		t.Errorf("switching a model ended the session: %v", err)
	}

	// The switch is usable again once the engine's answer is back on the UI
	// goroutine; the snapshot that says tiny is off may come before or after.
	r.pump.within(t, "the engine's answer and the snapshot with tiny switched off", func() bool {
		off := false
		for _, m := range d.last.Models {
			off = off || m.ID == "tiny" && !m.Enabled
		}
		return off && !row.pending
	})
	if row.on.Checked || row.on.Disabled() {
		t.Errorf("tiny's switch: checked %v disabled %v, want off and usable", row.on.Checked, row.on.Disabled())
	}
	if other := modelRowFor(t, d, "tiny:latest"); !other.on.Checked {
		t.Error("tiny:latest's switch went off too")
	}
	if d.models.err.Visible() {
		t.Errorf("error shown after a successful switch: %q", d.models.err.Text)
	}
}

// Pause offers no models, lets the session close normally and shows
// Paused; Start connects again and offers the models again.
func TestLivePauseAndStartButton(t *testing.T) {
	r := newLiveRig(t)
	p := r.provider()
	_, i := r.capabilities(p, 0)
	d := r.u.dash
	r.pump.within(t, "waiting for jobs", func() bool { return d.last.State == engine.StateWaiting })
	if d.toggle.Text != "Pause earning" {
		t.Fatalf("button says %q while waiting for jobs", d.toggle.Text)
	}

	test.Tap(d.toggle)
	r.waitEngine(t, "paused", func(s engine.Snapshot) bool { return s.State == engine.StatePaused })
	caps, ci := r.capabilities(p, i+1)
	if len(caps.Models) != 0 {
		t.Errorf("pausing offered %v, want no models", caps.ModelIDs())
	}
	ctx, cancel := context.WithTimeout(t.Context(), liveWait)
	defer cancel()
	if err := p.Closed(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("session end after pause = %v, want a normal closure", err)
	}
	if frames := p.Frames(); len(frames) != ci+1 {
		t.Errorf("frames after the empty capabilities: %d more, first %s", len(frames)-ci-1, frames[ci+1].Raw)
	}
	r.pump.within(t, "the dashboard to show Paused", func() bool {
		return d.toggle.Text == "Start earning" && d.title.Text == "Paused"
	})

	test.Tap(d.toggle)
	p2 := r.provider()
	caps, _ = r.capabilities(p2, 0)
	if got := slices.Sorted(slices.Values(caps.ModelIDs())); !slices.Equal(got, []string{"tiny", "tiny:latest"}) {
		t.Errorf("after Start offered %v", got)
	}
	if p2.EnrollmentCode != "" {
		t.Error("the enrolled agent sent its enrollment code again")
	}
	r.waitEngine(t, "waiting for jobs", func(s engine.Snapshot) bool { return s.State == engine.StateWaiting })
	r.pump.within(t, "the dashboard to show Pause earning", func() bool { return d.toggle.Text == "Pause earning" })
}

// A pasted code is trimmed and saved to the config file; the new code
// takes a new session.
func TestLiveSettingsSavesPastedCodeToFile(t *testing.T) {
	r := newLiveRig(t)
	p := r.provider()
	r.capabilities(p, 0)
	r.pump.within(t, "enrolled", func() bool { return r.u.dash.last.ProviderID != "" })

	r.u.ShowSettings()
	s := r.u.settings
	paste(r.app, s.code, "  POD-ENROLL-ABCD1234 \n")
	test.Tap(s.save)

	if !strings.Contains(r.file(), `enrollment_code = "POD-ENROLL-ABCD1234"`) {
		t.Errorf("config file lacks the trimmed code:\n%s", r.file())
	}
	if got := r.eng.Config().Coordinator.EnrollmentCode; got != "POD-ENROLL-ABCD1234" {
		t.Errorf("engine code = %q", got)
	}
	r.pump.within(t, "the settings window to close", func() bool { return r.u.settings == nil })
	for k, l := range s.fixedErrs {
		if l.Visible() {
			t.Errorf("error at %s after a good save: %q", k, l.Text)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), liveWait)
	defer cancel()
	if err := p.Closed(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("the old session is still up after a new code: %v", err)
	}
	r.capabilities(r.provider(), 0)
}

// An invalid coordinator URL is refused next to its field and the file on
// disk is left byte for byte as it was.
func TestLiveSettingsInvalidURLLeavesFileUnchanged(t *testing.T) {
	r := newLiveRig(t)
	p := r.provider()
	r.capabilities(p, 0)
	before := r.file()

	r.u.ShowSettings()
	s := r.u.settings
	s.url.SetText("")
	test.Type(s.url, "http://nope")
	test.Tap(s.save)
	r.pump.drain()

	urlErr := s.fixedErrs[keyURL]
	if !urlErr.Visible() || !strings.Contains(urlErr.Text, "wss://") {
		t.Errorf("URL error = %q (visible %v), want one naming wss://", urlErr.Text, urlErr.Visible())
	}
	for k, l := range s.fixedErrs {
		if k != keyURL && l.Visible() {
			t.Errorf("error shown at %s too: %q", k, l.Text)
		}
	}
	if after := r.file(); after != before {
		t.Errorf("the config file changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := r.eng.Config().Coordinator.URL; got != r.coordURL {
		t.Errorf("engine URL = %q, want %q", got, r.coordURL)
	}
	if r.u.settings == nil || s.save.Disabled() {
		t.Error("the window closed, or Save stayed disabled, after the refusal")
	}
	if err := p.Err(); err != nil {
		t.Errorf("a refused save ended the session: %v", err)
	}
}

// liveRig is the UI on the Fyne test app, wired to a running engine.
type liveRig struct {
	t        *testing.T
	app      fyne.App
	u        *UI
	eng      *engine.Engine
	coord    *localcoord.Server
	coordURL string
	cfgPath  string
	pump     pump
	logs     *writers.Locked
}

func newLiveRig(t *testing.T) *liveRig {
	t.Helper()
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // runs last: after everything below has stopped

	r := &liveRig{t: t, coord: localcoord.New(localcoord.Options{}), logs: &writers.Locked{}}
	hs := httptest.NewServer(r.coord.Handler())
	t.Cleanup(hs.Close)
	r.coordURL = "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"
	llama, ollama := replay.LlamaCpp(t), replay.Ollama(t)

	dir := t.TempDir()
	led, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })

	cfg := config.Default()
	cfg.Coordinator.URL = r.coordURL
	cfg.Coordinator.AllowInsecure = true
	cfg.Coordinator.EnrollmentCode = "POD-ENROLL-UITEST01"
	cfg.Backends = []config.Backend{
		{Kind: config.KindLlamaCpp, URL: llama.URL},
		{Kind: config.KindOllama, URL: ollama.URL},
	}
	r.cfgPath = filepath.Join(dir, "agent.toml")
	if err := config.Save(r.cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	r.eng, err = engine.New(engine.Options{
		Config:            cfg,
		KeyStore:          &keystore.MemStore{},
		Ledger:            led,
		SaveConfig:        func(c config.Config) error { return config.Save(r.cfgPath, c) },
		AllowInsecure:     true,
		BackendHTTP:       &http.Client{Transport: transport},
		HeartbeatInterval: time.Hour,
		DiscoveryInterval: time.Hour,
		HandshakeTimeout:  5 * time.Second,
		DrainTimeout:      10 * time.Second,
		Log:               slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopEngine := context.WithCancel(context.Background()) // cancelling stops the engine
	engineDone := make(chan error, 1)
	go func() { engineDone <- r.eng.Run(runCtx) }()
	t.Cleanup(func() {
		stopEngine()
		select {
		case err := <-engineDone:
			if err != nil {
				t.Errorf("engine Run: %v", err)
			}
		case <-time.After(liveWait):
			t.Error("engine Run did not return after cancel")
		}
		if t.Failed() {
			t.Logf("engine log:\n%s", r.logs)
		}
	})

	r.u, r.app = newTestUI(t, r.eng, nil, Actions{})
	r.u.now = time.Now
	r.pump = newPump(t, r.u)
	d := r.u.dashboard()
	watchCtx, stopWatch := context.WithCancel(context.Background()) // cancelling stops the dashboard's goroutine
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.watch(watchCtx) }()
	t.Cleanup(func() { stopWatch(); wg.Wait() })
	return r
}

// provider waits for the engine's next authenticated connection.
func (r *liveRig) provider() *localcoord.Provider {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), liveWait)
	defer cancel()
	p, err := r.coord.Next(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

// capabilities waits for the next capabilities frame at or after index from.
func (r *liveRig) capabilities(p *localcoord.Provider, from int) (localcoord.Capabilities, int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), liveWait)
	defer cancel()
	c, i, err := p.WaitCapabilities(ctx, from)
	if err != nil {
		r.t.Fatalf("wait for capabilities: %v", err)
	}
	return c, i
}

// waitEngine waits until the engine's own snapshot satisfies ok.
func (r *liveRig) waitEngine(t *testing.T, what string, ok func(engine.Snapshot) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), liveWait)
	defer cancel()
	var last engine.Snapshot
	for s := range r.eng.Watch(ctx) {
		if last = s; ok(s) {
			return
		}
	}
	t.Fatalf("timed out waiting for the engine to be %s; it is %v", what, last.State)
}

// file is the config file's text.
func (r *liveRig) file() string {
	r.t.Helper()
	b, err := os.ReadFile(r.cfgPath)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

// within is pump.until with the live tests' longer deadline.
func (p pump) within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(liveWait)
	for !cond() {
		select {
		case f := <-p:
			f()
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// drain runs what is queued for the UI goroutine now.
func (p pump) drain() {
	for {
		select {
		case f := <-p:
			f()
		default:
			return
		}
	}
}
