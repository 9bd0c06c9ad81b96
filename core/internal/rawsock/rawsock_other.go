//go:build !linux

package rawsock

import "net"

// Wrap returns c unchanged: the raw path is Linux only.
func Wrap(c net.Conn) net.Conn { return c }
