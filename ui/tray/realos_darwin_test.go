//go:build realos && darwin

package tray

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tray on a real macOS menu bar (the CI workflow's macos-latest job,
// -tags realos): the child runs the tray, takes a snapshot of each state,
// so each state's template icon (black and alpha; assets checks the
// pixels) goes to NSStatusItem, and stops cleanly on SIGTERM. What the
// menu bar then draws (the tint in light and dark mode) no test sees.
func TestRealMenuBarTemplateIcons(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("child's stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 64)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	// publish blocks until the tray has taken the snapshot: each line
	// written means the icon for that state was set.
	for _, state := range []string{"waiting", "earning", "paused", "waiting"} {
		if _, err := stdin.Write([]byte("snap " + state + "\n")); err != nil {
			t.Fatalf("snap %s: %v", state, err)
		}
	}
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the tray ended without saying it returned")
			}
			if strings.HasPrefix(line, "returned ") {
				if line != "returned <nil>" {
					t.Fatalf("the tray %s, want returned <nil>", line)
				}
				return
			}
		case <-deadline:
			t.Fatal("the tray did not stop within 20 s of SIGTERM")
		}
	}
}
