//go:build race

package rawsock

import (
	"errors"
	"syscall"
)

// Under the race detector the calls go through syscall.Read and Write:
// they tell the detector that bytes written to a socket happen before the
// same bytes are read from it, an ordering the tests (fake servers in the
// test process) rely on and a raw system call would hide. The poller
// logic around them is the same.
func sysRead(fd uintptr, b []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), b)
	return max(n, 0), errno(err)
}

func sysWrite(fd uintptr, b []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), b)
	return max(n, 0), errno(err)
}

func errno(err error) syscall.Errno {
	var e syscall.Errno
	if err != nil && !errors.As(err, &e) {
		return syscall.EIO
	}
	return e
}
