//go:build linux || freebsd || openbsd || netbsd || dragonfly

package autostart

import (
	"fmt"
	"os"
	"path/filepath"
)

func (e Entry) file() (fileEntry, error) {
	dir := e.Dir
	if dir == "" {
		config := os.Getenv("XDG_CONFIG_HOME")
		if !filepath.IsAbs(config) { // unset, or relative, which the spec says to ignore
			home, err := os.UserHomeDir()
			if err != nil {
				return fileEntry{}, fmt.Errorf("autostart: %w", err)
			}
			config = filepath.Join(home, ".config")
		}
		dir = filepath.Join(config, "autostart")
	}
	return fileEntry{path: filepath.Join(dir, ID+".desktop"), marker: desktopMarker}, nil
}

// Enable writes $XDG_CONFIG_HOME/autostart/ai.usepod.agent.desktop.
func (e Entry) Enable(exe string, args []string) error {
	if err := checkCommand(exe, args); err != nil {
		return err
	}
	f, err := e.file()
	if err != nil {
		return err
	}
	return f.write(DesktopEntry(exe, args))
}

// Disable removes the autostart file Enable wrote.
func (e Entry) Disable() error {
	f, err := e.file()
	if err != nil {
		return err
	}
	return f.remove()
}

// Enabled reports whether our autostart file is in place.
func (e Entry) Enabled() (bool, error) {
	f, err := e.file()
	if err != nil {
		return false, err
	}
	return f.enabled()
}
