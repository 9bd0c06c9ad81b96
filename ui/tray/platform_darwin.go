package tray

import (
	"fyne.io/systray"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/ui/present"
)

func checkPlatform() error { return nil }

// beforeRun does nothing: systray's calls reach the menu bar only once its
// loop runs, and on macOS a title would be text beside the icon.
func beforeRun(present.TrayIcon) {}

// setIcon sets a template image (black and alpha), which the menu bar tints
// for light and dark mode.
func setIcon(i present.TrayIcon) {
	systray.SetTemplateIcon(assets.Tray(i.Asset(), true), assets.Tray(i.Asset(), false))
}
