//go:build linux && !nogui

package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"usepod.ai/agent/internal/testrig/desktoptest"
)

// The tray as a Linux desktop sees it: on a private session bus with a
// StatusNotifierWatcher, the real always-on process registers its item, and
// the item's menu, read and clicked through com.canonical.dbusmenu the way a
// panel does, pauses the engine, opens the dashboard process and quits.
func TestTrayOverDBus(t *testing.T) {
	agent, replayBin := binaries(t)
	backend := startReplayBackend(t, replayBin)
	coord, coordURL := startCoordinator(t)
	bus := desktoptest.StartSessionBus(t)
	conn := desktoptest.ConnectBus(t, bus)
	watcher := desktoptest.ServeWatcher(t, conn)
	s := newDesktopSession(t, bus, backend)

	app := s.runApp(t, agent, coordURL)
	var reg desktoptest.Registration
	select {
	case reg = <-watcher.Registered:
	case <-app.done:
		t.Fatalf("the app exited (%v) before registering its tray item", app.err)
	case <-time.After(desktopWait):
		t.Fatal("the app did not register a tray item with the StatusNotifierWatcher")
	}
	if pid, err := watcher.PID(reg); err != nil || pid != app.cmd.Process.Pid {
		t.Fatalf("tray item registered by pid %d (%v), want the app's %d", pid, err, app.cmd.Process.Pid)
	}
	menu := desktoptest.Menu(t, conn, reg)

	p, caps, i := waitProvider(t, coord)
	if got := caps.ModelIDs(); !slices.Equal(got, []string{"tiny"}) {
		t.Fatalf("the app offers %v, want [tiny]", got)
	}
	// Wait for the menu of a connected agent: it says so in its status line
	// and offers Pause. It changes only with the state, so its ids hold.
	items := desktoptest.WaitMenu(t, menu, "a connected agent's menu", func(items []desktoptest.MenuEntry) bool {
		status := items[0].Label
		return (strings.HasPrefix(status, "Waiting for jobs") || strings.HasPrefix(status, "Earning")) &&
			desktoptest.FindLabel(items, "Pause earning") != nil
	})
	pause := desktoptest.FindLabel(items, "Pause earning")
	if !pause.Enabled {
		t.Fatal("Pause earning is disabled")
	}

	desktoptest.Click(t, menu, pause)

	caps, _ = waitCapabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Errorf("after Pause earning the app offers %v, want no models", caps.ModelIDs())
	}
	ctx, cancel := context.WithTimeout(t.Context(), desktopWait)
	defer cancel()
	if err := p.Closed(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("session end after Pause earning = %v, want a normal closure", err)
	}
	app.waitOutput(t, stateIs("paused"), "state=paused")
	items = desktoptest.WaitMenu(t, menu, "the paused menu", func(items []desktoptest.MenuEntry) bool {
		return desktoptest.FindLabel(items, "Start earning") != nil
	})
	if desktoptest.FindLabel(items, "Pause earning") != nil || !strings.HasPrefix(items[0].Label, "Paused") {
		t.Errorf("paused menu = %v", items)
	}

	// With a tray, nothing opens a window until the user asks for one.
	if strings.Contains(app.out.String(), `msg="dashboard opened"`) {
		t.Error("the app opened its dashboard by itself although a tray shows its icon")
	}
	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Open dashboard"))
	waitWindow(t, s.display, "Use Pod Agent")
	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Quit"))
	select {
	case <-app.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the app did not exit within 30 s of Quit")
	}
	if code := app.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after Quit = %d, want 0", code)
	}
	log := app.out.String()
	checkCleanLog(t, log)
	if !strings.Contains(log, `msg="dashboard closed"`) {
		t.Error("the dashboard did not close with the agent")
	}
	if got, want := states(log), []string{"connecting", "waiting for jobs", "paused"}; !inOrder(got, want) {
		t.Errorf("states logged %q, want %q in that order", got, want)
	}
	if n := strings.Count(log, `msg="earning paused by the user"`); n != 1 {
		t.Errorf("the app logged %d pauses by the user, want 1", n)
	}
}
