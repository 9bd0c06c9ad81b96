//go:build !windows

package service

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// host is what Install and its siblings need from the machine, so tests can
// run them against a fake one.
type host struct {
	root   string // prefix of every path read or written; "" on a real machine
	euid   func() int
	run    func(name string, args ...string) (string, error) // combined output
	lookup func(name string) (*user.User, error)
	chown  func(path string, uid, gid int) error
}

var system = host{
	euid:   os.Geteuid,
	run:    runCommand,
	lookup: user.Lookup,
	chown:  os.Chown,
}

// Install writes the service definition for this OS, creates the data dir
// (and on Linux the system user), and enables the service to start at boot.
// It does not start it now: call Start. It needs root.
func Install(o Options) error { return system.install(o) }

// Uninstall stops and disables the service and removes its definition. The
// user and the data dir stay: the identity key in it must survive a
// reinstall. Not being installed is not an error. It needs root.
func Uninstall() error { return system.uninstall() }

// Start starts the installed service now. It needs root.
func Start() error { return system.start() }

// Stop stops the service now; it still starts at the next boot. It needs
// root.
func Stop() error { return system.stop() }

// Status describes the service in a few words, such as "active (running),
// enabled" or "not installed".
func Status() (string, error) { return system.status() }

func runCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		return string(out), fmt.Errorf("service: %s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return string(out), nil
}

func (h host) path(p string) string { return filepath.Join(h.root, p) }

func (h host) needRoot(what string) error {
	if h.euid() != 0 {
		return fmt.Errorf("service: %s needs root: run it with sudo (sudo usepod-agent service %s)", what, what)
	}
	return nil
}

// ownIDs returns the numeric ids of an account.
func (h host) ownIDs(name string) (uid, gid int, err error) {
	u, err := h.lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("service: look up user %s: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("service: user %s: %w", name, err)
	}
	return uid, gid, nil
}

// makeDataDir creates the data dir, private to the service's user.
func (h host) makeDataDir(dir, owner string) error {
	p := h.path(dir)
	if err := os.MkdirAll(p, 0o700); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if owner == "" {
		return nil
	}
	uid, gid, err := h.ownIDs(owner)
	if err != nil {
		return err
	}
	if err := h.chown(p, uid, gid); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// definition is a service file that carries a marker line.
type definition struct {
	path   string
	marker string
}

// state reports whether the file exists and whether it is ours.
func (d definition) state() (exists, ours bool, err error) {
	b, err := os.ReadFile(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("service: %w", err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if string(bytes.TrimSpace(line)) == d.marker {
			return true, true, nil
		}
	}
	return true, false, nil
}

func (d definition) notOurs() error {
	return fmt.Errorf("service: %s: %w; leaving it alone", d.path, ErrNotOurs)
}

func (d definition) write(content []byte) error {
	exists, ours, err := d.state()
	if err != nil {
		return err
	}
	if exists && !ours {
		return d.notOurs()
	}
	if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	tmp := d.path + ".new"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if err := os.Rename(tmp, d.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("service: %w", err)
	}
	return nil
}
