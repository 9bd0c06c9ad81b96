package ui

import (
	"bytes"
	"image/png"
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"usepod.ai/agent/core/engine"
)

// trayApp is the test app with a system tray that records what it is given.
type trayApp struct {
	fyne.App
	menus int // SetSystemTrayMenu calls
	menu  *fyne.Menu
	icon  fyne.Resource
	win   fyne.Window
}

func (a *trayApp) SetSystemTrayMenu(m *fyne.Menu)    { a.menus++; a.menu = m }
func (a *trayApp) SetSystemTrayIcon(r fyne.Resource) { a.icon = r }
func (a *trayApp) SetSystemTrayWindow(w fyne.Window) { a.win = w }

func newTrayUI(t *testing.T, eng Engine, actions Actions) (*UI, *trayApp) {
	t.Helper()
	a := &trayApp{App: test.NewTempApp(t)}
	u := newUI(a, eng, nil, actions, nil, func() bool { return true })
	u.do = func(f func()) { f() }
	u.async = func(f func()) { f() }
	return u, a
}

func labels(m *fyne.Menu) []string {
	var out []string
	for _, i := range m.Items {
		if i.IsSeparator {
			out = append(out, "---")
			continue
		}
		out = append(out, i.Label)
	}
	return out
}

func TestTrayMenuFollowsSnapshots(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	quits := 0
	u, a := newTrayUI(t, eng, Actions{Quit: func() { quits++ }})
	if a.menu == nil || a.win == nil {
		t.Fatal("New did not install the tray menu and window before Run")
	}
	if !u.TrayAvailable() {
		t.Error("TrayAvailable is false with a tray host")
	}

	u.tray.apply(earningSnapshot())
	want := []string{"Earning · 0.048213 USDC today", "---", "Pause earning", "Open dashboard", "Settings…", "---", "Quit"}
	if got := labels(a.menu); !slices.Equal(got, want) {
		t.Fatalf("menu = %q, want %q", got, want)
	}
	if !a.menu.Items[0].Disabled {
		t.Error("the status line is clickable")
	}
	if !a.menu.Items[len(a.menu.Items)-1].IsQuit {
		t.Error("Quit is not marked IsQuit; Fyne would add a second one that skips draining")
	}
	if a.icon != iconFor(iconEarning) {
		t.Error("earning icon not set")
	}

	a.menu.Items[2].Action() // Pause earning
	if eng.state() != engine.StatePaused {
		t.Fatalf("engine state %v after Pause", eng.state())
	}
	u.tray.apply(eng.snap)
	if got := a.menu.Items[2].Label; got != "Start earning" {
		t.Errorf("toggle = %q after pausing", got)
	}
	if a.icon != iconFor(iconPaused) {
		t.Error("paused icon not set")
	}
	a.menu.Items[2].Action() // Start earning
	if eng.state() != engine.StateWaiting {
		t.Errorf("engine state %v after Start", eng.state())
	}

	// An unchanged menu is not sent to the host again.
	before := a.menus
	u.tray.apply(eng.snap)
	u.tray.apply(eng.snap)
	if a.menus != before+1 {
		t.Errorf("SetSystemTrayMenu called %d times for one change", a.menus-before)
	}

	a.menu.Items[len(a.menu.Items)-1].Action()
	if quits != 1 {
		t.Errorf("Quit callback called %d times", quits)
	}
}

func TestTrayIconsArePNGs(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range []trayIcon{iconEarning, iconWaiting, iconPaused, iconAttention} {
		r := iconFor(i)
		img, err := png.Decode(bytes.NewReader(r.Content()))
		if err != nil {
			t.Fatalf("%s: %v", r.Name(), err)
		}
		if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
			t.Errorf("%s is %v", r.Name(), b)
		}
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Errorf("%s: corner not transparent", r.Name())
		}
		seen[string(r.Content())] = true
	}
	if len(seen) != 4 {
		t.Error("two states share an icon")
	}
}
