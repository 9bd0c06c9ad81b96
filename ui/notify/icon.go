//go:build !darwin

package notify

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"

	"usepod.ai/agent/assets"
)

const (
	appName   = "Use Pod Agent"
	desktopID = "ai.usepod.agent" // the .desktop file's name and the app's ID
)

// iconFile is the app icon as a file, for notification services that take a
// path: written once per process to the user's cache directory, and
// rewritten when it differs from the embedded one. It is "" when it cannot
// be written; the notification then goes out without it.
var iconFile = sync.OnceValue(func() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	path := filepath.Join(dir, "usepod-agent", "notification-icon.png")
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, assets.Icon) {
		return path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return ""
	}
	// Written beside and renamed, so a reader never sees half an icon.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, assets.Icon, 0o644); err != nil {
		return ""
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return ""
	}
	return path
})
