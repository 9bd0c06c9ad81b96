//go:build !darwin

package ui

import "fyne.io/fyne/v2/driver/desktop"

// setTrayIcon sets the tray icon: a colour PNG, which every tray host shows.
func setTrayIcon(d desktop.App, i trayIcon) { d.SetSystemTrayIcon(iconFor(i)) }
