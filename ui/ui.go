// Package ui is the dashboard process of the agent: the dashboard window and
// the settings window, built with Fyne, onto a running agent's engine (in
// the app, through the local API). The tray (ui/tray) and desktop
// notifications (ui/notify) belong to the always-on process and do not use
// Fyne, so that nothing of Fyne runs while no window is open.
//
// Threading: Fyne callbacks run on the UI goroutine. Each surface
// (dashboard, hardware card, first-run check) has one goroutine that reads its own
// Engine.Watch channel and applies what it read inside fyne.Do; no other
// goroutine touches a widget. Calls that may block (Detect, UpdateConfig,
// SetModelEnabled, the Actions callbacks) run on a fresh goroutine and report
// back through fyne.Do.
//
// What the widgets show is computed by the plain functions in present.go
// and package ui/present, tested without a display. ui/internal/preview
// runs the windows against a scripted engine for looking at them.
package ui

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
)

// Engine is what the UI needs from core/engine.
type Engine interface {
	// Watch returns a channel of snapshots; the first is the full state. A
	// slow reader gets the newest snapshot; the engine never blocks on it.
	// The channel is closed when ctx is cancelled.
	Watch(ctx context.Context) <-chan engine.Snapshot
	// Start makes the agent want to earn. It must not block: the UI calls it
	// on the UI goroutine and learns the outcome from the next snapshot.
	Start()
	// Pause stops taking new jobs and lets running ones finish. Like Start,
	// it must not block.
	Pause()
	// SetModelEnabled switches a model on or off, persisted, and re-sends
	// the capabilities. It may block; the UI calls it off the UI goroutine.
	SetModelEnabled(model string, on bool) error
	// UpdateConfig validates edit's result, saves and applies it. An invalid
	// config is not saved and the error carries the field errors (see
	// fieldErrorer). It may block.
	UpdateConfig(edit func(*config.Config)) error
	// Config returns a copy of the current configuration. The Settings
	// window calls it on the UI goroutine (when it opens and after an
	// import), so it must return soon, though it may block: the engine's
	// copies it under a lock, but the dashboard's (the local API client)
	// asks the agent over its socket, a round trip that waits up to about
	// two seconds and then returns the last config it read.
	Config() config.Config
	// Detect probes the default ports of the known inference servers. It
	// blocks up to a few seconds.
	Detect(ctx context.Context) []backend.Health
}

// ImportConflict is Actions.Import's refusal to replace this computer's
// own, different identity without the user's say.
type ImportConflict struct {
	// Explanation says, in plain words, what replacing it loses (what it
	// has earned here, or nothing).
	Explanation string
}

func (e *ImportConflict) Error() string { return e.Explanation }

// fieldErrorer is an error that names the fields it is about, keyed by
// their dotted config path ("coordinator.url", "backends[1].url"). The
// settings window shows each message next to its field. config's
// *ValidationError is read directly; this covers errors of other kinds.
type fieldErrorer interface {
	FieldErrors() map[string]string
}

// HardwareSource is what the hardware card reads; core/telemetry's sampler
// is adapted to it in app/.
type HardwareSource interface {
	// Latest is the newest sample. It must not block.
	Latest() HardwareView
	// History is the last few minutes of samples, oldest first, for the
	// sparklines. It must not block.
	History() []HardwareView
	// SetVisible says whether the dashboard is on screen, so the sampler can
	// sample often while someone looks and rarely otherwise.
	SetVisible(visible bool)
}

// HardwareView is one telemetry sample as the hardware card shows it.
type HardwareView struct {
	At         time.Time
	GPUs       []GPUView
	CPUPercent float64 // 0..100, all cores together
	MemUsed    uint64  // bytes of system RAM
	MemTotal   uint64  // bytes; 0 when unknown
	// Err is the sampler's error. With no other data the card says
	// "unavailable"; with some data it shows what there is and the reason.
	Err error
}

// GPUView is one GPU in a sample. The Has* flags say which readings the
// device reported; a missing reading is left out rather than shown as 0.
type GPUView struct {
	Index       int
	Name        string
	UtilPercent float64 // 0..100
	HasUtil     bool
	MemUsed     uint64 // bytes
	MemTotal    uint64 // bytes
	HasMem      bool
	TempC       float64
	HasTemp     bool
	PowerW      float64
	PowerLimitW float64 // 0 when unknown
	HasPower    bool
}

// Actions are the app's callbacks. Every one may be nil: the matching
// control is then hidden or falls back as documented.
type Actions struct {
	// Quit runs when the dashboard window is closed, off the UI goroutine;
	// it is expected to end the app by cancelling the context given to Run.
	// Nil quits the Fyne app at once.
	Quit func()
	// SetLaunchAtLogin registers or removes the login item. It is called
	// off the UI goroutine when the user changes the setting, before the
	// config is saved; an error leaves the setting and the config unchanged.
	// Nil hides the checkbox.
	SetLaunchAtLogin func(on bool) error
	// Import reads the command-line agent's agent.toml and identity.key
	// (either path may be empty) into this agent's config and key store and
	// applies them to the running agent, returning the provider id it now
	// earns as. With replace false, a different identity already here is
	// kept and the error is an *ImportConflict saying what replacing it would
	// lose; the dialog then asks and calls again with replace true. It may
	// block; it is called off the UI goroutine. Nil hides the button.
	Import func(agentTomlPath, identityKeyPath string, replace bool) (providerID string, err error)
}

// UI owns the windows. Create it with New before the Fyne app runs, then
// call Run on the main goroutine.
type UI struct {
	app     fyne.App
	eng     Engine
	hw      HardwareSource
	actions Actions
	log     *slog.Logger

	// Seams for tests; New sets the real ones.
	do    func(func())     // runs a function on the UI goroutine (fyne.Do)
	async func(func())     // runs a blocking call off the UI goroutine (go f())
	now   func() time.Time // the clock for countdowns and charts

	// Windows and surfaces, created lazily and touched only on the UI goroutine.
	dash     *dashboard
	settings *settingsWindow
	activity *activityWindow

	wg sync.WaitGroup // the surface goroutines started by Run
}

// New builds the UI; call it before the Fyne app runs. hw may be nil when
// there is no telemetry. log may be nil; the UI adds component=ui (the
// caller does not).
func New(a fyne.App, eng Engine, hw HardwareSource, actions Actions, log *slog.Logger) *UI {
	return newUI(a, eng, hw, actions, log)
}

// newUI builds the UI with the real seams; tests replace them.
func newUI(a fyne.App, eng Engine, hw HardwareSource, actions Actions, log *slog.Logger) *UI {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &UI{
		app:     a,
		eng:     eng,
		hw:      hw,
		actions: actions,
		log:     log.With("component", "ui"),
		do:      fyne.Do,
		async:   func(f func()) { go f() },
		now:     time.Now,
	}
	return u
}

// Run shows the dashboard and runs the Fyne app and the surfaces'
// goroutines until the app quits (its window closed, or ctx cancelled); it
// must be called on the main goroutine.
func (u *UI) Run(ctx context.Context) error {
	surfaces, stop := context.WithCancel(ctx) // cancelling stops the surface goroutines
	defer stop()
	u.start(surfaces)
	u.ShowDashboard()

	// Quit the app when ctx ends, but never after the app's loop is gone:
	// Fyne also quits on its own (SIGTERM, the last window closed), and
	// closing windows of a stopped driver panics in GLFW.
	var ran atomic.Bool
	appDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// Stop the surfaces first, so no update is queued for
			// windows that are going away. Updates queued before run first.
			stop()
			u.wg.Wait()
			u.do(func() {
				if !ran.Load() {
					// The driver's Quit only ends the loop; the app's Quit
					// also closes every window, which panics in GLFW when
					// Fyne's own SIGTERM handler has ended the loop first.
					u.app.Driver().Quit()
				}
			})
		case <-appDone:
		}
	}()
	u.app.Run()
	ran.Store(true)
	close(appDone)
	stop()
	u.wg.Wait()
	return nil
}

// start launches one goroutine per surface.
func (u *UI) start(ctx context.Context) {
	u.goSurface(ctx, u.watchFirstRun)
	u.dashboard() // created now so its goroutines read the engine from the start
	u.goSurface(ctx, u.dash.watch)
	u.goSurface(ctx, u.dash.hardware.watch)
}

func (u *UI) goSurface(ctx context.Context, f func(context.Context)) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		f(ctx)
	}()
}

// ShowDashboard shows the dashboard window and brings it to the front.
// Call it on the UI goroutine (from a Fyne callback, or before Run).
func (u *UI) ShowDashboard() {
	d := u.dashboard()
	d.win.Show()
	d.win.RequestFocus()
	d.visible.Store(true)
	if u.hw != nil {
		u.hw.SetVisible(true)
	}
}

// ShowSettings opens the settings window, or brings it to the front when it
// is already open. Call it on the UI goroutine.
func (u *UI) ShowSettings() {
	if u.settings != nil {
		u.settings.win.Show()
		u.settings.win.RequestFocus()
		return
	}
	u.settings = newSettingsWindow(u)
	u.settings.win.SetOnClosed(func() { u.settings = nil })
	u.settings.win.Show()
}

// quit ends the dashboard: Actions.Quit off the UI goroutine, or the Fyne
// app at once.
func (u *UI) quit() {
	if u.actions.Quit == nil {
		u.app.Quit()
		return
	}
	if u.dash != nil {
		u.dash.win.Hide()
	}
	u.async(u.actions.Quit)
}

// watchFirstRun opens Settings once, at start, when the agent is not
// enrolled and has no enrollment code: pasting the code is the first thing
// a new user has to do, so the app asks for it instead of sitting silently
// in the tray.
func (u *UI) watchFirstRun(ctx context.Context) {
	for s := range u.eng.Watch(ctx) {
		if s.PublicKey == "" {
			continue // the identity is not loaded yet: the state is not final
		}
		if s.State == engine.StateNeedsEnrollment {
			u.do(func() {
				if ctx.Err() == nil {
					u.ShowDashboard()
					u.ShowSettings()
				}
			})
		}
		return
	}
}
