// Command pacedsse is a fast local OpenAI-style server for `make
// bench-procs`: POST /v1/chat/completions streams SSE chunks paced like a
// model producing tokens. Every chunk carries the time it was written
// ("t", Unix ns) and the first one also the time the request arrived ("r"),
// so a reader in another process can tell each chunk's latency and how long
// a job took to become a backend request. It prints its URL on the first
// line and runs until interrupted.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// params ride in the job's request body; the agent passes them through.
type params struct {
	Chunks     int `json:"chunks"`
	IntervalUs int `json:"interval_us"` // 0: as fast as possible
	Pad        int `json:"pad"`         // content bytes per chunk
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"id":"bench","object":"model","max_model_len":8192}]}`)
	})
	mux.HandleFunc("POST /v1/chat/completions", stream)
	// GET /conns is how many connections were accepted so far: a client
	// that reuses its connections opens none for a second burst of jobs.
	var conns atomic.Int64
	mux.HandleFunc("GET /conns", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, conns.Load()) })
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

func stream(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now().UnixNano()
	var req struct {
		Bench params `json:"bench"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	p := req.Bench
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	pad := strings.Repeat("x", p.Pad)
	buf := make([]byte, 0, 256+p.Pad)
	next := time.Now()
	for i := 0; i < p.Chunks; i++ {
		if p.IntervalUs > 0 && i > 0 {
			next = next.Add(time.Duration(p.IntervalUs) * time.Microsecond)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
		buf = buf[:0]
		buf = append(buf, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":{"content":"`...)
		buf = append(buf, pad...)
		buf = append(buf, `"},"finish_reason":null}]`...)
		if i == 0 {
			buf = append(buf, `,"r":`...)
			buf = strconv.AppendInt(buf, arrived, 10)
		}
		buf = append(buf, `,"t":`...)
		buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
		buf = append(buf, "}\n\n"...)
		if _, err := w.Write(buf); err != nil {
			return
		}
		if p.IntervalUs > 0 || i == 0 {
			fl.Flush()
		}
	}
	fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n", p.Chunks, p.Chunks+10)
}
