// Package desktoptest is a private Linux desktop for tests: an X display
// (Xvfb), a D-Bus session bus, a minimal org.kde.StatusNotifierWatcher as a
// panel runs one, and the com.canonical.dbusmenu calls a panel makes to read
// and click an item's menu. The tray's own tests, the app's end-to-end tests
// and the wine tests drive the real programs through it.
package desktoptest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"usepod.ai/agent/internal/testrig/writers"
)

// Wait bounds each wait on the bus or the menu.
const Wait = 20 * time.Second

// StartXvfb starts a private X server on the first free display from first
// to last and returns its DISPLAY. The test's end stops it with SIGTERM, so
// that it removes its lock file and socket; it dies with the test binary.
func StartXvfb(t testing.TB, first, last int) string {
	t.Helper()
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Fatalf("Xvfb is needed for this test (apt-get install xvfb): %v", err)
	}
	for n := first; n <= last; n++ {
		if !DisplayFree(n) {
			continue
		}
		display, sock := fmt.Sprintf(":%d", n), fmt.Sprintf("/tmp/.X11-unix/X%d", n)
		cmd := exec.Command(xvfb, display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset")
		var out writers.Locked
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start Xvfb: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
		for deadline := time.Now().Add(Wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			select {
			case <-done:
				deadline = time.Time{} // exited: another run took the display; try the next
				continue
			default:
			}
			if c, err := net.Dial("unix", sock); err == nil {
				c.Close()
				return display
			}
		}
		select {
		case <-done:
		default:
			t.Fatalf("Xvfb %s did not open %s within %v:\n%s", display, sock, Wait, out.String())
		}
	}
	t.Fatalf("no free X display from :%d to :%d", first, last)
	return ""
}

// DisplayFree reports whether X display n can be used. What an X server
// that died without cleaning up left behind (a lock file naming a process
// that is gone, a socket nobody answers on) is removed: such leftovers
// would otherwise take the display for good.
func DisplayFree(n int) bool {
	lock := fmt.Sprintf("/tmp/.X%d-lock", n)
	sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
	if b, err := os.ReadFile(lock); err == nil {
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			return false // not a lock file we understand: leave it
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			return false // its server runs
		}
		os.Remove(lock)
		os.Remove(sock)
		return true
	}
	if c, err := net.Dial("unix", sock); err == nil {
		c.Close()
		return false
	}
	os.Remove(sock)
	return true
}

// StartSessionBus runs a private dbus-daemon until the test ends and
// returns its address.
func StartSessionBus(t testing.TB) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Fatalf("dbus-daemon is needed for this test (apt-get install dbus): %v", err)
	}
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--address=unix:path="+sock)
	var out writers.Locked
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(Wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return "unix:path=" + sock
		}
	}
	t.Fatalf("dbus-daemon did not open %s: %s", sock, out.String())
	return ""
}

// ConnectBus connects to the bus as a client of its own, closed when the
// test ends.
func ConnectBus(t testing.TB, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Registration is a RegisterStatusNotifierItem call.
type Registration struct {
	BusName string          // the caller's unique name
	Path    dbus.ObjectPath // the item's object path
}

// Watcher is a minimal org.kde.StatusNotifierWatcher: it accepts items and
// says a host is there to show them.
type Watcher struct {
	conn  *dbus.Conn
	props *prop.Properties
	// Registered gets each registration (up to 8 unread).
	Registered chan Registration

	mu    sync.Mutex // guards items
	items []string
}

const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = dbus.ObjectPath("/StatusNotifierWatcher")
	watcherIface = "org.kde.StatusNotifierWatcher"
)

// ServeWatcher exports the watcher and then takes its well-known name, so
// that whoever sees the name finds everything behind it.
func ServeWatcher(t testing.TB, conn *dbus.Conn) *Watcher {
	t.Helper()
	w := &Watcher{conn: conn, Registered: make(chan Registration, 8)}
	if err := conn.ExportMethodTable(map[string]any{
		"RegisterStatusNotifierItem": w.registerItem,
		"RegisterStatusNotifierHost": func(string) *dbus.Error { return nil },
	}, watcherPath, watcherIface); err != nil {
		t.Fatal(err)
	}
	props, err := prop.Export(conn, watcherPath, prop.Map{watcherIface: {
		"IsStatusNotifierHostRegistered": {Value: true, Emit: prop.EmitTrue},
		"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
		"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.props = props
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v (reply %v)", watcherName, err, reply)
	}
	return w
}

// registerItem is RegisterStatusNotifierItem. service is a bus name, or (as
// fyne.io/systray and libappindicator send) an object path on the caller's
// connection.
func (w *Watcher) registerItem(sender dbus.Sender, service string) *dbus.Error {
	reg := Registration{BusName: string(sender), Path: "/StatusNotifierItem"}
	if strings.HasPrefix(service, "/") {
		reg.Path = dbus.ObjectPath(service)
	} else {
		reg.BusName = service
	}
	item := reg.BusName + string(reg.Path)
	w.mu.Lock()
	w.items = append(w.items, item)
	items := append([]string(nil), w.items...)
	w.mu.Unlock()
	w.props.SetMust(watcherIface, "RegisteredStatusNotifierItems", items)
	w.conn.Emit(watcherPath, watcherIface+".StatusNotifierItemRegistered", item)
	select {
	case w.Registered <- reg:
	default:
	}
	return nil
}

// PID is the process id of the connection that registered an item.
func (w *Watcher) PID(reg Registration) (int, error) {
	var pid uint32
	err := w.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, reg.BusName).Store(&pid)
	return int(pid), err
}

// Menu returns the dbusmenu object of a registered item.
func Menu(t testing.TB, conn *dbus.Conn, reg Registration) dbus.BusObject {
	t.Helper()
	v, err := conn.Object(reg.BusName, reg.Path).GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		t.Fatalf("the item's Menu property: %v", err)
	}
	path, ok := v.Value().(dbus.ObjectPath)
	if !ok || !path.IsValid() {
		t.Fatalf("the item's Menu property is %v, want an object path", v)
	}
	return conn.Object(reg.BusName, path)
}

// MenuEntry is one item of a dbusmenu, as a panel reads it.
type MenuEntry struct {
	ID      int32
	Label   string
	Enabled bool
	Visible bool
}

func (e MenuEntry) String() string { return fmt.Sprintf("%d:%q", e.ID, e.Label) }

// FindLabel returns the item with this label, or nil.
func FindLabel(items []MenuEntry, label string) *MenuEntry {
	for i := range items {
		if items[i].Label == label {
			return &items[i]
		}
	}
	return nil
}

// ReadMenu calls GetLayout on the root and lists its items, separators left
// out, with the layout's revision.
func ReadMenu(menu dbus.BusObject) ([]MenuEntry, uint32, error) {
	var rev uint32
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		return nil, 0, err
	}
	var items []MenuEntry
	for _, c := range root.Children {
		fields, ok := c.Value().([]any)
		if !ok || len(fields) != 3 {
			return nil, 0, fmt.Errorf("menu item %v is not (ia{sv}av)", c)
		}
		id, _ := fields[0].(int32)
		props, _ := fields[1].(map[string]dbus.Variant)
		if typ, _ := props["type"].Value().(string); typ == "separator" {
			continue
		}
		e := MenuEntry{ID: id, Enabled: true, Visible: true}
		if l, ok := props["label"].Value().(string); ok {
			e.Label = l
		}
		if en, ok := props["enabled"].Value().(bool); ok {
			e.Enabled = en
		}
		if v, ok := props["visible"].Value().(bool); ok {
			e.Visible = v
		}
		items = append(items, e)
	}
	return items, rev, nil
}

// WaitMenu polls the menu until ok holds for a non-empty one.
func WaitMenu(t testing.TB, menu dbus.BusObject, what string, ok func([]MenuEntry) bool) []MenuEntry {
	t.Helper()
	deadline := time.Now().Add(Wait)
	var items []MenuEntry
	var err error
	for time.Now().Before(deadline) {
		if items, _, err = ReadMenu(menu); err == nil && len(items) > 0 && ok(items) {
			return items
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last menu %v (err %v)", what, items, err)
	return nil
}

// Click clicks a menu item the way a panel does.
func Click(t testing.TB, menu dbus.BusObject, e *MenuEntry) {
	t.Helper()
	if e == nil {
		t.Fatal("no such menu item")
	}
	if err := menu.Call("com.canonical.dbusmenu.Event", 0, e.ID, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatalf("click %q: %v", e.Label, err)
	}
}
