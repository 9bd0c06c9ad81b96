// Package autostart switches "start at login" on and off for the current
// user: an XDG autostart entry on Linux and the BSDs, a LaunchAgent on macOS,
// a Run value in the registry on Windows.
//
// It is opt-in: nothing here runs unless the user asks. Disable removes
// exactly what Enable wrote and refuses to remove an entry it did not write.
package autostart

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ID names the entry: the .desktop file, the LaunchAgent label and file.
const ID = "ai.usepod.agent"

// ErrNotOurs is returned when an entry exists under our name but lacks our
// marker: someone else wrote it, so it is left alone.
var ErrNotOurs = errors.New("start-at-login entry was not written by Use Pod Agent")

// Entry is the current user's start-at-login entry. The zero value is the
// one in the OS's usual place.
type Entry struct {
	// Dir holds the entry file: the XDG autostart directory on Linux and the
	// BSDs (default $XDG_CONFIG_HOME/autostart, else ~/.config/autostart),
	// ~/Library/LaunchAgents on macOS. Tests point it elsewhere. Windows
	// keeps the entry in the registry and ignores Dir.
	Dir string
}

// Enable makes exe start with args at the user's next login. exe must be
// absolute. An existing entry of ours is replaced (the app may have moved);
// one that is not ours is an error wrapping ErrNotOurs.
func Enable(exe string, args []string) error { return Entry{}.Enable(exe, args) }

// Disable removes the entry Enable wrote. No entry is not an error.
func Disable() error { return Entry{}.Disable() }

// Enabled reports whether our entry is in place. A foreign entry under our
// name reports false with an error wrapping ErrNotOurs.
func Enabled() (bool, error) { return Entry{}.Enabled() }

func checkCommand(exe string, args []string) error {
	if !filepath.IsAbs(exe) {
		return fmt.Errorf("autostart: executable %q is not an absolute path", exe)
	}
	for _, a := range append([]string{exe}, args...) {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("autostart: argument %q holds a NUL byte", a)
		}
	}
	return nil
}
