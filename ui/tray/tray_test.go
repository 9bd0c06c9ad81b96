package tray

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image/png"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/ui/present"
)

// The real engine is what the app hands Run.
var _ Engine = (*engine.Engine)(nil)

func TestViewOf(t *testing.T) {
	paused := present.TrayItems(engine.Snapshot{State: engine.StatePaused})
	v := viewOf(paused, nil, true)
	want := view{status: paused.Status, toggle: "Start earning", start: true, toggleEnabled: true, icon: present.IconPaused}
	if v != want {
		t.Errorf("running: %+v, want %+v", v, want)
	}
	v = viewOf(paused, errors.New("disk full"), true)
	want = view{status: "Stopped: disk full", toggle: "Start earning", start: true, showLog: true, icon: present.IconAttention}
	if v != want {
		t.Errorf("stopped: %+v, want %+v", v, want)
	}
	if v := viewOf(paused, errors.New("disk full"), false); v.showLog {
		t.Error("Show log shown without a ShowLog action")
	}
}

// A second Quit (a click on "Quitting…") starts no second drain, and Run
// ends only once Actions.Quit has returned. In a synctest bubble every
// goroutine quit starts has run as far as it can at synctest.Wait, so
// "once" is checked, not hoped for.
func TestQuitRunsTheActionOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var quits atomic.Int32
		drained := make(chan struct{})
		drain := sync.OnceFunc(func() { close(drained) })
		defer drain() // a failed check leaves no goroutine blocked
		life, end := context.WithCancel(t.Context())
		defer end()
		tr := &tray{log: slog.New(slog.DiscardHandler), end: end,
			actions: Actions{Quit: func() { quits.Add(1); <-drained }}}
		tr.stopped.Store(true) // no systray here: quit leaves the items alone
		tr.quit()
		tr.quit()
		synctest.Wait()
		if n := quits.Load(); n != 1 {
			t.Fatalf("Actions.Quit ran %d times for two clicks, want once", n)
		}
		if life.Err() != nil {
			t.Fatal("Run was ended before Actions.Quit returned")
		}
		drain()
		synctest.Wait()
		if life.Err() == nil {
			t.Fatal("Run was not ended after Actions.Quit returned")
		}
		tr.quit()
		synctest.Wait()
		if n := quits.Load(); n != 1 {
			t.Fatalf("Actions.Quit ran %d times after a click once it had returned, want once", n)
		}
	})
}

// Once stopNow has run, show leaves systray alone: its connection may be
// closed.
func TestShowAfterStop(t *testing.T) {
	tr := &tray{log: slog.New(slog.DiscardHandler)}
	tr.stopNow()
	tr.show(view{status: "Paused"}) // items are nil: touching one would panic
	if tr.applied {
		t.Error("show applied a view after stopNow")
	}
}

// A panic inside systray during an update is contained.
func TestShowRecovers(t *testing.T) {
	tr := &tray{log: slog.New(slog.DiscardHandler)}
	tr.show(view{status: "Paused"}) // the nil status item panics inside show
	if !tr.mu.TryLock() {
		t.Fatal("show kept its lock after the panic")
	}
	tr.mu.Unlock()
}

func TestICOFromPNG(t *testing.T) {
	for _, state := range assets.States {
		p := assets.Tray(state, false)
		ico := icoFromPNG(p)
		var hdr struct {
			Reserved, Type, Count uint16
			W, H, Colours, _      uint8
			Planes, Bits          uint16
			Size, Offset          uint32
		}
		if err := binary.Read(bytes.NewReader(ico), binary.LittleEndian, &hdr); err != nil {
			t.Fatalf("%s: %v", state, err)
		}
		if hdr.Reserved != 0 || hdr.Type != 1 || hdr.Count != 1 || hdr.W != 64 || hdr.H != 64 || hdr.Planes != 1 || hdr.Bits != 32 {
			t.Errorf("%s: header %+v", state, hdr)
		}
		if int(hdr.Offset) != 22 || int(hdr.Size) != len(p) || !bytes.Equal(ico[22:], p) {
			t.Errorf("%s: the PNG is not the ICO's one image (offset %d, size %d of %d)", state, hdr.Offset, hdr.Size, len(ico))
		}
		if _, err := png.Decode(bytes.NewReader(ico[hdr.Offset:])); err != nil {
			t.Errorf("%s: %v", state, err)
		}
	}
	if icoFromPNG([]byte("not a png")) != nil {
		t.Error("icoFromPNG wrapped something that is not a PNG")
	}
}

// TestNoFyne keeps the always-on process free of Fyne: the tray, the
// notifier and what they show must not depend on fyne.io/fyne, on any
// desktop system. (fyne.io/systray is fine: it is not Fyne's driver.)
func TestNoFyne(t *testing.T) {
	pkgs := []string{"usepod.ai/agent/ui/tray", "usepod.ai/agent/ui/notify", "usepod.ai/agent/ui/present"}
	for _, goos := range []string{"linux", "windows", "darwin", "freebsd"} {
		cmd := exec.Command("go", append([]string{"list", "-deps", "-test", "-f", "{{.ImportPath}}"}, pkgs...)...)
		cmd.Env = append(cmd.Environ(), "GOOS="+goos)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOOS=%s go list: %v\n%s", goos, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 20 || !contains(deps, "fyne.io/systray") {
			t.Fatalf("GOOS=%s go list found only %d packages: %s", goos, len(deps), out)
		}
		for _, p := range deps {
			if strings.HasPrefix(p, "fyne.io/fyne") {
				t.Errorf("GOOS=%s: the tray depends on %s; keep Fyne in package ui", goos, p)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
