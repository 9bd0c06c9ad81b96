//go:build linux

package tray

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"usepod.ai/agent/internal/testrig/desktoptest"
	"usepod.ai/agent/internal/testrig/writers"
)

// wait bounds every wait for the child; generous for a loaded machine.
const wait = 20 * time.Second

// The tray as a Linux panel sees it: on a private session bus with a
// StatusNotifierWatcher, the item registers, its menu (read and clicked
// through com.canonical.dbusmenu) follows the engine, and Quit drains
// before Run returns.
func TestTrayOverDBus(t *testing.T) {
	bus := desktoptest.StartSessionBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	conn := desktoptest.ConnectBus(t, bus)

	if HostPresent() {
		t.Error("HostPresent is true on a bus without a StatusNotifierWatcher")
	}
	w := desktoptest.ServeWatcher(t, conn)
	if !HostPresent() {
		t.Error("HostPresent is false with a watcher that has a host")
	}

	c := startChild(t, bus)
	reg := c.registration(t, w)
	item := conn.Object(reg.BusName, reg.Path)
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
	menu := conn.Object(reg.BusName, menuPath)

	// Before the first snapshot the menu is a connecting agent's, like
	// today's.
	desktoptest.WaitMenu(t, menu, "the connecting menu", func(m []desktoptest.MenuEntry) bool { return m[0].Label == "Connecting… · 0.000000 USDC today" })
	// systray bumps the menu's revision by itself once, 150 ms after the
	// first GetLayout (a workaround for libdbusmenu-gtk3); let that pass
	// before the revision is counted below.
	time.Sleep(500 * time.Millisecond)
	icon := waitIcon(t, item, "an icon", func([]byte) bool { return true })

	c.send(t, "snap waiting")
	items := desktoptest.WaitMenu(t, menu, "the waiting menu", func(m []desktoptest.MenuEntry) bool {
		return m[0].Label == "Waiting for jobs · 0.048213 USDC today"
	})
	if got, want := visibleLabels(items), []string{"Waiting for jobs · 0.048213 USDC today", "Pause earning", "Open dashboard", "Settings…", "Quit"}; !slices.Equal(got, want) {
		t.Fatalf("menu = %q, want %q", got, want)
	}
	if items[0].Enabled {
		t.Error("the status line is clickable")
	}
	if e := desktoptest.FindLabel(items, "Show log"); e == nil || e.Visible {
		t.Errorf("Show log = %+v, want a hidden item while the engine runs", e)
	}

	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Pause earning"))
	c.expect(t, "pause")

	c.send(t, "snap paused")
	items = desktoptest.WaitMenu(t, menu, "the paused menu", func(m []desktoptest.MenuEntry) bool { return desktoptest.FindLabel(m, "Start earning") != nil })
	if items[0].Label != "Paused · 0.048213 USDC today" || desktoptest.FindLabel(items, "Pause earning") != nil {
		t.Errorf("paused menu = %v", items)
	}
	waitIcon(t, item, "the paused icon", func(pix []byte) bool { return !bytes.Equal(pix, icon) })
	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Start earning"))
	c.expect(t, "start")

	// The menu changes only where what it shows changes: two more Paused
	// snapshots change nothing, and Waiting changes two labels, so the
	// menu's revision goes up by two (one per item update).
	before := revision(t, menu)
	c.send(t, "snap paused")
	c.send(t, "snap paused")
	c.send(t, "snap waiting")
	desktoptest.WaitMenu(t, menu, "the waiting menu again", func(m []desktoptest.MenuEntry) bool { return desktoptest.FindLabel(m, "Pause earning") != nil })
	if after := revision(t, menu); after != before+2 {
		t.Errorf("menu revision went from %d to %d for one change of two labels; the menu is rebuilt or updated needlessly", before, after)
	}

	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Settings…"))
	c.expect(t, "settings")
	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Open dashboard"))
	c.expect(t, "dashboard")
	if err := item.Call("org.kde.StatusNotifierItem.Activate", 0, int32(0), int32(0)).Err; err != nil {
		t.Fatalf("Activate (a click on the icon): %v", err)
	}
	c.expect(t, "dashboard")

	// The engine stops for good: the status line says why, Start/Pause is
	// off, and the log is one click away.
	c.send(t, "fail the earnings database is locked by another copy of the agent")
	// The items change one D-Bus update at a time: wait for all of them.
	items = desktoptest.WaitMenu(t, menu, "the stopped menu", func(m []desktoptest.MenuEntry) bool {
		pause, showLog := desktoptest.FindLabel(m, "Pause earning"), desktoptest.FindLabel(m, "Show log")
		return strings.HasPrefix(m[0].Label, "Stopped") && (pause == nil || !pause.Enabled) && showLog != nil && showLog.Visible
	})
	if got := items[0].Label; got != "Stopped: the earnings database is locked by another copy of the agent" {
		t.Errorf("status = %q", got)
	}
	if e := desktoptest.FindLabel(items, "Pause earning"); e == nil || e.Enabled {
		t.Errorf("Start/Pause = %+v, want a disabled item", e)
	}
	showLog := desktoptest.FindLabel(items, "Show log")
	if showLog == nil || !showLog.Visible || !showLog.Enabled {
		t.Fatalf("Show log = %+v, want a visible item", showLog)
	}
	desktoptest.Click(t, menu, showLog)
	c.expect(t, "showlog")

	// Quit: Actions.Quit runs, the item says so, and Run returns only after
	// Actions.Quit has.
	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Quit"))
	c.expect(t, "quit")
	items = desktoptest.WaitMenu(t, menu, "the quitting menu", func(m []desktoptest.MenuEntry) bool { return desktoptest.FindLabel(m, "Quitting…") != nil })
	if e := desktoptest.FindLabel(items, "Quitting…"); e.Enabled {
		t.Error("Quitting… is clickable")
	}
	// A second click starts no second quit (TestQuitRunsTheActionOnce
	// proves it without a bus); were it to, "quit" would come before
	// "returned".
	desktoptest.Click(t, menu, desktoptest.FindLabel(items, "Quitting…"))
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
	bus := desktoptest.StartSessionBus(t)
	conn := desktoptest.ConnectBus(t, bus)
	w := desktoptest.ServeWatcher(t, conn)
	for i := range 5 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c := startChild(t, bus)
			reg := c.registration(t, w)
			menu := conn.Object(reg.BusName, "/StatusNotifierItem/menu")
			c.send(t, "snap waiting")
			desktoptest.WaitMenu(t, menu, "the waiting menu", func(m []desktoptest.MenuEntry) bool { return desktoptest.FindLabel(m, "Pause earning") != nil })

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
	lines  chan string     // the child's stdout, a line at a time
	stderr *writers.Locked // systray's log, shown when a test fails
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
	c := &child{cmd: cmd, lines: make(chan string, 64), stderr: &writers.Locked{}, done: make(chan error, 1)}
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
func (c *child) registration(t *testing.T, w *desktoptest.Watcher) desktoptest.Registration {
	t.Helper()
	for {
		select {
		case reg := <-w.Registered:
			pid, err := w.PID(reg)
			if err != nil {
				t.Fatal(err)
			}
			if pid != c.cmd.Process.Pid {
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

func visibleLabels(items []desktoptest.MenuEntry) []string {
	var out []string
	for _, e := range items {
		if e.Visible {
			out = append(out, e.Label)
		}
	}
	return out
}

func revision(t *testing.T, menu dbus.BusObject) uint32 {
	t.Helper()
	_, rev, err := desktoptest.ReadMenu(menu)
	if err != nil {
		t.Fatal(err)
	}
	return rev
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
