//go:build linux && !nogui

package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// The tray as a Linux desktop sees it: on a private session bus with a
// StatusNotifierWatcher, the real always-on process registers its item, and
// the item's menu, read and clicked through com.canonical.dbusmenu the way a
// panel does, pauses the engine, opens the dashboard process and quits.
func TestTrayOverDBus(t *testing.T) {
	agent, replayBin := binaries(t)
	backend := startReplayBackend(t, replayBin)
	coord, coordURL := startCoordinator(t)
	bus := startSessionBus(t)
	conn := connectBus(t, bus)
	watcher := serveWatcher(t, conn)
	s := newDesktopSession(t, bus, backend)

	app := s.runApp(t, agent, coordURL)
	var reg registration
	select {
	case reg = <-watcher.registered:
	case <-app.done:
		t.Fatalf("the app exited (%v) before registering its tray item", app.err)
	case <-time.After(desktopWait):
		t.Fatal("the app did not register a tray item with the StatusNotifierWatcher")
	}
	var pid uint32
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetConnectionUnixProcessID", 0, reg.busName).Store(&pid); err != nil {
		t.Fatal(err)
	}
	if int(pid) != app.cmd.Process.Pid {
		t.Fatalf("tray item registered by pid %d, want the app's %d", pid, app.cmd.Process.Pid)
	}
	v, err := conn.Object(reg.busName, reg.path).GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		t.Fatalf("the item's Menu property: %v", err)
	}
	menuPath, ok := v.Value().(dbus.ObjectPath)
	if !ok || !menuPath.IsValid() {
		t.Fatalf("the item's Menu property is %v, want an object path", v)
	}
	menu := conn.Object(reg.busName, menuPath)

	p, caps, i := waitProvider(t, coord)
	if got := caps.ModelIDs(); !slices.Equal(got, []string{"tiny"}) {
		t.Fatalf("the app offers %v, want [tiny]", got)
	}
	// Wait for the menu of a connected agent: it says so in its status line
	// and offers Pause. It changes only with the state, so its ids hold.
	items := waitMenu(t, menu, "a connected agent's menu", func(items []menuEntry) bool {
		status := items[0].label
		return (strings.HasPrefix(status, "Waiting for jobs") || strings.HasPrefix(status, "Earning")) &&
			findLabel(items, "Pause earning") != nil
	})
	pause := findLabel(items, "Pause earning")
	if !pause.enabled {
		t.Fatal("Pause earning is disabled")
	}

	click(t, menu, pause)

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
	items = waitMenu(t, menu, "the paused menu", func(items []menuEntry) bool {
		return findLabel(items, "Start earning") != nil
	})
	if findLabel(items, "Pause earning") != nil || !strings.HasPrefix(items[0].label, "Paused") {
		t.Errorf("paused menu = %v", items)
	}

	// With a tray, nothing opens a window until the user asks for one.
	if strings.Contains(app.out.String(), `msg="dashboard opened"`) {
		t.Error("the app opened its dashboard by itself although a tray shows its icon")
	}
	click(t, menu, findLabel(items, "Open dashboard"))
	waitWindow(t, s.display, "Use Pod Agent")
	click(t, menu, findLabel(items, "Quit"))
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

// click clicks a menu item the way a panel does.
func click(t testing.TB, menu dbus.BusObject, item *menuEntry) {
	t.Helper()
	if item == nil {
		t.Fatal("no such menu item")
	}
	if err := menu.Call("com.canonical.dbusmenu.Event", 0, item.id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatalf("click %s: %v", item.label, err)
	}
}

// menuEntry is one item of a dbusmenu, as a panel reads it.
type menuEntry struct {
	id      int32
	label   string
	enabled bool
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

// readMenu calls GetLayout on the root and lists its items, separators left
// out.
func readMenu(menu dbus.BusObject) ([]menuEntry, error) {
	var rev uint32
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root); err != nil {
		return nil, err
	}
	var items []menuEntry
	for _, c := range root.Children {
		fields, ok := c.Value().([]any)
		if !ok || len(fields) != 3 {
			return nil, fmt.Errorf("menu item %v is not (ia{sv}av)", c)
		}
		id, _ := fields[0].(int32)
		props, _ := fields[1].(map[string]dbus.Variant)
		if typ, _ := props["type"].Value().(string); typ == "separator" {
			continue
		}
		e := menuEntry{id: id, enabled: true}
		if l, ok := props["label"].Value().(string); ok {
			e.label = l
		}
		if en, ok := props["enabled"].Value().(bool); ok {
			e.enabled = en
		}
		items = append(items, e)
	}
	return items, nil
}

// waitMenu polls the menu until ok holds for a non-empty one.
func waitMenu(t testing.TB, menu dbus.BusObject, what string, ok func([]menuEntry) bool) []menuEntry {
	t.Helper()
	deadline := time.Now().Add(desktopWait)
	var items []menuEntry
	var err error
	for time.Now().Before(deadline) {
		if items, err = readMenu(menu); err == nil && len(items) > 0 && ok(items) {
			return items
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; last menu %v (err %v)", what, items, err)
	return nil
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
	props      *prop.Properties
	mu         sync.Mutex // guards items
	items      []string
	registered chan registration
}

const (
	watcherName  = "org.kde.StatusNotifierWatcher"
	watcherPath  = dbus.ObjectPath("/StatusNotifierWatcher")
	watcherIface = "org.kde.StatusNotifierWatcher"
)

// serveWatcher exports the watcher and then takes its well-known name, so
// that whoever sees the name finds everything behind it.
func serveWatcher(t testing.TB, conn *dbus.Conn) *watcher {
	t.Helper()
	w := &watcher{conn: conn, registered: make(chan registration, 4)}
	if err := conn.Export(w, watcherPath, watcherIface); err != nil {
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

// RegisterStatusNotifierItem is the watcher's method. service is a bus
// name, or (as fyne.io/systray and libappindicator send) an object path on
// the caller's connection.
func (w *watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	reg := registration{busName: string(sender), path: "/StatusNotifierItem"}
	if strings.HasPrefix(service, "/") {
		reg.path = dbus.ObjectPath(service)
	} else {
		reg.busName = service
	}
	item := reg.busName + string(reg.path)
	w.mu.Lock()
	w.items = append(w.items, item)
	items := slices.Clone(w.items)
	w.mu.Unlock()
	w.props.SetMust(watcherIface, "RegisteredStatusNotifierItems", items)
	w.conn.Emit(watcherPath, watcherIface+".StatusNotifierItemRegistered", item)
	select {
	case w.registered <- reg:
	default:
	}
	return nil
}

// RegisterStatusNotifierHost is the watcher's method for panels.
func (w *watcher) RegisterStatusNotifierHost(service string) *dbus.Error { return nil }
