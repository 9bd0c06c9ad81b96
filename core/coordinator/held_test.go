package coordinator

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair is a real loopback connection: the client end and the server end.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// The write deadline is renewed only now and then, not per batch: a batch
// must still never write against a deadline that has passed, writes
// outside a batch (the library's pings, pongs, close frame) must go
// without one, and a batch the peer does not read must still time out.
func TestHeldConnWriteDeadline(t *testing.T) {
	client, _ := tcpPair(t) // the server end never reads: small writes fit in the kernel's buffers
	c := &heldConn{Conn: client}
	const timeout = 50 * time.Millisecond

	batch := func(p []byte) error { return c.writeBatch(p, timeout) }
	if err := batch([]byte("first")); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	time.Sleep(2 * timeout) // the deadline the first batch set has passed
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("a write outside a batch hit the batches' deadline: %v", err)
	}
	if err := batch([]byte("second")); err != nil {
		t.Fatalf("second batch after an idle time: %v", err)
	}
	time.Sleep(2 * timeout)
	if err := batch([]byte("third")); err != nil {
		t.Fatalf("a batch after the deadline passed was not given a new one: %v", err)
	}

	start := time.Now()
	err := batch(make([]byte, 64<<20)) // more than the kernel buffers: blocks on the unread peer
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a batch the peer does not read: got %v, want a deadline error", err)
	}
	// Generous: filling the socket with 64 MiB under the race detector on a
	// busy machine takes a second or more by itself. What this catches is a
	// batch written without a fresh deadline, which would block for good.
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the blocked batch took %v to time out, its timeout is %v", took, timeout)
	}
}
