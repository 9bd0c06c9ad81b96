// Package tray is the agent's system tray icon and menu for the always-on
// process. It draws with fyne.io/systray directly, on systray's own native
// loop: no Fyne driver, no OpenGL, nothing that wakes up while the state does
// not change. It never imports fyne.io/fyne (a test checks), so the process
// that earns all day carries no GUI toolkit; the dashboard is a separate
// process started on demand.
//
// Threading: systray is a process-wide singleton with its own loop, so Run
// may be called once per process, on the main goroutine. Our goroutines
// touch it: one applies snapshots to the menu, one reads the clicks (and
// marks Quit as under way), one quits systray when Run's context ends.
// Every change to the menu and icon holds tray.mu, so that quitting can wait
// for the one in progress and then keep any later one away from systray,
// whose D-Bus connection is closed by then.
package tray

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"fyne.io/systray"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/ui/present"
)

// Engine is what the tray needs from core/engine.
type Engine interface {
	// Watch returns a channel of snapshots; the first is the full state. A
	// slow reader gets the newest snapshot; the engine never blocks on it.
	// The channel is closed when ctx is cancelled.
	Watch(ctx context.Context) <-chan engine.Snapshot
	// Start makes the agent want to earn. It must not block: the tray
	// learns the outcome from the next snapshot.
	Start()
	// Pause stops taking new jobs and lets running ones finish. Like Start,
	// it must not block.
	Pause()
}

// Actions are the app's callbacks for the menu. Each is called on a
// goroutine of its own, so each may block.
type Actions struct {
	// OpenDashboard shows the dashboard (starting its process if need be).
	// It also runs when the icon itself is clicked, where the tray host
	// supports that. Nil hides the item.
	OpenDashboard func()
	// OpenSettings shows the settings window. Nil hides the item.
	OpenSettings func()
	// ShowLog opens the log file or its folder. The item shows once the
	// engine has stopped (see Options.Failed). Nil hides the item.
	ShowLog func()
	// Quit drains the running jobs and stops the engine; Run returns after
	// it has returned. Nil makes Quit only end Run.
	Quit func()
}

// Options configure Run.
type Options struct {
	Engine  Engine // required
	Actions Actions
	Log     *slog.Logger // nil discards; the tray adds component=tray
	// Failed receives the error that stopped the engine for good. The status
	// line then says "Stopped: " and the error (write it in plain words for
	// users), Start/Pause is disabled and "Show log" appears. Nil when the
	// engine cannot fail that way.
	Failed <-chan error
}

// appName is the tray item's title where the host shows one.
const appName = "Use Pod Agent"

// started makes a second Run fail instead of corrupting systray's state.
var started atomic.Bool

// Run shows the tray icon and menu and blocks until ctx is cancelled or the
// Quit item's action has returned; then it removes the icon and returns.
// Call it on the main goroutine (macOS draws the menu bar on the main
// thread), once per process.
//
// On Linux and the BSDs the icon is a StatusNotifierItem on the session
// bus: Run fails at once without a session bus, and shows nothing (while
// still running) when no StatusNotifier host is there; see HostPresent.
func Run(ctx context.Context, o Options) error {
	if o.Engine == nil {
		return errors.New("tray: Options.Engine is nil")
	}
	if !started.CompareAndSwap(false, true) {
		return errors.New("tray: Run was already called; the system tray runs once per process")
	}
	if err := checkPlatform(); err != nil {
		return err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	// Cancelling life stops the tray's goroutines and ends systray's loop:
	// the parent's cancellation and a completed Quit both do.
	life, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &tray{eng: o.Engine, actions: o.Actions, failed: o.Failed, log: log.With("component", "tray"), end: cancel}

	beforeRun(startView.icon)
	if o.Actions.OpenDashboard != nil {
		// Read by systray when the item is exported (on Linux it decides
		// ItemIsMenu), so it is set before Run.
		systray.SetOnTapped(func() { go o.Actions.OpenDashboard() })
	}
	// systray's exit callback only marks the tray stopped: on macOS it runs on
	// the main thread, which a change in progress may be waiting for.
	systray.Run(func() { t.ready(life) }, func() { t.stopped.Store(true) })
	cancel()
	t.wg.Wait()
	return nil
}

// tray is the running tray.
type tray struct {
	eng     Engine
	actions Actions
	failed  <-chan error
	log     *slog.Logger
	end     context.CancelFunc // ends Run: cancels its context

	items    items          // created in ready, never replaced
	quitOnce sync.Once      // Quit's action runs once
	wg       sync.WaitGroup // the tray's goroutines

	mu      sync.Mutex  // guards shown and applied; held across every change to systray's menu and icon
	shown   view        // what the menu and icon show now
	applied bool        // shown has been applied at least once
	stopped atomic.Bool // systray is quitting: no more changes; checked under mu, set without it
}

// items are the menu's items. An item whose action is nil is nil.
type items struct {
	status, toggle, dashboard, settings, showLog, quit *systray.MenuItem
}

// view is everything the tray shows; the menu changes only where two views
// differ.
type view struct {
	status        string
	toggle        string
	start         bool // the toggle starts (else it pauses)
	toggleEnabled bool
	showLog       bool
	icon          present.TrayIcon
}

// startView is what the tray shows before the first snapshot: like today's
// Fyne tray, a connecting agent's menu.
var startView = viewOf(present.TrayItems(engine.Snapshot{State: engine.StateConnecting}), nil, false)

// viewOf computes the view from the last snapshot and the engine's failure.
func viewOf(m present.TrayMenu, failure error, canShowLog bool) view {
	v := view{status: m.Status, toggle: m.Toggle, start: m.Start, toggleEnabled: true, icon: m.Icon}
	if failure != nil {
		v.status = present.StoppedStatus(failure)
		v.toggleEnabled = false // a stopped engine neither starts nor pauses
		v.showLog = canShowLog
		v.icon = present.IconAttention
	}
	return v
}

// ready builds the menu; systray calls it on a goroutine once its loop runs,
// and answers the host's first request for the menu only after it returns.
func (t *tray) ready(ctx context.Context) {
	t.mu.Lock()
	systray.SetTooltip(appName)
	t.items.status = systray.AddMenuItem("", "")
	t.items.status.Disable()
	systray.AddSeparator()
	t.items.toggle = systray.AddMenuItem("", "")
	if t.actions.OpenDashboard != nil {
		t.items.dashboard = systray.AddMenuItem("Open dashboard", "")
	}
	if t.actions.OpenSettings != nil {
		t.items.settings = systray.AddMenuItem("Settings…", "")
	}
	if t.actions.ShowLog != nil {
		t.items.showLog = systray.AddMenuItem("Show log", "")
		t.items.showLog.Hide()
	}
	systray.AddSeparator()
	t.items.quit = systray.AddMenuItem("Quit", "")
	t.mu.Unlock()
	t.show(startView)

	// The goroutines end with ctx; the last one then quits systray, which
	// makes systray.Run return.
	t.goLoop(func() { t.follow(ctx) })
	t.goLoop(func() { t.clicks(ctx) })
	t.goLoop(func() {
		<-ctx.Done()
		t.stopNow()
		systray.Quit()
	})
}

func (t *tray) goLoop(f func()) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
}

// follow is the menu's goroutine: it shows each snapshot and the engine's
// failure, and sleeps on its channels in between.
func (t *tray) follow(ctx context.Context) {
	snaps := t.eng.Watch(ctx)
	failed := t.failed
	last := present.TrayItems(engine.Snapshot{State: engine.StateConnecting})
	var failure error
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-snaps:
			if !ok {
				snaps = nil // the engine is gone; Failed may still say why
				continue
			}
			last = present.TrayItems(s)
		case err, ok := <-failed:
			failed = nil // one failure is final
			if !ok {
				continue
			}
			if err == nil {
				err = errors.New("the agent stopped unexpectedly")
			}
			failure = err
			t.log.Info("engine stopped; the tray says so", "err", err)
		}
		t.show(viewOf(last, failure, t.actions.ShowLog != nil))
	}
}

// show brings the menu and icon to v, changing only what differs.
func (t *tray) show(v view) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() || (t.applied && v == t.shown) {
		return
	}
	// Should systray quit underneath us anyway (it closes its D-Bus
	// connection on quit, and fyne.io/systray panics when it emits a signal
	// on a closed one), the update is dropped rather than the process.
	defer func() {
		if r := recover(); r != nil {
			t.log.Debug("tray update after the tray stopped", "panic", r)
		}
	}()
	old, first := t.shown, !t.applied
	t.shown, t.applied = v, true
	if first || v.status != old.status {
		t.items.status.SetTitle(v.status)
	}
	if first || v.toggle != old.toggle {
		t.items.toggle.SetTitle(v.toggle)
	}
	if first || v.toggleEnabled != old.toggleEnabled {
		if v.toggleEnabled {
			t.items.toggle.Enable()
		} else {
			t.items.toggle.Disable()
		}
	}
	if t.items.showLog != nil && v.showLog != old.showLog {
		if v.showLog {
			t.items.showLog.Show()
		} else {
			t.items.showLog.Hide()
		}
	}
	if first || v.icon != old.icon {
		setIcon(v.icon)
	}
}

// clicks is the goroutine that reads the items' clicks. systray drops a
// click nobody is waiting for, so this loop never blocks on an action.
func (t *tray) clicks(ctx context.Context) {
	it := t.items
	for {
		select {
		case <-ctx.Done():
			return
		case <-it.toggle.ClickedCh:
			t.mu.Lock()
			start, enabled := t.shown.start, t.shown.toggleEnabled
			t.mu.Unlock()
			switch {
			case !enabled:
			case start:
				t.eng.Start()
			default:
				t.eng.Pause()
			}
		case <-clicked(it.dashboard):
			go t.actions.OpenDashboard()
		case <-clicked(it.settings):
			go t.actions.OpenSettings()
		case <-clicked(it.showLog):
			go t.actions.ShowLog()
		case <-it.quit.ClickedCh:
			t.quit()
		}
	}
}

// clicked is an item's click channel; nil (never ready) for a missing item.
func clicked(item *systray.MenuItem) <-chan struct{} {
	if item == nil {
		return nil
	}
	return item.ClickedCh
}

// quit runs Actions.Quit once, on its own goroutine, and ends Run after it.
// Draining jobs takes a while, so the item says so meanwhile.
func (t *tray) quit() {
	t.quitOnce.Do(func() {
		t.mu.Lock()
		if !t.stopped.Load() {
			t.items.quit.SetTitle("Quitting…")
			t.items.quit.Disable()
		}
		t.mu.Unlock()
		t.log.Info("quit from the tray")
		go func() {
			defer t.end()
			if t.actions.Quit != nil {
				t.actions.Quit()
			}
		}()
	})
}

// stopNow keeps every later change away from systray and waits for the one
// in progress; it runs before systray.Quit.
func (t *tray) stopNow() {
	t.stopped.Store(true)
	t.mu.Lock()
	//lint:ignore SA2001 the empty critical section waits for a change in progress
	t.mu.Unlock()
}
