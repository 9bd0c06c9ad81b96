package service

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeHost is a Linux machine in a temp dir that records the commands run.
type fakeHost struct {
	host
	cmds  []string
	users map[string]*user.User
	owner map[string]string // path -> "uid:gid"
}

func newFakeHost(t *testing.T, euid int) *fakeHost {
	f := &fakeHost{users: map[string]*user.User{}, owner: map[string]string{}}
	f.host = host{
		root: t.TempDir(),
		euid: func() int { return euid },
		run: func(name string, args ...string) (string, error) {
			f.cmds = append(f.cmds, strings.Join(append([]string{name}, args...), " "))
			if name == "useradd" {
				f.users[args[len(args)-1]] = &user.User{Uid: "998", Gid: "997"}
			}
			if name == "systemctl" && args[0] == "show" {
				return "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n", nil
			}
			return "", nil
		},
		lookup: func(name string) (*user.User, error) {
			if u, ok := f.users[name]; ok {
				return u, nil
			}
			return nil, user.UnknownUserError(name)
		},
		chown: func(path string, uid, gid int) error {
			f.owner[path] = fmt.Sprintf("%d:%d", uid, gid)
			return nil
		},
	}
	return f
}

func TestInstallSequence(t *testing.T) {
	f := newFakeHost(t, 0)
	o := Options{Exe: "/usr/local/bin/usepod-agent", DataDir: "/srv/usepod"}
	cfg := filepath.Join(f.root, "/etc/usepod-agent/agent.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte("[coordinator]\n"), 0o606); err != nil {
		t.Fatal(err)
	}
	if err := f.install(o); err != nil {
		t.Fatal(err)
	}
	// The config is readable by the service's group, not by others.
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o640 || f.owner[cfg] != "-1:997" {
		t.Errorf("config: mode %v, owner %q, %v; want 0640, group 997", fi.Mode().Perm(), f.owner[cfg], err)
	}
	want := []string{
		"useradd --system --user-group --home-dir /var/lib/usepod-agent --no-create-home --shell /usr/sbin/nologin usepod-agent",
		"systemctl daemon-reload",
		"systemctl enable usepod-agent.service",
	}
	if !reflect.DeepEqual(f.cmds, want) {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(f.cmds, "\n"), strings.Join(want, "\n"))
	}
	unit, err := os.ReadFile(filepath.Join(f.root, UnitPath))
	if err != nil {
		t.Fatal(err)
	}
	if _, rendered, _ := Render("linux", o); string(unit) != string(rendered) {
		t.Errorf("written unit differs from Render's")
	}
	dataDir := filepath.Join(f.root, "/srv/usepod")
	if fi, err := os.Stat(dataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v, %v; want mode 0700", fi, err)
	}
	if f.owner[dataDir] != "998:997" {
		t.Errorf("data dir owner = %q, want the new user", f.owner[dataDir])
	}

	// A second install finds the user and replaces its own unit.
	f.cmds = nil
	if err := f.install(o); err != nil {
		t.Fatal(err)
	}
	if want := want[1:]; !reflect.DeepEqual(f.cmds, want) {
		t.Errorf("second install ran %q, want %q", f.cmds, want)
	}

	if s, err := f.status(); err != nil || s != "active (running), enabled" {
		t.Errorf("status = %q, %v", s, err)
	}

	f.cmds = nil
	if err := f.uninstall(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"systemctl disable --now usepod-agent.service", "systemctl daemon-reload"}; !reflect.DeepEqual(f.cmds, want) {
		t.Errorf("uninstall ran %q, want %q", f.cmds, want)
	}
	if _, err := os.Stat(filepath.Join(f.root, UnitPath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still there: %v", err)
	}
	if _, err := os.Stat(dataDir); err != nil {
		t.Errorf("uninstall removed the data dir: %v", err)
	}
	// Uninstalling again is fine and runs nothing.
	f.cmds = nil
	if err := f.uninstall(); err != nil || len(f.cmds) != 0 {
		t.Errorf("second uninstall: %v, ran %q", err, f.cmds)
	}
}

func TestNeedsRoot(t *testing.T) {
	f := newFakeHost(t, 1000)
	for name, call := range map[string]func() error{
		"install":   func() error { return f.install(Options{Exe: "/usr/bin/usepod-agent"}) },
		"uninstall": f.uninstall,
		"start":     f.start,
		"stop":      f.stop,
	} {
		err := call()
		if err == nil || !strings.Contains(err.Error(), "sudo") {
			t.Errorf("%s as a user: %v, want an error saying to use sudo", name, err)
		}
	}
	if len(f.cmds) != 0 {
		t.Errorf("ran %q without root", f.cmds)
	}
	if _, err := os.Stat(filepath.Join(f.root, UnitPath)); !errors.Is(err, os.ErrNotExist) {
		t.Error("wrote the unit without root")
	}
}

func TestForeignUnitLeftAlone(t *testing.T) {
	f := newFakeHost(t, 0)
	path := filepath.Join(f.root, UnitPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	foreign := "[Service]\nExecStart=/usr/bin/something-else\n"
	if err := os.WriteFile(path, []byte(foreign), 0o644); err != nil {
		t.Fatal(err)
	}
	f.users["usepod-agent"] = &user.User{Uid: "998", Gid: "997"}
	if err := f.install(Options{Exe: "/usr/bin/usepod-agent"}); !errors.Is(err, ErrNotOurs) {
		t.Errorf("install over a foreign unit: %v, want ErrNotOurs", err)
	}
	if err := f.uninstall(); !errors.Is(err, ErrNotOurs) {
		t.Errorf("uninstall of a foreign unit: %v, want ErrNotOurs", err)
	}
	if b, _ := os.ReadFile(path); string(b) != foreign {
		t.Errorf("foreign unit changed: %q", b)
	}
	for _, c := range f.cmds {
		if strings.Contains(c, "systemctl") {
			t.Errorf("ran %q", c)
		}
	}
}

func TestStatusNotInstalled(t *testing.T) {
	f := newFakeHost(t, 1000)
	f.run = func(string, ...string) (string, error) {
		return "LoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\n", nil
	}
	if s, err := f.status(); err != nil || s != "not installed" {
		t.Errorf("status = %q, %v", s, err)
	}
}
