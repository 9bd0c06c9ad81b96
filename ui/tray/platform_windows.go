package tray

import (
	"fyne.io/systray"

	"usepod.ai/agent/assets"
	"usepod.ai/agent/ui/present"
)

func checkPlatform() error { return nil }

// beforeRun does nothing: systray on Windows takes icons only once its
// window exists, and the notification area shows no titles.
func beforeRun(present.TrayIcon) {}

// setIcon sets the colour icon. systray on Windows loads icons with
// LoadImage, which reads .ico files, so the PNG goes in an ICO wrapper.
func setIcon(i present.TrayIcon) { systray.SetIcon(icoFromPNG(assets.Tray(i.Asset(), false))) }
