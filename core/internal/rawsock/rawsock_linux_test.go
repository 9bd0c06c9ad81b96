package rawsock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"usepod.ai/agent/core/internal/neterr"
)

// pair is a wrapped client socket and the plain server side of a real
// loopback TCP connection.
func pair(t *testing.T) (wrapped, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	c, err := Dialer(nil)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-accepted
	t.Cleanup(func() { c.Close(); peer.Close() })
	if _, ok := c.(*conn); !ok {
		t.Fatalf("Dialer gave a %T, want the raw conn", c)
	}
	return c, peer
}

// TestEveryByteArrivesInOrderBothWays: small messages with pauses in
// between (the reader often finds the socket empty and waits on the
// poller, the case where a chunk that arrives between two reads must still
// wake it) and one large write that fills the socket buffers (the write
// waits for room and goes on).
func TestEveryByteArrivesInOrderBothWays(t *testing.T) {
	c, peer := pair(t)
	// A read the poller never wakes would hang here: fail instead.
	c.SetDeadline(time.Now().Add(30 * time.Second))
	rng := rand.New(rand.NewPCG(1, 2))
	var sent bytes.Buffer
	go func() {
		for i := range 300 {
			msg := bytes.Repeat([]byte{byte(i)}, 1+rng.IntN(300))
			sent.Write(msg)
			if _, err := peer.Write(msg); err != nil {
				t.Error(err)
				return
			}
			if i%7 == 0 {
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}
		peer.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, sent.Bytes()) {
		t.Fatalf("read %d bytes, the peer sent %d (or the order differs)", len(got), sent.Len())
	}

	big := make([]byte, 16<<20) // larger than both socket buffers together
	for i := range big {
		big[i] = byte(i * 7)
	}
	received := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		received <- b
	}()
	n, err := c.Write(big)
	if err != nil || n != len(big) {
		t.Fatalf("write: %d of %d bytes, %v", n, len(big), err)
	}
	c.(*conn).Conn.(*net.TCPConn).CloseWrite()
	if b := <-received; !bytes.Equal(b, big) {
		t.Fatalf("the peer got %d bytes of %d (or they differ)", len(b), len(big))
	}
}

// TestErrorsLookLikeNets: callers find deadlines, closed connections and
// resets the way they do on a plain net.Conn.
func TestErrorsLookLikeNets(t *testing.T) {
	c, peer := pair(t)
	buf := make([]byte, 64)

	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past its deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})

	// A read waiting on the poller ends when the conn is closed.
	done := make(chan error, 1)
	go func() { _, err := c.Read(buf); done <- err }()
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed conn: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read blocked on the poller did not end when the conn was closed")
	}
	_ = peer
}

func TestAResetIsADroppedConnection(t *testing.T) {
	c, peer := pair(t)
	peer.(*net.TCPConn).SetLinger(0) // close sends RST
	peer.Close()
	buf := make([]byte, 64)
	_, err := c.Read(buf)
	if !neterr.Dropped(err) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the peer reset: %v, want ECONNRESET", err)
	}
}

func TestOtherConnsAreLeftAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Wrap(a) != a {
		t.Fatal("Wrap changed a net.Pipe conn, which has no socket")
	}
}
