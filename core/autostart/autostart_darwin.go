package autostart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func (e Entry) file() (fileEntry, error) {
	dir := e.Dir
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fileEntry{}, fmt.Errorf("autostart: %w", err)
		}
		dir = filepath.Join(home, "Library", "LaunchAgents")
	}
	return fileEntry{path: filepath.Join(dir, ID+".plist"), marker: plistMarker}, nil
}

// Enable writes ~/Library/LaunchAgents/ai.usepod.agent.plist. launchd reads
// it at the next login; it is not loaded now, because the app is running.
func (e Entry) Enable(exe string, args []string) error {
	if err := checkCommand(exe, args); err != nil {
		return err
	}
	// A quarantined app run from a download is moved to a random read-only
	// path (App Translocation) that is gone by the next login.
	if strings.Contains(exe, "/AppTranslocation/") {
		return fmt.Errorf("autostart: the app is running from a temporary location (%s); move Use Pod Agent to Applications first", exe)
	}
	f, err := e.file()
	if err != nil {
		return err
	}
	return f.write(LaunchAgentPlist(exe, args))
}

// Disable removes the LaunchAgent file Enable wrote. It does not unload the
// job: launchd would stop the running app with it. Without the file, the
// next login does not start it.
func (e Entry) Disable() error {
	f, err := e.file()
	if err != nil {
		return err
	}
	return f.remove()
}

// Enabled reports whether our LaunchAgent file is in place.
func (e Entry) Enabled() (bool, error) {
	f, err := e.file()
	if err != nil {
		return false, err
	}
	return f.enabled()
}
