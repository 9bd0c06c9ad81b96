// Command pacedsse is a fast local OpenAI-style server for `make
// bench-procs`: POST /v1/chat/completions streams SSE chunks paced like a
// model producing tokens. Every chunk carries the time it was written
// ("t", Unix ns) and the first one also the time the request arrived ("r"),
// so a reader in another process can tell each chunk's latency and how long
// a job took to become a backend request. It prints its URL on the first
// line and runs until interrupted.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"usepod.ai/agent/internal/testrig/relaybench"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	// GET /conns is how many connections were accepted so far: a client
	// that reuses its connections opens none for a second burst of jobs.
	var conns atomic.Int64
	mux := relaybench.PacedMux(&conns)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}
