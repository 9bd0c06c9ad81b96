//go:build linux || freebsd || openbsd || netbsd || dragonfly

package autostart

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "autostart") // not there yet: Enable makes it
	e := Entry{Dir: dir}
	path := filepath.Join(dir, ID+".desktop")
	neighbour := filepath.Join(dir, "other.desktop")

	check := func(step string, want bool) {
		t.Helper()
		on, err := e.Enabled()
		if err != nil || on != want {
			t.Fatalf("%s: Enabled() = %v, %v; want %v", step, on, err, want)
		}
		_, err = os.Stat(path)
		if exists := err == nil; exists != want {
			t.Fatalf("%s: file exists = %v, want %v", step, exists, want)
		}
	}

	check("fresh", false)
	if err := e.Disable(); err != nil {
		t.Fatalf("Disable with nothing there: %v", err)
	}
	if err := e.Enable("/usr/bin/usepod-agent", []string{"--minimized"}); err != nil {
		t.Fatal(err)
	}
	check("enabled", true)
	if err := os.WriteFile(neighbour, []byte("[Desktop Entry]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Enabling again replaces our own file (the app moved).
	if err := e.Enable("/opt/usepod/usepod-agent", nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != string(DesktopEntry("/opt/usepod/usepod-agent", nil)) {
		t.Errorf("file after second Enable:\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	if err := e.Disable(); err != nil {
		t.Fatal(err)
	}
	check("disabled", false)
	// Only our file went; the directory and its other files stay.
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "other.desktop" {
		t.Errorf("dir after Disable: %v, %v; want only other.desktop", entries, err)
	}
}

func TestForeignFileLeftAlone(t *testing.T) {
	dir := t.TempDir()
	e := Entry{Dir: dir}
	path := filepath.Join(dir, ID+".desktop")
	foreign := []byte("[Desktop Entry]\nType=Application\nName=Mine\nExec=/usr/bin/usepod-agent --debug\n")
	if err := os.WriteFile(path, foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	if on, err := e.Enabled(); on || !errors.Is(err, ErrNotOurs) {
		t.Errorf("Enabled() = %v, %v; want false, ErrNotOurs", on, err)
	}
	if err := e.Disable(); !errors.Is(err, ErrNotOurs) {
		t.Errorf("Disable() = %v, want ErrNotOurs", err)
	}
	if err := e.Enable("/usr/bin/usepod-agent", nil); !errors.Is(err, ErrNotOurs) {
		t.Errorf("Enable() = %v, want ErrNotOurs", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != string(foreign) {
		t.Errorf("foreign file changed: %q, %v", b, err)
	}
}

func TestDefaultDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)

	t.Setenv("XDG_CONFIG_HOME", "")
	f, err := Entry{}.file()
	if want := filepath.Join(home, ".config", "autostart", ID+".desktop"); err != nil || f.path != want {
		t.Errorf("without XDG_CONFIG_HOME: %q, %v; want %q", f.path, err, want)
	}

	cfg := filepath.Join(home, "cfg")
	t.Setenv("XDG_CONFIG_HOME", cfg)
	f, err = Entry{}.file()
	if want := filepath.Join(cfg, "autostart", ID+".desktop"); err != nil || f.path != want {
		t.Errorf("with XDG_CONFIG_HOME: %q, %v; want %q", f.path, err, want)
	}

	t.Setenv("XDG_CONFIG_HOME", "relative/path") // the spec says to ignore it
	f, err = Entry{}.file()
	if want := filepath.Join(home, ".config", "autostart", ID+".desktop"); err != nil || f.path != want {
		t.Errorf("with a relative XDG_CONFIG_HOME: %q, %v; want %q", f.path, err, want)
	}

	// The package-level functions use that default.
	if err := Enable("/usr/bin/usepod-agent", nil); err != nil {
		t.Fatal(err)
	}
	if on, err := Enabled(); !on || err != nil {
		t.Errorf("Enabled() = %v, %v", on, err)
	}
	if _, err := os.Stat(filepath.Join(home, ".config", "autostart", ID+".desktop")); err != nil {
		t.Error(err)
	}
	if err := Disable(); err != nil {
		t.Fatal(err)
	}
}
