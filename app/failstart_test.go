//go:build linux && !nogui

package app

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A double-clicked app whose settings file does not parse shows a window
// that says so in plain words, with the file, line and key, and stays until
// the window is closed, instead of exiting with a line on a stderr nobody
// reads. The test photographs the window.
func TestFailedStartShowsAWindow(t *testing.T) {
	agent, _ := binaries(t)
	s := newDesktopSession(t, "", "http://127.0.0.1:1")
	if err := os.WriteFile(s.config, []byte("[limits]\nmax_concurrent = 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(agent, "--config", s.config, "--data-dir", s.data)
	cmd.Env = s.env()
	cmd.Dir = s.data
	app := start(t, "usepod-agent (broken settings)", cmd, syscall.SIGKILL)

	waitWindow(t, s.display, "Use Pod Agent could not start")
	time.Sleep(500 * time.Millisecond) // a few frames to draw it
	shot := screenshot(t, s.display, "failed-start.png")
	t.Logf("screenshot: %s", shot)

	// The window was found and photographed: the app is still there, held
	// by the window, until it is closed.
	if app.exited() {
		t.Fatalf("the app exited (%v) while its explanation was on screen", app.err)
	}
	out := app.out.String()
	if !strings.Contains(out, s.config+" line 2: limits.max_concurrent") {
		t.Errorf("stderr does not name the file, line and key: %q", out)
	}
	// Closing the window (the window manager's close, which Fyne also takes
	// SIGTERM for) ends the process with the settings' exit code.
	if code := app.stopAndWait(t, 10*time.Second); code != 2 {
		t.Errorf("exit code after the window closed = %d, want 2 (bad settings)", code)
	}
	checkCleanLog(t, app.out.String())
}
