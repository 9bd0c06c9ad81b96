//go:build !nogui

package app

import (
	"context"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/ui/notify"
	"usepod.ai/agent/ui/tray"
)

// serviceForUser returns the system service's local API address when the
// service runs and admits this user, so the desktop attaches to it rather
// than starting a second engine; "" otherwise, or when the user chose an
// agent of their own with --api or --data-dir.
func (c *cli) serviceForUser(rf runFlags) string {
	if rf.api.addr != "" || c.dataDir != "" {
		return ""
	}
	svc := serviceAddress()
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

// attachToService runs the tray for the system service's engine: Start and
// Pause act on the service, the dashboard shows it, and Quit ends only the
// tray. The user's own address (ln) still answers, so a second launch opens
// this dashboard instead of attaching again.
func (c *cli) attachToService(ctx context.Context, ln net.Listener, addr, svc string) int {
	log := logTo(c).With("component", "desktop")
	log.Info("attached to the system service", "service", svc)
	remote := remoteEngine{localapi.NewClient(svc)}

	trayCtx, stopTray := context.WithCancel(ctx)
	defer stopTray()
	apiCtx, stopAPI := context.WithCancel(context.Background())
	defer stopAPI()

	var dash *dashboardLauncher
	server := localapi.NewServer(localapi.ServerOptions{
		Engine:        remote,
		OpenDashboard: func(settings bool) error { return dash.open(settings) },
		Quit:          stopTray,
		Log:           log,
		PID:           os.Getpid(),
	})
	dash = newDashboardLauncher(c, svc, addr, server, log)
	go serveAPI(apiCtx, ln, server, log)

	sig, stopSig := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSig()
	go func() { <-sig.Done(); stopTray() }()

	go notify.Watch(trayCtx, remote.Watch(trayCtx), notify.Send, log.With("component", "notify"))
	if !tray.HostPresent() {
		dash.open(false)
	}
	err := tray.Run(trayCtx, tray.Options{
		Engine: remote,
		Actions: tray.Actions{
			OpenDashboard: func() { dash.open(false) },
			OpenSettings:  func() { dash.open(true) },
			Quit:          stopTray,
		},
		Log: log,
	})
	stopAPI()
	dash.close()
	if err != nil {
		return c.fail(err)
	}
	return exitOK
}

// remoteEngine is the service's engine seen through its local API, as the
// tray and this process's own local API need it.
type remoteEngine struct{ *localapi.Client }

func (r remoteEngine) Snapshot() engine.Snapshot {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := r.Status(ctx)
	if err != nil {
		return engine.Snapshot{State: engine.StateConnecting, LastError: err.Error()}
	}
	return st.Snapshot
}
