//go:build linux && !nogui

package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"usepod.ai/agent/core/localapi"
	"usepod.ai/agent/internal/testrig/desktoptest"
)

// Where the system service runs and admits the user, the desktop app does
// not start a second engine: its tray shows and drives the service's (Pause
// in the tray pauses the service), a second launch finds the tray, and
// Quit ends the tray while the service keeps serving.
func TestDesktopAttachesToTheService(t *testing.T) {
	agent, replayBin := binaries(t)
	backend := startReplayBackend(t, replayBin)
	coord, coordURL := startCoordinator(t)

	// The "service": a headless agent serving its local API at an address
	// of its own, as `service install` sets it up with --api.
	svcData := t.TempDir()
	svcAPI := filepath.Join(t.TempDir(), "service.sock")
	svcCmd := exec.Command(agent, "--config", writeBackendConfig(t, backend), "--data-dir", svcData, "run", "--headless",
		"--coordinator", coordURL, "--allow-insecure", "--enrollment-code", "POD-ENROLL-E2E00001", "--keyring", "file", "--api", svcAPI)
	svc := start(t, "service", svcCmd, syscall.SIGKILL)
	p, _, i := waitProvider(t, coord)
	svc.waitOutput(t, stateIs("waiting for jobs"), "the service waiting for jobs")

	// The desktop app of a user whose settings and data live in their home
	// (no --config or --data-dir, which would ask for an agent of its own).
	bus := desktoptest.StartSessionBus(t)
	conn := desktoptest.ConnectBus(t, bus)
	watcher := desktoptest.ServeWatcher(t, conn)
	s := newDesktopSession(t, bus, backend)
	env := append(s.env(), localapi.ServiceAPIEnv+"="+svcAPI)
	desk := exec.Command(agent, "run")
	desk.Env, desk.Dir = env, s.data
	app := start(t, "usepod-agent (desktop)", desk, syscall.SIGKILL)
	app.waitOutput(t, regexp.MustCompile(`msg="attached to the system service"`), "attached to the service")

	var reg desktoptest.Registration
	select {
	case reg = <-watcher.Registered:
	case <-time.After(desktopWait):
		t.Fatal("the attached tray did not register")
	}
	menu := desktoptest.Menu(t, conn, reg)
	items := desktoptest.WaitMenu(t, menu, "the service's state in the tray", func(items []desktoptest.MenuEntry) bool {
		return strings.HasPrefix(items[0].Label, "Waiting for jobs") && desktoptest.FindLabel(items, "Pause earning") != nil
	})
	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Pause earning"))
	caps, _ := waitCapabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Errorf("after Pause in the attached tray the service offers %v, want nothing", caps.ModelIDs())
	}
	svc.waitOutput(t, stateIs("paused"), "the service paused")

	// A second launch finds the attached tray instead of attaching again.
	second := exec.Command(agent, "run")
	second.Env, second.Dir = env, s.data
	if out, err := second.CombinedOutput(); err != nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second launch: %v, %q; want it to find the running tray", err, out)
	}

	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Quit"))
	select {
	case <-app.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the attached tray did not quit")
	}
	if code := app.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("attached tray exit code = %d, want 0", code)
	}
	if svc.exited() {
		t.Fatal("quitting the tray stopped the service")
	}
	ctx, cancel := context.WithTimeout(t.Context(), desktopWait)
	defer cancel()
	if err := p.Closed(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("the paused service's session ended with %v, want a normal closure", err)
	}
	log := app.out.String()
	checkCleanLog(t, log)
	if strings.Contains(log, "msg=starting") || strings.Contains(log, "created a new identity key") {
		t.Error("the desktop app started an engine of its own next to the service")
	}
	if _, err := os.Stat(filepath.Join(s.home, ".config", "usepod-agent", "identity.key")); err == nil {
		t.Error("the desktop app made an identity of its own next to the service")
	}
}
