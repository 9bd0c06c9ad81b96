package coordinator

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"usepod.ai/agent/core/internal/rawsock"
)

// heldConn is the connection the WebSocket runs on: the socket for ws://,
// the TLS connection over it for wss:// (the session's frames must be
// encrypted like the library's). The session writes its batches of frames
// to it itself, each batch in one write (see frameWriter); the library
// writes its control frames (pings, pongs, the close frame) through Write.
// One lock orders the two, so frames never interleave: the library's
// control frames are small enough to reach Write whole, in one call.
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

// holdingClient returns the client to dial the coordinator at wsURL with:
// a copy of c (nil: http.DefaultClient) whose transport wraps the
// connection it makes in a heldConn, above TLS for wss:// (the transport's
// TLS settings, handshake timeout and root certificates are kept; HTTP/1.1
// only, as a WebSocket upgrade needs). The session writes its frames into
// that connection, so it must carry the WebSocket bytes themselves: where it
// cannot (a transport other than *http.Transport, a proxy, through which
// the transport would put its own TLS on top, or a TLS dial of the
// caller's own), d.conn() stays nil and the library writes frame by frame. Sockets read and write without waking the
// runtime's monitor thread for every batch (see rawsock) in every case.
func holdingClient(c *http.Client, wsURL string) (*http.Client, *dialedConn) {
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
	dial := rawsock.Dialer(t.DialContext)
	t.DialContext = dial
	cc := *c
	cc.Transport = t
	u, err := url.Parse(wsURL)
	if err != nil {
		return &cc, d // websocket.Dial reports the bad URL
	}
	secure := strings.EqualFold(u.Scheme, "wss")
	if t.Proxy != nil {
		hu := *u
		hu.Scheme = "http"
		if secure {
			hu.Scheme = "https"
		}
		if p, err := t.Proxy(&http.Request{URL: &hu, Header: http.Header{}}); p != nil || err != nil {
			return &cc, d
		}
	}
	//lint:ignore SA1019 a caller's transport may still set the deprecated DialTLS; it must be kept too
	if secure && (t.DialTLSContext != nil || t.DialTLS != nil) {
		return &cc, d // the caller dials TLS its own way: keep it, and let the library write
	}
	hold := func(conn net.Conn) net.Conn {
		h := &heldConn{Conn: conn}
		d.mu.Lock()
		d.c = h
		d.mu.Unlock()
		return h
	}
	if !secure {
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return hold(conn), nil
		}
		return &cc, d
	}
	conf := t.TLSClientConfig.Clone()
	if conf == nil {
		conf = &tls.Config{}
	}
	conf.NextProtos = []string{"http/1.1"}
	handshakeTimeout := t.TLSHandshakeTimeout
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := conf.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		tc := tls.Client(conn, cfg)
		hctx := ctx
		if handshakeTimeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, handshakeTimeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, err
		}
		return hold(tc), nil
	}
	return &cc, d
}
