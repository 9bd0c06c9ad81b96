//go:build !((linux || freebsd || openbsd || netbsd) && !android)

package ui

// trayHostPresent: macOS has its menu bar and Windows its notification area,
// always there.
func trayHostPresent() bool { return true }
