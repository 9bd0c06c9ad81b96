//go:build linux

package tray

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// wait bounds every wait for the child; generous for a loaded machine.
const wait = 20 * time.Second

// The tray as a Linux panel sees it: on a private session bus with a
// StatusNotifierWatcher, the item registers, its menu (read and clicked
// through com.canonical.dbusmenu) follows the engine, and Quit drains
// before Run returns.
func TestTrayOverDBus(t *testing.T) {
	bus := startSessionBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	conn := connectBus(t, bus)

	if HostPresent() {
		t.Error("HostPresent is true on a bus without a StatusNotifierWatcher")
	}
	w := serveWatcher(t, conn)
	if !HostPresent() {
		t.Error("HostPresent is false with a watcher that has a host")
	}

	c := startChild(t, bus)
	reg := c.registration(t, w)
	item := conn.Object(reg.busName, reg.path)
	if v, err := item.GetProperty("org.kde.StatusNotifierItem.ItemIsMenu"); err != nil || v.Value() != false {
		t.Errorf("ItemIsMenu = %v (%v), want false: clicking the icon opens the dashboard", v, err)
	}
	if v, err := item.GetProperty("org.kde.StatusNotifierItem.Title"); err != nil || v.Value() != "Use Pod Agent" {
		t.Errorf("Title = %v (%v)", v, err)
	}
	v, err := item.GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		t.Fatalf("the item's Menu property: %v", err)
	}
	menuPath, _ := v.Value().(dbus.ObjectPath)
	menu := conn.Object(reg.busName, menuPath)

	// Before the first snapshot the menu is a connecting agent's, like
	// today's.
	waitMenu(t, menu, "the connecting menu", func(m []menuEntry) bool { return m[0].label == "Connecting… · 0.000000 USDC today" })
	// systray bumps the menu's revision by itself once, 150 ms after the
	// first GetLayout (a workaround for libdbusmenu-gtk3); let that pass
	// before the revision is counted below.
	time.Sleep(500 * time.Millisecond)
	icon := waitIcon(t, item, "an icon", func([]byte) bool { return true })

	c.send(t, "snap waiting")
	items := waitMenu(t, menu, "the waiting menu", func(m []menuEntry) bool {
		return m[0].label == "Waiting for jobs · 0.048213 USDC today"
	})
	if got, want := visibleLabels(items), []string{"Waiting for jobs · 0.048213 USDC today", "Pause earning", "Open dashboard", "Settings…", "Quit"}; !slices.Equal(got, want) {
		t.Fatalf("menu = %q, want %q", got, want)
	}
	if items[0].enabled {
		t.Error("the status line is clickable")
	}
	if e := findLabel(items, "Show log"); e == nil || e.visible {
		t.Errorf("Show log = %+v, want a hidden item while the engine runs", e)
	}

	click(t, menu, findLabel(items, "Pause earning"))
	c.expect(t, "pause")

	c.send(t, "snap paused")
	items = waitMenu(t, menu, "the paused menu", func(m []menuEntry) bool { return findLabel(m, "Start earning") != nil })
	if items[0].label != "Paused · 0.048213 USDC today" || findLabel(items, "Pause earning") != nil {
		t.Errorf("paused menu = %v", items)
	}
	waitIcon(t, item, "the paused icon", func(pix []byte) bool { return !bytes.Equal(pix, icon) })
	click(t, menu, findLabel(items, "Start earning"))
	c.expect(t, "start")

	// The menu changes only where what it shows changes: two more Paused
	// snapshots change nothing, and Waiting changes two labels, so the
	// menu's revision goes up by two (one per item update).
	before := revision(t, menu)
	c.send(t, "snap paused")
	c.send(t, "snap paused")
	c.send(t, "snap waiting")
	waitMenu(t, menu, "the waiting menu again", func(m []menuEntry) bool { return findLabel(m, "Pause earning") != nil })
	if after := revision(t, menu); after != before+2 {
		t.Errorf("menu revision went from %d to %d for one change of two labels; the menu is rebuilt or updated needlessly", before, after)
	}

	click(t, menu, findLabel(items, "Settings…"))
	c.expect(t, "settings")
	click(t, menu, findLabel(items, "Open dashboard"))
	c.expect(t, "dashboard")
	if err := item.Call("org.kde.StatusNotifierItem.Activate", 0, int32(0), int32(0)).Err; err != nil {
		t.Fatalf("Activate (a click on the icon): %v", err)
	}
	c.expect(t, "dashboard")

	// The engine stops for good: the status line says why, Start/Pause is
	// off, and the log is one click away.
	c.send(t, "fail the earnings database is locked by another copy of the agent")
	items = waitMenu(t, menu, "the stopped menu", func(m []menuEntry) bool { return strings.HasPrefix(m[0].label, "Stopped") })
	if got := items[0].label; got != "Stopped: the earnings database is locked by another copy of the agent" {
		t.Errorf("status = %q", got)
	}
	if e := findLabel(items, "Pause earning"); e == nil || e.enabled {
		t.Errorf("Start/Pause = %+v, want a disabled item", e)
	}
	showLog := findLabel(items, "Show log")
	if showLog == nil || !showLog.visible || !showLog.enabled {
		t.Fatalf("Show log = %+v, want a visible item", showLog)
	}
	click(t, menu, showLog)
	c.expect(t, "showlog")

	// Quit: Actions.Quit runs, the item says so, and Run returns only after
	// Actions.Quit has.
	click(t, menu, findLabel(items, "Quit"))
	c.expect(t, "quit")
	items = waitMenu(t, menu, "the quitting menu", func(m []menuEntry) bool { return findLabel(m, "Quitting…") != nil })
	if e := findLabel(items, "Quitting…"); e.enabled {
		t.Error("Quitting… is clickable")
	}
	click(t, menu, findLabel(items, "Quitting…")) // a second click starts no second quit
	c.quiet(t, 300*time.Millisecond)
	c.send(t, "drained")
	c.expect(t, "returned <nil>")
	c.expectPrefix(t, "again tray: Run was already called")
	c.exited(t)
}

// SIGTERM cancels Run's context: the tray goes away without Actions.Quit,
// also while snapshots keep arriving (fyne.io/systray panics when it
// updates the menu on its closed D-Bus connection; the tray must not let
// it).
func TestTrayStopsWithContext(t *testing.T) {
	bus := startSessionBus(t)
	conn := connectBus(t, bus)
	w := serveWatcher(t, conn)
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c := startChild(t, bus)
			reg := c.registration(t, w)
			menu := conn.Object(reg.busName, "/StatusNotifierItem/menu")
			c.send(t, "snap waiting")
			waitMenu(t, menu, "the waiting menu", func(m []menuEntry) bool { return findLabel(m, "Pause earning") != nil })

			stopped := make(chan struct{})
			go func() { // the engine keeps publishing through the quit
				for _, s := range slices.Repeat([]string{"snap paused", "snap waiting"}, 200) {
					if _, err := io.WriteString(c.stdin, s+"\n"); err != nil {
						break
					}
				}
				close(stopped)
			}()
			time.Sleep(time.Duration(i) * 5 * time.Millisecond)
			if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			c.expect(t, "returned <nil>")
			c.exited(t)
			<-stopped
		})
	}
}

// Without a session bus Run says so at once, in words.
func TestRunWithoutSessionBus(t *testing.T) {
	c := startChild(t, "unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	c.expectPrefix(t, "returned tray: no session bus to show the tray icon on:")
	c.exited(t)
}

// child is the test binary running runChild.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // the child's stdout, a line at a time
	stderr *lockedBuffer // systray's log, shown when a test fails
	done   chan error
}

func startChild(t *testing.T, bus string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	// Under -race, a race report does not end the child: fyne.io/systray has
	// races of its own (GetLayout reads the menu revision that refresh
	// writes under another lock). checkRaces fails the test for any report
	// that involves this package.
	cmd.Env = append(os.Environ(), childEnv+"=1", "DBUS_SESSION_BUS_ADDRESS="+bus, "GORACE=exitcode=0 atexit_sleep_ms=100")
	c := &child{cmd: cmd, lines: make(chan string, 64), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			c.lines <- s.Text()
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		c.checkRaces(t)
		if t.Failed() {
			t.Logf("child's stderr:\n%s", c.stderr.String())
		}
	})
	return c
}

// checkRaces fails the test for a race report from the child where one of
// the two accesses is made by this package's own code. Races between
// fyne.io/systray and godbus (systray sets a property's value in place
// while godbus encodes it for a reader; GetLayout reads the menu revision
// that refresh writes under another lock) are theirs, only logged.
func (c *child) checkRaces(t *testing.T) {
	t.Helper()
	reports := strings.Split(c.stderr.String(), "WARNING: DATA RACE")
	for _, r := range reports[1:] {
		if racyCode(r, "usepod.ai/agent/ui/tray.") {
			t.Errorf("data race in the tray:%s", r)
		} else {
			t.Logf("a data race inside fyne.io/systray or godbus (not ours): %s", strings.Join(racyFrames(r), " vs "))
		}
	}
}

// racyFrames lists, for each access of a race report, the first function
// that is not the runtime's or reflection's: the code that touched memory.
func racyFrames(report string) []string {
	var frames []string
	lines := strings.Split(report, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if !strings.Contains(l, " at 0x") || !(strings.HasPrefix(l, "Read") || strings.HasPrefix(l, "Write") ||
			strings.HasPrefix(l, "Previous") || strings.HasPrefix(l, "Atomic")) {
			continue
		}
		for _, f := range lines[i+1:] {
			f = strings.TrimSpace(f)
			if f == "" {
				break
			}
			if strings.HasPrefix(f, "/") || strings.HasPrefix(f, "runtime.") || strings.HasPrefix(f, "reflect.") ||
				strings.HasPrefix(f, "sync/atomic.") || strings.HasPrefix(f, "internal/") {
				continue
			}
			frames = append(frames, f)
			break
		}
	}
	return frames
}

func racyCode(report, pkg string) bool {
	for _, f := range racyFrames(report) {
		if strings.HasPrefix(f, pkg) {
			return true
		}
	}
	return false
}

func (c *child) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		t.Fatalf("write %q to the child: %v", line, err)
	}
}

// next is the child's next line; ok is false when it closed its stdout.
func (c *child) next(t *testing.T, limit time.Duration) (line string, ok, timedOut bool) {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		return line, ok, false
	case <-time.After(limit):
		return "", false, true
	}
}

func (c *child) expect(t *testing.T, want string) {
	t.Helper()
	line, ok, timedOut := c.next(t, wait)
	if timedOut || !ok || line != want {
		t.Fatalf("child said %q (open %v, timed out %v), want %q", line, ok, timedOut, want)
	}
}

func (c *child) expectPrefix(t *testing.T, want string) {
	t.Helper()
	line, ok, timedOut := c.next(t, wait)
	if timedOut || !ok || !strings.HasPrefix(line, want) {
		t.Fatalf("child said %q (open %v, timed out %v), want %q…", line, ok, timedOut, want)
	}
}

// quiet checks that the child says nothing for a while.
func (c *child) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	if line, ok, timedOut := c.next(t, d); !timedOut {
		t.Fatalf("child said %q (open %v) early", line, ok)
	}
}

func (c *child) exited(t *testing.T) {
	t.Helper()
	for range c.lines {
	}
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("child exited with %v", err)
		}
	case <-time.After(wait):
		t.Fatal("the child did not exit")
	}
}

// registration waits for the child's item to register with the watcher.
func (c *child) registration(t *testing.T, w *watcher) registration {
	t.Helper()
	for {
		select {
		case reg := <-w.registered:
			var pid uint32
			if err := w.conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, reg.busName).Store(&pid); err != nil {
				t.Fatal(err)
			}
			if int(pid) != c.cmd.Process.Pid {
				continue // an earlier child's, re-registering
			}
			return reg
		case line := <-c.lines:
			t.Fatalf("the child said %q before registering its tray item", line)
		case <-time.After(wait):
			t.Fatal("the child did not register a tray item with the StatusNotifierWatcher")
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// menuEntry is one item of a dbusmenu, as a panel reads it.
type menuEntry struct {
	id      int32
	label   string
	enabled bool
	visible bool
}

func (e menuEntry) String() string { return fmt.Sprintf("%d:%q", e.id, e.label) }

func findLabel(items []menuEntry, label string) *menuEntry {
	for i := range items {
		if items[i].label == label {
			return &items[i]
		}
	}
	return nil
}

func visibleLabels(items []menuEntry) []string {
	var out []string
	for _, e := range items {
		if e.visible {
			out = append(out, e.label)
		}
	}
	return out
}

// readMenu calls GetLayout on the root and lists its items, separators left
// out, with the layout's revision.
func readMenu(menu dbus.BusObject) ([]menuEntry, uint32, error) {
	var rev uint32
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		return nil, 0, err
	}
	var items []menuEntry
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
		e := menuEntry{id: id, enabled: true, visible: true}
		if l, ok := props["label"].Value().(string); ok {
			e.label = l
		}
		if en, ok := props["enabled"].Value().(bool); ok {
			e.enabled = en
		}
		if v, ok := props["visible"].Value().(bool); ok {
			e.visible = v
		}
		items = append(items, e)
	}
	return items, rev, nil
}

func revision(t *testing.T, menu dbus.BusObject) uint32 {
	t.Helper()
	_, rev, err := readMenu(menu)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// waitMenu polls the menu until ok holds for a non-empty one.
func waitMenu(t *testing.T, menu dbus.BusObject, what string, ok func([]menuEntry) bool) []menuEntry {
	t.Helper()
	deadline := time.Now().Add(wait)
	var items []menuEntry
	var err error
	for time.Now().Before(deadline) {
		if items, _, err = readMenu(menu); err == nil && len(items) > 0 && ok(items) {
			return items
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last menu %v (err %v)", what, items, err)
	return nil
}

func click(t *testing.T, menu dbus.BusObject, e *menuEntry) {
	t.Helper()
	if e == nil {
		t.Fatal("no such menu item")
	}
	if err := menu.Call("com.canonical.dbusmenu.Event", 0, e.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatalf("click %q: %v", e.label, err)
	}
}

// readIcon reads the item's icon pixels when they are one 64 px icon.
func readIcon(item dbus.BusObject) ([]byte, error) {
	v, err := item.GetProperty("org.kde.StatusNotifierItem.IconPixmap")
	if err != nil {
		return nil, err
	}
	var px []struct {
		W, H int32
		Pix  []byte
	}
	if err := dbus.Store([]any{v.Value()}, &px); err != nil {
		return nil, fmt.Errorf("IconPixmap %v: %w", v, err)
	}
	if len(px) != 1 || px[0].W != 64 || px[0].H != 64 || len(px[0].Pix) != 64*64*4 {
		return nil, fmt.Errorf("IconPixmap is not one 64 px icon: %d images", len(px))
	}
	return px[0].Pix, nil
}

// waitIcon polls the item's icon until ok holds: the icon is set after the
// menu's labels.
func waitIcon(t *testing.T, item dbus.BusObject, what string, ok func([]byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(wait)
	var err error
	for time.Now().Before(deadline) {
		var pix []byte
		if pix, err = readIcon(item); err == nil && ok(pix) {
			return pix
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error %v)", what, err)
	return nil
}

// startSessionBus runs a private dbus-daemon and returns its address.
func startSessionBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Fatalf("dbus-daemon is needed for this test (apt-get install dbus): %v", err)
	}
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--address=unix:path="+sock)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return "unix:path=" + sock
		}
	}
	t.Fatalf("dbus-daemon did not open %s: %s", sock, out.String())
	return ""
}

func connectBus(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// registration is a RegisterStatusNotifierItem call.
type registration struct {
	busName string          // the caller's unique name
	path    dbus.ObjectPath // the item's object path
}

// watcher is a minimal org.kde.StatusNotifierWatcher, as a desktop's panel
// runs one: it accepts items and says a host is there to show them.
type watcher struct {
	conn       *dbus.Conn
	registered chan registration
}

const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = dbus.ObjectPath("/StatusNotifierWatcher")
	watcherIface = "org.kde.StatusNotifierWatcher"
)

// serveWatcher exports the watcher and then takes its well-known name.
func serveWatcher(t *testing.T, conn *dbus.Conn) *watcher {
	t.Helper()
	w := &watcher{conn: conn, registered: make(chan registration, 8)}
	if err := conn.Export(w, watcherPath, watcherIface); err != nil {
		t.Fatal(err)
	}
	if _, err := prop.Export(conn, watcherPath, prop.Map{watcherIface: {
		"IsStatusNotifierHostRegistered": {Value: true, Emit: prop.EmitTrue},
		"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
		"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
	}}); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own %s: %v (reply %v)", watcherName, err, reply)
	}
	return w
}

// RegisterStatusNotifierItem is the watcher's method. service is a bus
// name, or (as fyne.io/systray sends) an object path on the caller's
// connection.
func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	reg := registration{busName: string(sender), path: "/StatusNotifierItem"}
	if strings.HasPrefix(service, "/") {
		reg.path = dbus.ObjectPath(service)
	} else {
		reg.busName = service
	}
	select {
	case w.registered <- reg:
	default:
	}
	return nil
}

// RegisterStatusNotifierHost is the watcher's method for panels.
func (w *watcher) RegisterStatusNotifierHost(service string) *dbus.Error { return nil }
