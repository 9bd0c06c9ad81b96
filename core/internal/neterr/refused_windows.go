package neterr

import (
	"errors"

	"golang.org/x/sys/windows"
)

func refusedOS(err error) bool { return errors.Is(err, windows.WSAECONNREFUSED) }

func droppedOS(err error) bool {
	for _, e := range []error{windows.WSAECONNRESET, windows.WSAECONNABORTED, windows.WSAENETUNREACH, windows.WSAEHOSTUNREACH} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
