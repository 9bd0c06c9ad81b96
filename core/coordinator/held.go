package coordinator

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"usepod.ai/agent/core/internal/rawsock"
)

// heldConn is the coordinator socket under the WebSocket (under TLS for
// wss://). The session writes its batches of frames to it itself, each
// batch in one write (see frameWriter); the library writes its control
// frames (pings, pongs, the close frame) through Write. One lock orders
// the two, so frames never interleave: the library's control frames are
// small enough to reach Write whole, in one call.
type heldConn struct {
	net.Conn

	mu sync.Mutex // guards deadlineSet; held across socket writes so they keep their order
	// deadlineSet is when writeBatch last set the socket's write deadline
	// (zero: no deadline is set). Setting it costs a lock and a timer
	// update in the runtime, a few per cent of the relay's CPU when done
	// for every batch, so writeBatch renews it only when a quarter of the
	// timeout has passed.
	deadlineSet time.Time
}

// Write is the library's: its control frames go without a deadline, as
// they did before batches left theirs in place.
func (c *heldConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.deadlineSet.IsZero() {
		c.Conn.SetWriteDeadline(time.Time{})
		c.deadlineSet = time.Time{}
	}
	return c.Conn.Write(p)
}

// writeBatch writes b, whole frames back to back, in one write bounded by
// timeout (at least three quarters of it: the deadline is renewed when a
// quarter has passed). It blocks until the bytes are in the kernel's
// buffer.
func (c *heldConn) writeBatch(b []byte, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); c.deadlineSet.IsZero() || now.Sub(c.deadlineSet) > timeout/4 {
		c.Conn.SetWriteDeadline(now.Add(timeout))
		c.deadlineSet = now
	}
	_, err := c.Conn.Write(b)
	return err
}

// dialedConn remembers the socket a holding client dialled.
type dialedConn struct {
	mu sync.Mutex // guards c
	c  *heldConn
}

func (d *dialedConn) conn() *heldConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}

// holdingClient returns the client to dial the coordinator with: a copy of
// c (nil: http.DefaultClient) whose transport wraps the socket it dials in
// a heldConn. A transport other than *http.Transport cannot be wrapped;
// the session then writes frame by frame (d.conn() is nil).
func holdingClient(c *http.Client) (*http.Client, *dialedConn) {
	d := &dialedConn{}
	if c == nil {
		c = http.DefaultClient
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	base, ok := rt.(*http.Transport)
	if !ok {
		return c, d
	}
	t := base.Clone()
	// The socket reads and writes without waking the runtime's monitor
	// thread for every batch (see rawsock).
	dial := rawsock.Dialer(t.DialContext)
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		h := &heldConn{Conn: conn}
		d.mu.Lock()
		d.c = h
		d.mu.Unlock()
		return h, nil
	}
	cc := *c
	cc.Transport = t
	return &cc, d
}
