package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"usepod.ai/agent/core/engine"
)

// tray is the system tray icon and its menu. Fyne runs fyne.io/systray
// itself; we only hand it a menu and an icon through desktop.App.
type tray struct {
	u    *UI
	desk desktop.App
	menu *fyne.Menu // the one menu, its items replaced on every snapshot
	last trayMenu   // what the menu shows; rebuilt only when it changes
}

// newTray installs the tray with a neutral menu; it must run before the
// Fyne app runs. Tapping the icon (where the host supports it) shows the
// dashboard.
func newTray(u *UI, d desktop.App) *tray {
	t := &tray{u: u, desk: d, menu: fyne.NewMenu("Use Pod Agent")}
	t.apply(engine.Snapshot{State: engine.StateConnecting})
	d.SetSystemTrayWindow(u.dashboard().win)
	// SetSystemTrayWindow makes closing the window hide it; put our intercept
	// back, which hides only when the tray can be seen.
	u.dash.installCloseIntercept()
	return t
}

// apply rebuilds the menu from a snapshot; UI goroutine only.
func (t *tray) apply(s engine.Snapshot) {
	m := trayItems(s)
	if m == t.last && len(t.menu.Items) > 0 {
		return // nothing the tray shows has changed; spare the host a menu rebuild
	}
	t.last = m

	status := fyne.NewMenuItem(m.Status, nil)
	status.Disabled = true
	toggle := fyne.NewMenuItem(m.Toggle, t.u.eng.Pause)
	if m.Start {
		toggle.Action = t.u.eng.Start
	}
	quit := fyne.NewMenuItem("Quit", t.u.quit)
	quit.IsQuit = true // stops Fyne from appending its own Quit, which would skip draining

	t.menu.Items = []*fyne.MenuItem{
		status,
		fyne.NewMenuItemSeparator(),
		toggle,
		fyne.NewMenuItem("Open dashboard", t.u.ShowDashboard),
		fyne.NewMenuItem("Settings…", t.u.ShowSettings),
		fyne.NewMenuItemSeparator(),
		quit,
	}
	setTrayIcon(t.desk, m.Icon)
	t.desk.SetSystemTrayMenu(t.menu) // refreshes the host's copy of the menu
}

// watch is the tray's goroutine.
func (t *tray) watch(ctx context.Context) {
	snaps := t.u.eng.Watch(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-snaps:
			if !ok {
				return
			}
			// Checked again on the UI goroutine: Run cancels ctx before it
			// quits the app, and the tray must not be touched after that.
			t.u.do(func() {
				if ctx.Err() == nil {
					t.applySafely(s)
				}
			})
		}
	}
}

// applySafely is apply for snapshots from the engine. Fyne stops the tray
// by itself on SIGTERM, before Run can stop this surface, and fyne.io/systray
// then panics on its closed D-Bus connection ("connection closed by user");
// an update that loses that race is dropped instead of crashing the quit.
func (t *tray) applySafely(s engine.Snapshot) {
	defer func() {
		if r := recover(); r != nil {
			t.u.log.Debug("tray update after the tray stopped", "panic", r)
		}
	}()
	t.apply(s)
}
