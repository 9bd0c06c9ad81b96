//go:build !nogui

package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/ui"
)

// cmdDashboard is the dashboard process: a Fyne window onto a running
// agent, through its local API only. The tray starts it on demand; closing
// its window ends it while the agent keeps serving.
func cmdDashboard(ctx context.Context, c *cli, args []string) int {
	fs := c.flagSet("dashboard")
	settings := fs.Bool("settings", false, "open Settings too")
	api := fs.String("api", "", "the agent's local API `address` (default: this user's agent, else the system service)")
	trayAddr := fs.String("tray", "", "the tray's local API `address`, which asks this window to come to the front (default: --api)")
	if ok, code := c.parse(fs, args); !ok {
		return code
	}
	addr, err := c.apiAddress(*api)
	if err != nil {
		return c.fail(err)
	}
	if !answers(addr) {
		//lint:ignore ST1005 it starts with the product's name; the terminal prints it as a sentence
		err := errors.New("Use Pod Agent is not running. Start it from your applications menu, or run: usepod-agent")
		c.fail(err)
		showStartFailure(&startError{what: "Use Pod Agent is not running.", err: err})
		return exitError
	}
	if *trayAddr == "" {
		*trayAddr = addr
	}
	_, dataDir, err := c.paths()
	if err != nil {
		return c.fail(err)
	}
	log, closeLog, err := c.newLoggerTo(dataDir, "", "dashboard.log")
	if err != nil {
		return c.usageError(err)
	}
	defer closeLog()
	// The dashboard process's own lines; the ui package adds its own
	// component to the plain logger it is given.
	dlog := log.With("component", "dashboard")

	client := localapi.NewClient(addr)
	client.OnError = func(err error) { dlog.Warn("the agent did not take the request", "err", err) }

	fa := fyneapp.NewWithID(appID)
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))

	// Cancelling uiCtx ends the window, the sampler and the show requests.
	uiCtx, cancelUI := context.WithCancel(ctx)
	defer cancelUI()
	sig, stopSig := signal.NotifyContext(uiCtx, os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	go func() { <-sig.Done(); cancelUI() }()

	hw := ui.NewRemoteHardware(client)
	go hw.Run(uiCtx)

	u := ui.New(fa, client, hw, ui.Actions{
		SetLaunchAtLogin: setLaunchAtLogin,
		Import: func(agentToml, identityKey string, replace bool) (string, error) {
			ictx, cancel := context.WithTimeout(context.Background(), controlTimeout)
			defer cancel()
			res, err := client.Import(ictx, localapi.ImportRequest{AgentToml: agentToml, IdentityKey: identityKey, Force: replace})
			var conflict *localapi.IdentityConflictError
			if errors.As(err, &conflict) {
				return "", &ui.ImportConflict{Explanation: conflict.Error()}
			}
			if err != nil {
				return "", err
			}
			dlog.Info("imported the command-line agent", "provider_id", res.ProviderID, "kept_in", res.KeptIn)
			return res.ProviderID, nil
		},
	}, log)

	go followTray(uiCtx, localapi.NewClient(*trayAddr), u, dlog)
	go quitWhenAgentGone(uiCtx, client, cancelUI, dlog)
	if *settings {
		u.ShowSettings()
	}
	u.Run(uiCtx)
	return exitOK
}

// followTray brings the window to the front when the tray asks (Open
// dashboard, Settings…, a second launch of the app).
func followTray(ctx context.Context, tray *localapi.Client, u *ui.UI, log *slog.Logger) {
	for r := range tray.ShowRequests(ctx) {
		log.Debug("asked to show", "settings", r.Settings)
		fyne.Do(func() {
			if ctx.Err() != nil {
				return
			}
			u.ShowDashboard()
			if r.Settings {
				u.ShowSettings()
			}
		})
	}
}

// quitWhenAgentGone closes the dashboard when the agent it shows has quit:
// a window onto nothing would only mislead.
func quitWhenAgentGone(ctx context.Context, client *localapi.Client, quit func(), log *slog.Logger) {
	for range client.Watch(ctx) {
	}
	if ctx.Err() == nil {
		log.Info("the agent has quit; closing the dashboard", "why", fmt.Sprint(client.Err()))
		quit()
	}
}

// The dashboard reads the engine through the local API client.
var _ ui.Engine = (*localapi.Client)(nil)

// It has the operator's tools too: Activity, self-tests, support bundles.
var _ ui.Operations = (*localapi.Client)(nil)
