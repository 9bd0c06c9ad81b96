// Package neterr tells network failures apart the same way on every
// system: Windows reports them with its own WSA error numbers, which
// errors.Is(err, syscall.ECONNREFUSED) does not match there.
package neterr

import (
	"errors"
	"syscall"
)

// Refused reports whether err is a connection refused: nothing listens on
// that port.
func Refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || refusedOS(err)
}

// Dropped reports whether err is a connection reset, aborted or cut off on
// the way (no route to the network or the host).
func Dropped(err error) bool {
	for _, e := range []error{syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE, syscall.ENETUNREACH, syscall.EHOSTUNREACH} {
		if errors.Is(err, e) {
			return true
		}
	}
	return droppedOS(err)
}
