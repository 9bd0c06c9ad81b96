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
// wss://). The library flushes every message to the socket: one system
// call per frame, the largest part of the relay's CPU with many streams.
// While the session's writer holds the socket, those flushes gather in
// memory instead, and release sends the whole batch in one write, in the
// order the frames were written. Writes of other goroutines (the
// library's pongs, pings, the close frame) join the batch when they come
// while it is held, and go straight out otherwise.
type heldConn struct {
	net.Conn

	mu      sync.Mutex // guards holding, buf and deadlineSet; held across socket writes so they keep their order
	holding bool
	buf     []byte
	// deadlineSet is when release last set the socket's write deadline
	// (zero: no deadline is set). Setting it costs a lock and a timer
	// update in the runtime, a few per cent of the relay's CPU when done
	// for every batch, so release renews it only when a quarter of the
	// timeout has passed.
	deadlineSet time.Time
}

// maxHeldBuf is the largest batch buffer kept for the next batch.
const maxHeldBuf = 1 << 20

func (c *heldConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	if !c.deadlineSet.IsZero() {
		// Writes of the library outside a batch go without a deadline,
		// as before batches left theirs in place.
		c.Conn.SetWriteDeadline(time.Time{})
		c.deadlineSet = time.Time{}
	}
	return c.Conn.Write(p)
}

// hold starts gathering writes.
func (c *heldConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// release writes what was gathered in one write, bounded by timeout (at
// least three quarters of it: the deadline is renewed when a quarter has
// passed), and stops gathering. It blocks until the bytes are in the
// kernel's buffer.
func (c *heldConn) release(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if len(c.buf) == 0 {
		return nil
	}
	if now := time.Now(); c.deadlineSet.IsZero() || now.Sub(c.deadlineSet) > timeout/4 {
		c.Conn.SetWriteDeadline(now.Add(timeout))
		c.deadlineSet = now
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxHeldBuf {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
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
