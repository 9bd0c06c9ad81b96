package ui

import (
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/systray"

	"usepod.ai/agent/assets"
)

// setTrayIcon sets the menu-bar icon. On macOS it is a template image
// (black and alpha), which the menu bar tints for light and dark mode; Fyne
// only marks SVG theme resources as templates, so the template is handed
// to systray directly after Fyne has set the regular icon.
func setTrayIcon(d desktop.App, i trayIcon) {
	d.SetSystemTrayIcon(iconFor(i))
	name := trayAsset[i]
	systray.SetTemplateIcon(assets.Tray(name, true), assets.Tray(name, false))
}
