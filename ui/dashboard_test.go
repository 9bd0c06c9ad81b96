package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"usepod.ai/agent/core/engine"
)

// The Start/Pause button goes through the engine: tapping it changes the
// engine's state, and the label follows the snapshot the dashboard's own
// Watch goroutine receives, not the tap.
func TestDashboardPauseThenStartFollowsSnapshots(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	u, _ := newTestUI(t, eng, nil, Actions{})
	p := newPump(t, u)
	d := u.dashboard()
	go d.watch(t.Context())

	p.until(t, "the first snapshot", func() bool { return d.last.State == engine.StateEarning })
	if got := d.toggle.Text; got != "Pause earning" {
		t.Fatalf("earning: button says %q, want Pause earning", got)
	}

	test.Tap(d.toggle)
	if got := eng.state(); got != engine.StatePaused {
		t.Fatalf("after tapping Pause the engine is %v, want paused", got)
	}
	p.until(t, "the paused snapshot", func() bool { return d.toggle.Text == "Start earning" })
	if got := d.title.Text; got != "Paused" {
		t.Errorf("header = %q, want Paused", got)
	}

	test.Tap(d.toggle)
	p.until(t, "the waiting snapshot", func() bool { return d.toggle.Text == "Pause earning" })
	if got, want := d.title.Text, "Waiting for jobs — 2 models online"; got != want {
		t.Errorf("header = %q, want %q", got, want)
	}
	if want := []string{"pause", "start"}; !slices.Equal(eng.toggles, want) {
		t.Errorf("engine saw %v, want %v", eng.toggles, want)
	}
}

// The offline countdown is live: the dashboard redraws the header every
// second from the same snapshot.
func TestDashboardOfflineCountsDown(t *testing.T) {
	s := engine.Snapshot{State: engine.StateOffline, RetryAt: testClock.Add(8 * time.Second)}
	u, _ := newTestUI(t, newFakeEngine(s), nil, Actions{})
	d := u.dashboard()
	d.apply(s, testClock)
	if got, want := d.title.Text, "Offline — retrying in 8 s"; got != want {
		t.Fatalf("header = %q, want %q", got, want)
	}
	d.applyHeader(testClock.Add(3 * time.Second))
	if got, want := d.title.Text, "Offline — retrying in 5 s"; got != want {
		t.Errorf("3 s later header = %q, want %q", got, want)
	}
}

func modelRowFor(t *testing.T, d *dashboard, id string) *modelRow {
	t.Helper()
	for _, r := range d.models.rows {
		if r.id == id {
			return r
		}
	}
	t.Fatalf("no row for %s", id)
	return nil
}

// Flipping a model's switch calls SetModelEnabled(model, false).
func TestModelSwitchCallsSetModelEnabled(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	u, _ := newTestUI(t, eng, nil, Actions{})
	d := u.dashboard()
	d.apply(earningSnapshot(), testClock)

	r := modelRowFor(t, d, "llama3:8b")
	if !r.on.Checked {
		t.Fatal("llama3:8b should start switched on")
	}
	test.Tap(r.on)
	if want := []switchCall{{"llama3:8b", false}}; !slices.Equal(eng.switches, want) {
		t.Fatalf("SetModelEnabled calls = %v, want %v", eng.switches, want)
	}
	if r.on.Disabled() {
		t.Error("the switch stays disabled after the engine answered")
	}
	if d.models.err.Visible() {
		t.Errorf("an error is shown after a successful switch: %q", d.models.err.Text)
	}

	// A snapshot applied later must not call the engine again.
	d.apply(eng.snap, testClock)
	if len(eng.switches) != 1 {
		t.Errorf("applying a snapshot called SetModelEnabled: %v", eng.switches)
	}
}

// When the engine refuses, the switch snaps back and the error is shown.
func TestModelSwitchErrorIsShownAndReverted(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	eng.switchErr = errors.New("config file is read-only")
	u, _ := newTestUI(t, eng, nil, Actions{})
	d := u.dashboard()
	d.apply(earningSnapshot(), testClock)

	r := modelRowFor(t, d, "gpt-oss:20b")
	test.Tap(r.on)
	if !r.on.Checked {
		t.Error("the switch did not snap back after the engine's error")
	}
	if !d.models.err.Visible() || !strings.Contains(d.models.err.Text, "config file is read-only") {
		t.Errorf("error label = %q (visible %v)", d.models.err.Text, d.models.err.Visible())
	}
}

// The models table shows today's jobs and earnings from the ledger totals.
func TestModelsTableRows(t *testing.T) {
	u, _ := newTestUI(t, newFakeEngine(earningSnapshot()), nil, Actions{})
	d := u.dashboard()
	d.apply(earningSnapshot(), testClock)
	r := modelRowFor(t, d, "gpt-oss:20b")
	got := []string{r.state.Text, r.server.Text, r.ctx.Text, r.price.Text, r.jobs.Text, r.earned.Text}
	want := []string{"Online", "Ollama", "128K", "0.10 / 0.30", "151", "0.039870 USDC"}
	if !slices.Equal(got, want) {
		t.Errorf("row = %q, want %q", got, want)
	}
	r = modelRowFor(t, d, "llama3:8b")
	if r.jobs.Text != "0" || r.earned.Text != "0.000000 USDC" {
		t.Errorf("a model without jobs today shows %q / %q", r.jobs.Text, r.earned.Text)
	}
}

func TestHardwareCard(t *testing.T) {
	u, _ := newTestUI(t, newFakeEngine(earningSnapshot()), nil, Actions{})
	h := u.dashboard().hardware

	h.apply(gpuSample(), []HardwareView{gpuSample(), gpuSample()})
	if len(h.gpus) != 1 || h.gpus[0].name.Text != "NVIDIA GeForce RTX 4090" {
		t.Fatalf("gpu rows = %d", len(h.gpus))
	}
	if got := h.gpus[0].util.text; got != "87 %" {
		t.Errorf("utilization text = %q", got)
	}
	if got := h.gpus[0].mem.text; got != "18.0 / 24.0 GiB" {
		t.Errorf("memory text = %q", got)
	}
	if h.message.Visible() {
		t.Errorf("message shown with good data: %q", h.message.Text)
	}

	h.apply(HardwareView{Err: errUnavailable()}, nil)
	if !h.message.Visible() || h.message.Text != "Hardware readings unavailable: NVML not found" {
		t.Errorf("error message = %q (visible %v)", h.message.Text, h.message.Visible())
	}
	if h.body.Visible() {
		t.Error("meters still shown without data")
	}
}

// Showing and hiding the dashboard tells the sampler, so it can slow down.
func TestDashboardVisibilityReachesSampler(t *testing.T) {
	hw := &fakeHW{view: gpuSample()}
	u, _ := newTestUI(t, newFakeEngine(earningSnapshot()), hw, Actions{Quit: func() {}})
	u.ShowDashboard()
	u.dash.closeRequested() // the window manager's close button
	if got := hw.visibility(); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("SetVisible calls = %v, want [true false]", got)
	}
}

// Closing the dashboard ends the dashboard process through Actions.Quit;
// the agent keeps serving.
func TestDashboardCloseQuits(t *testing.T) {
	quit := 0
	u, _ := newTestUI(t, newFakeEngine(earningSnapshot()), nil, Actions{Quit: func() { quit++ }})
	u.ShowDashboard()
	u.dash.closeRequested()
	if quit != 1 {
		t.Errorf("Quit called %d times, want 1", quit)
	}
}

// The rendered dashboard, as markup: a change in what it shows or how it is
// laid out shows up as a diff in testdata/dashboard_earning.xml.
func TestDashboardMarkup(t *testing.T) {
	u, _ := newTestUI(t, newFakeEngine(earningSnapshot()), &fakeHW{view: gpuSample()}, Actions{})
	d := u.dashboard()
	d.apply(earningSnapshot(), testClock)
	d.hardware.apply(gpuSample(), []HardwareView{gpuSample(), gpuSample()})
	// The test canvas has no frame loop to notice grown minimum sizes; a
	// resize lays everything out again, as the first frame would.
	d.win.Resize(fyne.NewSize(900, 600))
	d.win.Resize(fyne.NewSize(960, 680))
	test.AssertRendersToMarkup(t, "dashboard_earning.xml", d.win.Canvas())
}
