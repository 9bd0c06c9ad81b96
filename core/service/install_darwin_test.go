package service

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A macOS machine in a temp dir; launchctl print fails until bootstrap.
func TestLaunchdSequence(t *testing.T) {
	var cmds []string
	loaded := false
	h := host{
		root: t.TempDir(),
		euid: func() int { return 0 },
		run: func(name string, args ...string) (string, error) {
			cmds = append(cmds, strings.Join(append([]string{name}, args...), " "))
			switch args[0] {
			case "print":
				if !loaded {
					return "", errors.New("not loaded")
				}
				return "\tstate = running\n", nil
			case "bootstrap":
				loaded = true
			case "bootout":
				loaded = false
			}
			return "", nil
		},
		lookup: func(string) (*user.User, error) { return &user.User{Uid: "0", Gid: "0"}, nil },
		chown:  func(string, int, int) error { return nil },
	}
	o := Options{Exe: "/usr/local/bin/usepod-agent"}
	if err := h.install(o); err != nil {
		t.Fatal(err)
	}
	if err := h.start(); err != nil {
		t.Fatal(err)
	}
	if s, err := h.status(); err != nil || s != "running" {
		t.Errorf("status = %q, %v", s, err)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if err := h.uninstall(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"launchctl enable system/ai.usepod.agent",
		"launchctl print system/ai.usepod.agent",
		"launchctl bootstrap system " + filepath.Join(h.root, PlistPath),
		"launchctl print system/ai.usepod.agent",
		"launchctl print system/ai.usepod.agent",
		"launchctl bootout system/ai.usepod.agent",
		"launchctl print system/ai.usepod.agent",
	}
	if !reflect.DeepEqual(cmds, want) {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(cmds, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(filepath.Join(h.root, PlistPath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plist still there: %v", err)
	}
}
