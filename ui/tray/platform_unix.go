//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"fmt"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/ui/present"
)

// checkPlatform makes sure the session bus answers. Without one systray
// logs, waits, and panics when it quits (it closes a connection it never
// had), so Run says so instead.
func checkPlatform() error {
	if _, err := dbus.SessionBus(); err != nil {
		return fmt.Errorf("tray: no session bus to show the tray icon on: %w", err)
	}
	return nil
}

// beforeRun sets what systray exports with the item. On Linux systray
// calls ready while it is still exporting the item, and a SetIcon, SetTitle
// or SetTooltip that falls between its reading of these values and its
// publishing of the properties is stored but never published (seen in
// tests: an item without an icon). Set before Run, they are in the first
// export; ready sets the same again, which cannot lose anything.
//
// The title also names the item: some StatusNotifier hosts misbehave with
// an untitled item (Fyne sets one for the same reason), and systray uses it
// as the item's Id.
func beforeRun(icon present.TrayIcon) {
	systray.SetTitle(appName)
	systray.SetTooltip(appName)
	setIcon(icon)
}

// setIcon sets the colour PNG, which every host shows.
func setIcon(i present.TrayIcon) { systray.SetIcon(assets.Tray(i.Asset(), false)) }
