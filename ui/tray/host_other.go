//go:build !((linux || freebsd || openbsd || netbsd) && !android)

package tray

// HostPresent reports whether a tray host shows our icon: macOS has its
// menu bar and Windows its notification area, always there.
func HostPresent() bool { return true }
