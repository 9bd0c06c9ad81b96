package rawsock

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// Wrap returns c reading and writing with raw system calls when c is a
// TCP or Unix socket of the net package, and c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	r := &conn{Conn: c, raw: rc}
	// The callbacks are bound once: a closure per call would be an
	// allocation per chunk.
	r.readFn = r.readOnce
	r.writeFn = r.writeSome
	return r
}

// conn is a net.Conn whose Read and Write go through raw system calls.
// Everything else (deadlines, Close, addresses) is the wrapped conn's.
type conn struct {
	net.Conn
	raw syscall.RawConn

	readMu sync.Mutex // serialises Reads: the callback's state below is shared
	rbuf   []byte
	rn     int
	rerr   syscall.Errno
	readFn func(fd uintptr) bool

	writeMu sync.Mutex // serialises Writes, as net does, so bytes never interleave
	wbuf    []byte
	wn      int
	werr    syscall.Errno
	writeFn func(fd uintptr) bool
}

// readOnce reads once into rbuf; false asks the poller to wait until the
// socket is readable and call again.
func (c *conn) readOnce(fd uintptr) bool {
	for {
		n, e := sysRead(fd, c.rbuf)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rn, c.rerr = n, e
		return true
	}
}

func (c *conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	c.rbuf, c.rn, c.rerr = b, 0, 0
	err := c.raw.Read(c.readFn)
	c.rbuf = nil
	switch {
	case err != nil: // closed, or past the read deadline
		return 0, c.opError("read", err)
	case c.rerr != 0:
		return 0, c.opError("read", os.NewSyscallError("read", c.rerr))
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

// writeSome writes what is left of wbuf; false asks the poller to wait
// until the socket has room and call again.
func (c *conn) writeSome(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		rest := c.wbuf[c.wn:]
		n, e := sysWrite(fd, rest)
		switch e {
		case 0:
			c.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werr = e
			return true
		}
	}
	return true
}

func (c *conn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.wbuf, c.wn, c.werr = b, 0, 0
	err := c.raw.Write(c.writeFn)
	c.wbuf = nil
	n := c.wn
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case c.werr != 0:
		return n, c.opError("write", os.NewSyscallError("write", c.werr))
	}
	return n, nil
}

// opError wraps err as net's own conns do, so callers that look for
// timeouts, resets or net.ErrClosed find them the same way.
func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
