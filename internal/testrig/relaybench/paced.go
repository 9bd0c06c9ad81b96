package relaybench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Params ride in a job's request body ("bench"); the agent passes them to
// the backend untouched.
type Params struct {
	Chunks     int `json:"chunks"`
	IntervalUs int `json:"interval_us"` // 0: as fast as possible
	Pad        int `json:"pad"`         // content bytes per chunk
}

// PacedMux is a fast OpenAI-style server for the benchmarks (the in-process
// rig and the pacedsse command): POST /v1/chat/completions streams SSE
// chunks paced like a model producing tokens. Every chunk carries the time
// it was written ("t", Unix ns) and the first one also the time the request
// arrived ("r"), so a reader in another process can tell each chunk's
// latency and how long a job took to become a backend request. GET /conns
// answers conns, the connections accepted so far (the server counts them).
func PacedMux(conns *atomic.Int64) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"id":"bench","object":"model","max_model_len":8192}]}`)
	})
	mux.HandleFunc("POST /v1/chat/completions", pacedStream)
	mux.HandleFunc("GET /conns", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, conns.Load()) })
	return mux
}

func pacedStream(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now().UnixNano()
	var req struct {
		Bench Params `json:"bench"`
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

// Stamps returns the "t" values (write times) of the chunks in b; a chunk
// split across reads is skipped.
func Stamps(b []byte) []int64 {
	var out []int64
	for {
		i := bytes.Index(b, []byte(`"t":`))
		if i < 0 {
			return out
		}
		b = b[i+4:]
		j := bytes.IndexByte(b, '}')
		if j < 0 {
			return out
		}
		if v, err := strconv.ParseInt(string(b[:j]), 10, 64); err == nil {
			out = append(out, v)
		}
	}
}

// RequestStamp returns the "r" value (when the request arrived) in b.
func RequestStamp(b []byte) (int64, bool) {
	i := bytes.Index(b, []byte(`"r":`))
	if i < 0 {
		return 0, false
	}
	b = b[i+4:]
	j := bytes.IndexByte(b, ',')
	if j < 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b[:j]), 10, 64)
	return v, err == nil
}
