package ui

import (
	"sync"

	"fyne.io/fyne/v2"

	"usepod.ai/agent/assets"
)

// trayAsset names the assets/tray icon of each tray state. The icons are
// drawn by assets/gen, one shape per state so they read on light and dark
// panels alike: full pod (earning), empty pod (waiting), pause bars, and a
// struck-through chip for anything that needs the user (offline, rejected,
// no server).
var trayAsset = map[trayIcon]string{
	iconEarning:   "earning",
	iconWaiting:   "waiting",
	iconPaused:    "paused",
	iconAttention: "offline",
}

// trayIcons are loaded once, on first use.
var trayIcons = sync.OnceValue(func() map[trayIcon]fyne.Resource {
	m := make(map[trayIcon]fyne.Resource, len(trayAsset))
	for icon, name := range trayAsset {
		m[icon] = fyne.NewStaticResource("usepod-"+name+".png", assets.Tray(name, false))
	}
	return m
})

// iconFor returns the tray icon resource for a state's icon.
func iconFor(i trayIcon) fyne.Resource { return trayIcons()[i] }
