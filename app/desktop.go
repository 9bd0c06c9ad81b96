//go:build !nogui

package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"usepod.ai/agent/core/agent"
	"usepod.ai/agent/core/autostart"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/ui/notify"
	"usepod.ai/agent/ui/tray"
)

// appID is the desktop app's identity (FyneApp.toml, the keychain service).
const appID = "ai.usepod.agent"

// runDesktop is the always-on desktop process: the agent with its local API,
// and a native tray icon that is a client of that API; no Fyne. The
// dashboard is a process of its own (`usepod-agent dashboard`), started
// when the user opens it, so that the process that runs all day costs next
// to nothing while nobody looks.
//
// A second launch finds this one through the local API and asks it to open
// its dashboard. Where the system service runs and admits this user, the
// tray shows the service's agent instead of starting a second one (see
// attachToService). Quitting (the tray's Quit, SIGINT, SIGTERM) lets
// running jobs finish, bounded, before the process exits.
func runDesktop(ctx context.Context, c *cli, rf runFlags) int {
	ln, addr, err := c.claimAPI(rf)
	if isAlreadyRunning(err) {
		if err := askRunningAgent(addr, false, discardLogger()); err != nil {
			//lint:ignore ST1005 it starts with the product's name; the terminal prints it as a sentence
			return c.fail(fmt.Errorf("Use Pod Agent is already running but does not answer: %w", err))
		}
		fmt.Fprintln(c.stdout, "Use Pod Agent is already running; its dashboard is open.")
		return exitOK
	}
	if err != nil {
		return c.fail(err)
	}
	defer ln.Close()

	if svc := c.serviceForUser(rf); svc != "" {
		return c.attachToService(ctx, ln, addr, svc)
	}

	// The tray's and the local API's callbacks need the agent and the
	// dashboard launcher, which need each other: a is set before either
	// can be called (the API serves once a runs).
	var a *runningAgent
	dash := newDashboardLauncher(c, addr, addr, func(settings bool) bool { return a.RequestShow(settings) }, discardLogger())
	// Cancelling trayCtx ends the tray loop; Quit drains first.
	trayCtx, stopTray := context.WithCancel(ctx)
	defer stopTray()
	quit := func() { drain(a); stopTray() }
	a, err = c.newAgent(ctx, rf, ln, agentExtras{openDashboard: dash.open, quit: func() { go quit() }})
	if err != nil {
		ln.Close() // a second launch then shows its own explanation instead of waiting on ours
		code := c.startFailed(err)
		showStartFailure(err)
		return code
	}
	defer a.Close()
	dash.log = a.log // before anything can open a dashboard: the agent does not run yet
	tuneGC()
	defer startProfile(a.log)()

	// Cancelling runCtx stops the agent: its engine, sampler and local API,
	// which outlives the drain so `status` and the tray can watch it.
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	ran := make(chan struct{})
	go func() { defer close(ran); a.Run(runCtx) }()
	syncLaunchAtLogin(a.Engine(), a.log)
	go openSettingsOnFirstRun(runCtx, a.Engine(), dash)

	err = runTray(trayCtx, trayProcess{
		agent:   localapi.NewClient(addr),
		dash:    dash,
		quit:    quit,
		showLog: func() { openFolder(filepath.Join(a.dataDir, "logs")) },
		failed:  a.Failed(),
		log:     a.log,
	})
	if err != nil {
		a.log.Error("the tray stopped", "err", err)
	}
	drain(a) // also when the tray ended on its own
	// Stopping the agent stops its local API: an open dashboard sees the
	// agent go and closes.
	cancelRun()
	<-ran
	dash.close()
	a.log.Info("stopped")
	return exitOK
}

// trayProcess is what the tray runs with, whichever agent it shows: this
// process's own or the system service.
type trayProcess struct {
	agent *localapi.Client // the local API of the agent shown
	dash  *dashboardLauncher
	// quit is the tray's Quit, also run on SIGINT and SIGTERM: it does its
	// part (draining the jobs) and then cancels runTray's context.
	quit    func()
	showLog func()       // nil hides "Show log"
	failed  <-chan error // nil when the agent shown cannot fail that way
	log     *slog.Logger
}

// runTray shows the tray icon and menu and the desktop notifications, all
// read from the agent's local API, until trayCtx ends (the user quit, or
// the caller stops). SIGINT and SIGTERM run Quit. It blocks, on the main
// goroutine.
func runTray(trayCtx context.Context, p trayProcess) error {
	sig, stopSig := signal.NotifyContext(trayCtx, os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	go func() {
		<-sig.Done()
		if trayCtx.Err() == nil { // a signal, not the tray's own end
			p.quit()
		}
	}()

	go notify.Watch(trayCtx, p.agent.Watch(trayCtx), notify.Send, p.log)
	if !tray.HostPresent() {
		// Nothing shows a tray icon here: the dashboard is the only way in.
		p.log.Info("no tray on this desktop: opening the dashboard")
		p.dash.open(false)
	}
	return tray.Run(trayCtx, tray.Options{
		Engine: p.agent,
		Actions: tray.Actions{
			OpenDashboard: func() { p.dash.open(false) },
			OpenSettings:  func() { p.dash.open(true) },
			ShowLog:       p.showLog,
			Quit:          p.quit,
		},
		Log:    p.log,
		Failed: p.failed,
	})
}

// drain lets running jobs finish, bounded by agent.DrainTimeout.
func drain(a *runningAgent) {
	ctx, cancel := context.WithTimeout(context.Background(), agent.DrainTimeout)
	defer cancel()
	a.Drain(ctx)
}

// serviceForUser returns the system service's local API address when the
// service runs and admits this user, so the desktop attaches to it rather
// than starting a second agent; "" otherwise, or when the user chose an
// agent of their own with --api or --data-dir.
func (c *cli) serviceForUser(rf runFlags) string {
	if rf.api.addr != "" || c.dataDir != "" {
		return ""
	}
	svc := localapi.ServiceAddressFromEnv()
	if !answers(svc) {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := localapi.NewClient(svc).Status(ctx); err != nil {
		return "" // it runs, but not for this user
	}
	return svc
}

// attachToService runs the tray for the system service's agent: Start and
// Pause act on the service, the dashboard shows it, and Quit ends only the
// tray. The user's own address (ln) answers for the service, through a
// client of its local API, so `status` and a second launch reach this
// tray (the second launch opens its dashboard instead of attaching again).
func (c *cli) attachToService(ctx context.Context, ln net.Listener, addr, svc string) int {
	log := logTo(c)
	log.Info("attached to the system service", "service", svc)
	// Cancelling trayCtx ends the tray loop: Quit ends only the tray.
	trayCtx, quit := context.WithCancel(ctx)
	defer quit()
	var server *localapi.Server
	dash := newDashboardLauncher(c, svc, addr, func(settings bool) bool { return server.RequestShow(settings) }, log)
	server = localapi.NewServer(localapi.ServerOptions{
		Engine:        localapi.NewClient(svc),
		OpenDashboard: dash.open,
		Quit:          quit,
		Log:           log,
		PID:           os.Getpid(),
	})
	// Cancelling apiCtx stops answering at the user's address.
	apiCtx, stopAPI := context.WithCancel(context.Background())
	defer stopAPI()
	go func() {
		if err := server.Serve(apiCtx, ln); err != nil {
			log.Error("the local API stopped", "err", err)
		}
	}()

	err := runTray(trayCtx, trayProcess{
		agent: localapi.NewClient(svc),
		dash:  dash,
		quit:  quit,
		log:   log,
	})
	stopAPI()
	dash.close()
	if err != nil {
		return c.fail(err)
	}
	return exitOK
}

// openSettingsOnFirstRun opens the dashboard with Settings once, at start,
// when the agent is not enrolled and has no enrollment code: pasting the
// code is the first thing a new user has to do, so the app asks for it
// instead of sitting silently in the tray.
func openSettingsOnFirstRun(ctx context.Context, eng *engine.Engine, dash *dashboardLauncher) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for s := range eng.Watch(ctx) {
		if s.PublicKey == "" {
			continue // the identity is not loaded yet: the state is not final
		}
		if s.State == engine.StateNeedsEnrollment {
			dash.open(true)
		}
		return
	}
}

// setLaunchAtLogin adds or removes the login item for this executable.
func setLaunchAtLogin(on bool) error {
	if !on {
		return autostart.Disable()
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return autostart.Enable(exe, nil)
}

// syncLaunchAtLogin makes the settings tell the truth about start at login:
// the login item may have been removed (or, on Windows, disabled) outside the
// app. Only the setting follows; the login item itself is never added here.
func syncLaunchAtLogin(eng *engine.Engine, log *slog.Logger) {
	on, err := autostart.Enabled()
	if err != nil || on == eng.Config().Desktop.LaunchAtLogin {
		return
	}
	if err := eng.UpdateConfig(func(c *config.Config) { c.Desktop.LaunchAtLogin = on }); err != nil {
		log.Warn("could not record the start-at-login state", "err", err)
	}
}

// logTo returns a logger for the desktop process before the agent's own
// logger exists.
func logTo(c *cli) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
