package neterr

import (
	"errors"
	"net"
	"testing"
)

func TestRefusedByARealClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = net.Dial("tcp", addr)
	if err == nil {
		t.Fatal("dialled a closed port")
	}
	if !Refused(err) {
		t.Errorf("Refused(%v) = false", err)
	}
	if Refused(errors.New("connection refused")) {
		t.Error("Refused matched words, not the error")
	}
}

func TestDroppedByARealReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.(*net.TCPConn).SetLinger(0) // close with RST, as a crashed peer does
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String()) // the reset may reach the dial already
	if err == nil {
		defer c.Close()
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil {
		t.Fatal("read from a reset connection succeeded")
	}
	if !Dropped(err) {
		t.Errorf("Dropped(%v) = false", err)
	}
	if Dropped(errors.New("connection reset by peer")) {
		t.Error("Dropped matched words, not the error")
	}
}
