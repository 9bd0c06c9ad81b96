// Command tcprelay is the least a process in the middle can do: it
// accepts connections and copies bytes both ways to a target, nothing
// else, with plain reads and writes (no splice: the agent too must read
// the bytes to pass them on). `procbench -floor` puts it between its direct client and the
// paced server to measure what one more process hop costs on the machine
// (a wake-up and two socket copies), the floor under any relay's added
// latency. It prints its URL on the first line and runs until interrupted.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	target := flag.String("target", "", "the URL to relay to (http://host:port)")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		log.Fatalf("-target: want http://host:port, got %q", *target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go relay(c, u.Host)
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

func relay(c net.Conn, target string) {
	defer c.Close()
	t, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer t.Close()
	go func() { copyPlain(t, c); t.(*net.TCPConn).CloseWrite() }()
	copyPlain(c, t)
}

// copyPlain copies with one read and one write per chunk of data.
func copyPlain(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
