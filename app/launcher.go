package app

import (
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"time"
)

// dashboardLauncher starts the dashboard process (`usepod-agent dashboard`)
// on demand and brings an open one to the front instead of starting a
// second.
type dashboardLauncher struct {
	exe    string
	global []string // the global flags the dashboard shares with this process
	api    string   // the engine's local API, for --api
	tray   string   // this process's local API, for --tray (show requests)
	// requestShow asks an open dashboard to come to the front; false when
	// none listens yet (localapi.Server.RequestShow).
	requestShow func(settings bool) bool
	log         *slog.Logger

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd  // the running dashboard; nil when none
}

// newDashboardLauncher serves dashboards of the agent at api; show requests
// go through requestShow, whose server listens at tray.
func newDashboardLauncher(c *cli, api, tray string, requestShow func(settings bool) bool, log *slog.Logger) *dashboardLauncher {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	var global []string
	if c.configPath != "" {
		global = append(global, "--config", c.configPath)
	}
	if c.dataDir != "" {
		global = append(global, "--data-dir", c.dataDir)
	}
	if c.logLevel != "" {
		global = append(global, "--log-level", c.logLevel)
	}
	return &dashboardLauncher{exe: exe, global: global, api: api, tray: tray, requestShow: requestShow, log: log}
}

// open shows the dashboard (and Settings when asked): an open dashboard is
// asked to come to the front, else a new one starts. It does not wait for
// the window.
func (d *dashboardLauncher) open(settings bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		if !d.requestShow(settings) {
			// Started a moment ago and not listening yet: it shows itself.
			d.log.Debug("the dashboard is starting")
		}
		return nil
	}
	args := append(append([]string{}, d.global...), "dashboard", "--api", d.api, "--tray", d.tray)
	if settings {
		args = append(args, "--settings")
	}
	cmd := exec.Command(d.exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		d.log.Error("could not open the dashboard", "err", err)
		return err
	}
	d.log.Info("dashboard opened", "pid", cmd.Process.Pid)
	d.cmd = cmd
	go func() {
		err := cmd.Wait()
		d.log.Info("dashboard closed", "exit", err)
		d.mu.Lock()
		if d.cmd == cmd {
			d.cmd = nil
		}
		d.mu.Unlock()
	}()
	return nil
}

// close ends an open dashboard when the agent quits. The dashboard sees the
// agent go and quits by itself; this only makes sure of it.
func (d *dashboardLauncher) close() {
	d.mu.Lock()
	cmd := d.cmd
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		gone := d.cmd == nil
		d.mu.Unlock()
		if gone {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
}
