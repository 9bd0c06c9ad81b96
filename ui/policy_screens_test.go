package ui

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/policy"
	"usepod.ai/agent/ui/present"
)

// Each earning policy's reason is the dashboard's header, and the toggle
// offers Start earning over an automatic pause (not over a throttle). The
// windows are saved as PNGs under screenshots/ at the module root (ignored
// by git) to be looked at.
func TestDashboardShowsPolicyReasons(t *testing.T) {
	for _, tc := range []struct {
		file   string
		state  engine.State
		v      policy.Verdict
		toggle string
	}{
		{"policy-gpu-busy.png", engine.StateWaiting, policy.Verdict{Cause: policy.CauseGPUBusy, Overridable: true,
			Reason: "Paused while blender uses the GPU — resumes 2 min after it closes"}, "Start earning"},
		{"policy-gpu-resuming.png", engine.StateWaiting, policy.Verdict{Cause: policy.CauseGPUBusy, Overridable: true,
			Reason: "Paused: blender used the GPU — resumes at 14:22"}, "Start earning"},
		{"policy-schedule.png", engine.StateWaiting, policy.Verdict{Cause: policy.CauseSchedule, Overridable: true,
			Reason: "Outside your earning hours — back at 22:00"}, "Start earning"},
		{"policy-idle.png", engine.StateWaiting, policy.Verdict{Cause: policy.CauseUserBusy, Overridable: true,
			Reason: "Paused while you use the computer — resumes after 5 min idle"}, "Start earning"},
		{"policy-battery.png", engine.StateWaiting, policy.Verdict{Cause: policy.CauseBattery, Overridable: true,
			Reason: "Paused on battery — resumes when you plug in"}, "Start earning"},
		{"policy-heat.png", engine.StateEarning, policy.Verdict{Cause: policy.CauseHeat, Limit: 2,
			Reason: "Cooling down: GPU at 86 °C, 2 of 8 jobs at a time"}, "Pause earning"},
		{"policy-power.png", engine.StateEarning, policy.Verdict{Cause: policy.CausePower, Limit: 1,
			Reason: "Holding power down: GPU at 342 W, 1 of 8 jobs at a time"}, "Pause earning"},
		{"policy-heat-stop.png", engine.StateWaiting, policy.Verdict{Cause: policy.CauseHeat,
			Reason: "Cooling down: GPU at 91 °C — no jobs until it cools"}, "Pause earning"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s := earningSnapshot()
			s.State, s.Policy, s.Reason = tc.state, tc.v, tc.v.Reason
			if tc.v.Paused() {
				for i := range s.Models {
					s.Models[i].Offered = false
				}
			}
			eng := newFakeEngine(s)
			u, _ := newTestUI(t, eng, &fakeHW{}, Actions{})
			p := newPump(t, u)
			d := u.dashboard()
			go d.watch(t.Context())
			p.until(t, "the snapshot", func() bool { return d.last.Policy.Cause == tc.v.Cause })
			if d.title.Text != tc.v.Reason {
				t.Errorf("header %q, want %q", d.title.Text, tc.v.Reason)
			}
			if d.toggle.Text != tc.toggle {
				t.Errorf("toggle %q, want %q", d.toggle.Text, tc.toggle)
			}
			if tray := present.TrayItems(s); tray.Status[:len(tc.v.Reason)] != tc.v.Reason {
				t.Errorf("tray status %q", tray.Status)
			}
			d.win.Resize(dashboardSize)
			saveScreenshot(t, d.win.Canvas().Capture(), tc.file)
			if tc.toggle == "Start earning" {
				test.Tap(d.toggle)
				if len(eng.toggles) != 1 || eng.toggles[0] != "start" {
					t.Errorf("Start over an automatic pause called %v", eng.toggles)
				}
			}
		})
	}
}

// saveScreenshot writes img to screenshots/name at the module root.
func saveScreenshot(t *testing.T, img image.Image, name string) {
	t.Helper()
	if img.Bounds().Dx() < 100 || img.Bounds().Dy() < 100 {
		t.Fatalf("captured a %v image", img.Bounds())
	}
	dir := filepath.Join("..", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
