// Package assets holds the app's artwork, embedded: the app icon and the tray
// icons for each state. The PNGs are drawn by ./gen; edit that, not the files.
package assets

import "embed"

//go:generate go run ./gen

// Icon is the 1024 px app icon (PNG).
//
//go:embed icon.png
var Icon []byte

//go:embed tray/*.png
var tray embed.FS

// States are the tray states that have an icon of their own.
var States = []string{"earning", "waiting", "paused", "offline"}

// Tray returns the PNG tray icon for a state: "earning", "waiting", "paused"
// or "offline" (offline also stands for anything needing attention; an
// unknown state gets it too, so the tray is never blank).
//
// With template false it is a 64 px colour icon for Windows and Linux. With
// template true it is a macOS template image, black on transparent, 32 px for
// the menu bar's 16 pt (the @2x file; macOS tints it for light and dark).
func Tray(state string, template bool) []byte {
	if !known(state) {
		state = "offline"
	}
	name := "tray/" + state + ".png"
	if template {
		name = "tray/" + state + "Template@2x.png"
	}
	b, err := tray.ReadFile(name)
	if err != nil {
		panic("assets: missing embedded " + name) // the embed pattern guarantees it
	}
	return b
}

func known(state string) bool {
	for _, s := range States {
		if s == state {
			return true
		}
	}
	return false
}
