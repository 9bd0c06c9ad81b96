//go:build !windows

package app

// AttachConsole is only needed for the Windows GUI executable.
func AttachConsole(args []string) {}
