//go:build !nogui

package app

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/core/autostart"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/ui"
)

// appID is the desktop app's identity (FyneApp.toml, the keychain service).
const appID = "ai.usepod.agent"

// runDesktop opens the tray and dashboard and serves until the user quits.
// Quitting (the tray's Quit, SIGINT, SIGTERM) lets running jobs finish,
// bounded, before the process exits.
func runDesktop(ctx context.Context, c *cli, rf runFlags) int {
	a, code := c.openAgent(ctx, rf)
	if a == nil {
		return code
	}
	defer a.Close()
	defer startProfile(a.log)()

	fa := fyneapp.NewWithID(appID)
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))

	// Cancelling runCtx stops the engine; uiCtx ends the Fyne loop.
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	uiCtx, cancelUI := context.WithCancel(ctx)
	defer cancelUI()

	engineErr := make(chan error, 1)
	go func() { engineErr <- a.engine.Run(runCtx) }()

	syncLaunchAtLogin(a)

	hw := newHardware(a.log)
	hwCtx, stopHW := context.WithCancel(runCtx)
	defer stopHW()
	go hw.run(hwCtx)

	quit := func() { drain(a); cancelUI() }
	u := ui.New(fa, a.engine, hw, ui.Actions{
		Quit:             quit,
		SetLaunchAtLogin: setLaunchAtLogin,
		Import: func(agentToml, identityKey string) error {
			_, err := importCLI(context.Background(), agentToml, identityKey, a.cfgPath, a.dataDir, false)
			return err
		},
	}, a.log)

	sig, stopSig := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	go func() {
		select {
		case <-sig.Done():
			// Fyne ends its loop on these signals too; both roads lead to
			// u.Run returning, after which the jobs are drained below.
			cancelUI()
		case err := <-engineErr:
			if err != nil {
				a.log.Error("the agent cannot run", "err", err)
				fyne.Do(func() { showFatal(fa, err, cancelUI) })
			}
		case <-uiCtx.Done():
		}
	}()

	u.Run(uiCtx)
	drain(a) // Fyne may also end on its own (last window closed, SIGTERM)
	cancelRun()
	a.log.Info("stopped")
	return exitOK
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

// showFatal explains an error that keeps the agent from running (a locked
// keychain, an unreadable key) in a window of its own.
func showFatal(fa fyne.App, err error, quit func()) {
	w := fa.NewWindow("Use Pod Agent")
	msg := widget.NewLabel("The agent cannot start:\n\n" + err.Error())
	msg.Wrapping = fyne.TextWrapWord
	w.SetContent(container.NewBorder(nil, container.NewHBox(widget.NewButton("Quit", quit)), nil, nil, msg))
	w.Resize(fyne.NewSize(520, 220))
	w.Show()
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
