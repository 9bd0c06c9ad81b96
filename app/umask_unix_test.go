//go:build unix

package app

import "syscall"

// setUmask sets the process umask and returns the function that restores it.
func setUmask(m int) func() {
	old := syscall.Umask(m)
	return func() { syscall.Umask(old) }
}
