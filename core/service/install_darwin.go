package service

import (
	"fmt"
	"os"
	"strings"
)

const target = "system/" + Label

func (h host) plist() definition { return definition{path: h.path(PlistPath), marker: plistMarker} }

func (h host) install(o Options) error {
	o = o.withDefaults("darwin")
	_, plist, err := Render("darwin", o)
	if err != nil {
		return err
	}
	if err := h.needRoot("install"); err != nil {
		return err
	}
	if o.User != "" {
		if _, err := h.lookup(o.User); err != nil {
			return fmt.Errorf("service: user %s must exist before install: %w", o.User, err)
		}
	}
	if err := h.makeDataDir(o.DataDir, o.User); err != nil {
		return err
	}
	if err := h.plist().write(plist); err != nil {
		return err
	}
	_, err = h.run("launchctl", "enable", target)
	return err
}

// loaded reports whether launchd has the daemon loaded.
func (h host) loaded() bool {
	_, err := h.run("launchctl", "print", target)
	return err == nil
}

func (h host) uninstall() error {
	if err := h.needRoot("uninstall"); err != nil {
		return err
	}
	p := h.plist()
	exists, ours, err := p.state()
	switch {
	case err != nil:
		return err
	case !exists:
		return nil
	case !ours:
		return p.notOurs()
	}
	if h.loaded() {
		if _, err := h.run("launchctl", "bootout", target); err != nil {
			return err
		}
	}
	if err := os.Remove(p.path); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// start loads the daemon (RunAtLoad starts it) or, when it is loaded,
// restarts it.
func (h host) start() error {
	if err := h.needRoot("start"); err != nil {
		return err
	}
	if h.loaded() {
		_, err := h.run("launchctl", "kickstart", target)
		return err
	}
	_, err := h.run("launchctl", "bootstrap", "system", h.path(PlistPath))
	return err
}

// stop unloads the daemon; the plist stays, so it is back at the next boot.
func (h host) stop() error {
	if err := h.needRoot("stop"); err != nil {
		return err
	}
	if !h.loaded() {
		return nil
	}
	_, err := h.run("launchctl", "bootout", target)
	return err
}

func (h host) status() (string, error) {
	if exists, _, err := h.plist().state(); err != nil {
		return "", err
	} else if !exists {
		return "not installed", nil
	}
	out, err := h.run("launchctl", "print", target)
	if err != nil {
		return "installed, not loaded", nil
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "state = "); ok {
			return v, nil
		}
	}
	return "loaded", nil
}
