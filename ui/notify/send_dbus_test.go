//go:build (linux || freebsd || openbsd || netbsd) && !android

package notify

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/core/engine"
)

// Send against a private session bus with a notification server on it, as
// a desktop runs one.
func TestSendOverDBus(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache) // where the icon file goes
	bus := startSessionBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)

	// No notification server yet: a plain error, no hang.
	if err := Send("Ollama went down", "x"); err == nil || !strings.Contains(err.Error(), "send notification") {
		t.Fatalf("Send without a notification server = %v, want a send error", err)
	}

	conn, err := dbus.Connect(bus)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	server := serveNotifications(t, conn)

	if err := Send("Ollama went down", "Ollama at localhost:11434 stopped answering."); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := server.received()
	if len(got) != 1 {
		t.Fatalf("server received %d notifications, want 1", len(got))
	}
	n := got[0]
	if n.app != "Use Pod Agent" || n.summary != "Ollama went down" || n.body != "Ollama at localhost:11434 stopped answering." {
		t.Errorf("notification = %+v", n)
	}
	if n.replaces != 0 || n.timeout != -1 {
		t.Errorf("replaces %d, timeout %d: want a new notification with the server's timeout", n.replaces, n.timeout)
	}
	if entry, _ := n.hints["desktop-entry"].Value().(string); entry != "ai.usepod.agent" {
		t.Errorf("desktop-entry hint = %v", n.hints["desktop-entry"])
	}
	if !strings.HasPrefix(n.icon, cache+string(filepath.Separator)) {
		t.Fatalf("icon %q is not a file in the cache directory %s", n.icon, cache)
	}
	if b, err := os.ReadFile(n.icon); err != nil || !bytes.Equal(b, assets.Icon) {
		t.Errorf("icon file %s: %v, same as assets.Icon: %v", n.icon, err, bytes.Equal(b, assets.Icon))
	}

	// The notifier as the always-on process runs it: Watch with Send.
	snaps := make(chan engine.Snapshot)
	done := make(chan struct{})
	go func() { Watch(t.Context(), snaps, Send, nil); close(done) }()
	snaps <- snap(engine.StateWaiting)
	snaps <- snap(engine.StateEnrollmentRejected)
	close(snaps)
	<-done // Watch sends before it reads on, so the call has been answered
	got = server.received()
	if len(got) != 2 || got[1].summary != "Enrollment code rejected" || got[1].body != "Paste a new enrollment code in Settings." {
		t.Errorf("after Watch the server has %+v", got)
	}
}

// startSessionBus runs a private dbus-daemon for the test and returns its
// address.
func startSessionBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Fatalf("dbus-daemon is needed for this test (apt-get install dbus): %v", err)
	}
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--address=unix:path="+sock)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return "unix:path=" + sock
		}
	}
	t.Fatalf("dbus-daemon did not open %s: %s", sock, out.String())
	return ""
}

// notifications is a minimal org.freedesktop.Notifications server.
type notifications struct {
	mu   sync.Mutex // guards sent
	sent []notice
}

type notice struct {
	app, icon, summary, body string
	replaces                 uint32
	hints                    map[string]dbus.Variant
	timeout                  int32
}

func serveNotifications(t *testing.T, conn *dbus.Conn) *notifications {
	t.Helper()
	n := &notifications{}
	if err := conn.Export(n, "/org/freedesktop/Notifications", "org.freedesktop.Notifications"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.freedesktop.Notifications", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.Notifications: %v (reply %v)", err, reply)
	}
	return n
}

// Notify is org.freedesktop.Notifications.Notify.
func (n *notifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sent = append(n.sent, notice{app: app, icon: icon, summary: summary, body: body, replaces: replaces, hints: hints, timeout: timeout})
	return uint32(len(n.sent)), nil
}

func (n *notifications) received() []notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notice(nil), n.sent...)
}
