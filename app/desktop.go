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

	"usepod.ai/agent/core/autostart"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/ui/notify"
	"usepod.ai/agent/ui/tray"
)

// appID is the desktop app's identity (FyneApp.toml, the keychain service).
const appID = "ai.usepod.agent"

// runDesktop is the always-on desktop process: the engine, the local API and
// a native tray icon, and no Fyne. The dashboard is a process of its own
// (`usepod-agent dashboard`), started when the user opens it, so that the
// process that runs all day costs next to nothing while nobody looks.
//
// A second launch finds this one through the local API and asks it to open
// its dashboard. Where the system service runs and admits this user, the
// tray attaches to it instead of starting a second engine. Quitting (the
// tray's Quit, SIGINT, SIGTERM) lets running jobs finish, bounded, before
// the process exits.
func runDesktop(ctx context.Context, c *cli, rf runFlags) int {
	ln, addr, err := c.claimUserAPI(rf)
	if isAlreadyRunning(err) {
		if err := askRunningAgent(addr, false, discardLogger()); err != nil {
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

	a, err := c.newAgent(ctx, rf)
	if err != nil {
		ln.Close() // a second launch then shows its own explanation instead of waiting on ours
		code := c.startFailed(err)
		showStartFailure(err)
		return code
	}
	defer a.Close()
	tuneGC()
	defer startProfile(a.log)()
	a.log.Info("local API", "address", addr)

	// Cancelling runCtx stops the engine and the sampler; apiCtx the local
	// API, which outlives the drain so `status` can watch it; trayCtx ends
	// the tray loop.
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	apiCtx, stopAPI := context.WithCancel(context.Background())
	defer stopAPI()
	trayCtx, stopTray := context.WithCancel(ctx)
	defer stopTray()

	engineErr := make(chan error, 1)
	go func() {
		if err := a.engine.Run(runCtx); err != nil {
			a.log.Error("the agent cannot run", "err", err)
			engineErr <- err
		}
	}()
	go a.hardware.run(runCtx)
	a.startOps(runCtx)
	syncLaunchAtLogin(a)

	quit := func() { drain(a); stopTray() }
	var dash *dashboardLauncher
	server := a.newAPIServer(localapi.ServerOptions{
		OpenDashboard: func(settings bool) error { return dash.open(settings) },
		Quit:          func() { go quit() },
	})
	dash = newDashboardLauncher(c, addr, addr, server, a.log)
	go serveAPI(apiCtx, ln, server, a.log)
	go openSettingsOnFirstRun(runCtx, a.engine, dash)
	go notify.Watch(runCtx, a.engine.Watch(runCtx), notify.Send, a.log.With("component", "notify"))

	sig, stopSig := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	go func() {
		<-sig.Done()
		if ctx.Err() == nil {
			quit()
		}
	}()

	if !tray.HostPresent() {
		// Nothing shows a tray icon here: the dashboard is the only way in.
		a.log.Info("no tray on this desktop: opening the dashboard")
		dash.open(false)
	}
	err = tray.Run(trayCtx, tray.Options{
		Engine: a.engine,
		Actions: tray.Actions{
			OpenDashboard: func() { dash.open(false) },
			OpenSettings:  func() { dash.open(true) },
			ShowLog:       func() { openFolder(filepath.Join(a.dataDir, "logs")) },
			Quit:          quit,
		},
		Log:    a.log,
		Failed: engineErr,
	})
	if err != nil {
		a.log.Error("the tray stopped", "err", err)
	}
	drain(a)  // also when the tray ended on its own
	stopAPI() // an open dashboard sees the agent go and closes
	dash.close()
	cancelRun()
	a.log.Info("stopped")
	return exitOK
}

// claimUserAPI listens on this user's (or --api's) local API address.
func (c *cli) claimUserAPI(rf runFlags) (net.Listener, string, error) {
	addr := rf.api.addr
	if addr == "" {
		_, dataDir, err := c.paths()
		if err != nil {
			return nil, "", err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, "", fmt.Errorf("create the data folder: %w", err)
		}
		addr = localapi.UserAddress(dataDir)
	}
	ln, err := listenAPI(addr, rf.api.group)
	if err != nil && !isAlreadyRunning(err) {
		err = fmt.Errorf("open the local API at %s: %w", addr, err)
	}
	return ln, addr, err
}

// drain lets running jobs finish, bounded by drainTimeout.
func drain(a *agent) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if n := a.engine.Snapshot().JobsInFlight; n > 0 {
		a.log.Info("quitting: letting running jobs finish", "jobs", n, "at_most", drainTimeout)
	}
	if err := a.engine.Drain(ctx); err != nil {
		a.log.Warn("quit with jobs still running", "err", err)
	}
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
func syncLaunchAtLogin(a *agent) {
	on, err := autostart.Enabled()
	if err != nil || on == a.engine.Config().Desktop.LaunchAtLogin {
		return
	}
	if err := a.engine.UpdateConfig(func(c *config.Config) { c.Desktop.LaunchAtLogin = on }); err != nil {
		a.log.Warn("could not record the start-at-login state", "err", err)
	}
}

// logTo returns a logger for the desktop process before the agent's own
// logger exists.
func logTo(c *cli) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
