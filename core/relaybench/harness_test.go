package relaybench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/core/localcoord"
)

// benchParams ride in the job's request body; the agent passes them to the
// backend untouched.
type benchParams struct {
	Chunks     int `json:"chunks"`
	IntervalUs int `json:"interval_us"` // 0: as fast as possible
	Pad        int `json:"pad"`         // content bytes per chunk
}

// sseBackend is a vLLM-like server whose stream chunks carry the time they
// were written ("t", Unix ns), so a reader can tell each chunk's latency.
func sseBackend(tb testing.TB) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"id":"bench","object":"model","max_model_len":8192}]}`)
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Bench benchParams `json:"bench"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		p := req.Bench
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		pad := strings.Repeat("x", p.Pad)
		buf := make([]byte, 0, 256+p.Pad)
		next := time.Now()
		for i := 0; i < p.Chunks; i++ {
			if p.IntervalUs > 0 {
				next = next.Add(time.Duration(p.IntervalUs) * time.Microsecond)
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
			}
			buf = buf[:0]
			buf = append(buf, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":{"content":"`...)
			buf = append(buf, pad...)
			buf = append(buf, `"},"finish_reason":null}],"t":`...)
			buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
			buf = append(buf, "}\n\n"...)
			if _, err := w.Write(buf); err != nil {
				return
			}
			if p.IntervalUs > 0 {
				fl.Flush()
			}
		}
		fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n", p.Chunks, p.Chunks+10)
	})
	s := httptest.NewServer(mux)
	tb.Cleanup(s.Close)
	return s
}

// stamps returns the "t" values in b.
func stamps(b []byte) []int64 {
	var out []int64
	for {
		i := bytes.Index(b, []byte(`"t":`))
		if i < 0 {
			return out
		}
		b = b[i+4:]
		j := bytes.IndexByte(b, '}')
		if j < 0 {
			return out // split across reads
		}
		if v, err := strconv.ParseInt(string(b[:j]), 10, 64); err == nil {
			out = append(out, v)
		}
	}
}

var (
	buildOnce sync.Once
	agentBin  string
	buildErr  error
)

// agentBinary builds the headless agent once per test binary.
func agentBinary(tb testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "relaybench")
		if err != nil {
			buildErr = err
			return
		}
		agentBin = filepath.Join(dir, "usepod-agent")
		out, err := exec.Command("go", "build", "-tags", "nogui", "-o", agentBin, "usepod.ai/agent").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build agent: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return agentBin
}

// rig is the agent process between a coordinator and a backend.
type rig struct {
	tb      testing.TB
	coord   *localcoord.Server
	backend *httptest.Server
	cmd     *exec.Cmd
	p       *localcoord.Provider
	stderr  bytes.Buffer
}

func newRig(tb testing.TB, maxConcurrent int) *rig { return newRigOver(tb, maxConcurrent, false) }

// newRigOver is newRig with the coordinator over TLS (wss://, as the real
// one is) when secure is set; the agent trusts its certificate through
// SSL_CERT_FILE.
func newRigOver(tb testing.TB, maxConcurrent int, secure bool) *rig {
	r := &rig{tb: tb, coord: localcoord.New(localcoord.Options{}), backend: sseBackend(tb)}
	dir := tb.TempDir()
	env := os.Environ()
	var coordURL string
	if secure {
		cs := httptest.NewTLSServer(r.coord.Handler())
		tb.Cleanup(cs.Close)
		ca := filepath.Join(dir, "coordinator-ca.pem")
		os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cs.Certificate().Raw}), 0o600)
		env = append(env, "SSL_CERT_FILE="+ca)
		coordURL = "wss" + strings.TrimPrefix(cs.URL, "https") + "/provider/connect"
	} else {
		cs := httptest.NewServer(r.coord.Handler())
		tb.Cleanup(cs.Close)
		coordURL = "ws" + strings.TrimPrefix(cs.URL, "http") + "/provider/connect"
	}
	cfg := fmt.Sprintf("[coordinator]\nurl = %q\nenrollment_code = \"POD-ENROLL-BENCH001\"\nallow_insecure = %t\n\n[limits]\nmax_concurrent = %d\n\n[[backends]]\nkind = \"vllm\"\nurl = %q\n",
		coordURL, !secure, maxConcurrent, r.backend.URL)
	os.WriteFile(filepath.Join(dir, "agent.toml"), []byte(cfg), 0o600)
	r.cmd = exec.Command(agentBinary(tb), "--config", filepath.Join(dir, "agent.toml"), "--data-dir", dir, "--log-level", "warn", "run", "--headless", "--keyring", "file")
	r.cmd.Stderr = &r.stderr
	r.cmd.Env = env
	if prof := os.Getenv("RELAYBENCH_CPUPROFILE"); prof != "" {
		r.cmd.Env = append(r.cmd.Env, "USEPOD_CPUPROFILE="+prof)
	}
	if err := r.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := r.coord.Next(ctx)
	if err != nil {
		tb.Fatalf("agent did not connect: %v\n%s", err, r.stderr.String())
	}
	r.p = p
	if _, _, err := p.WaitFrame(ctx, 0, localcoord.OfType("capabilities")); err != nil {
		tb.Fatal(err)
	}
	return r
}

func (r *rig) stop() {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		r.cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- r.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				r.tb.Errorf("agent exited with %v\n%s", err, r.stderr.String())
			}
		case <-time.After(20 * time.Second):
			r.cmd.Process.Kill()
			r.tb.Errorf("agent did not stop on SIGINT")
		}
	}
}

// job relays one job through the agent; the result's chunk frames carry
// receive times.
func (r *rig) job(ctx context.Context, id string, p benchParams) (localcoord.JobResult, error) {
	return r.p.Dispatch(ctx, localcoord.JobRequest{JobID: id, ModelID: "bench", DeadlineMs: 600000,
		Request: map[string]any{"messages": []any{}, "bench": p}})
}

// latencies returns each chunk's latency as seen by the coordinator.
func (r *rig) latencies(jobID string) []time.Duration {
	var out []time.Duration
	for _, f := range r.p.Frames() {
		if f.Type != "job_chunk" || f.JobID != jobID {
			continue
		}
		data, _ := localcoord.ChunkPayload(f)
		for _, t := range stamps(data) {
			out = append(out, f.At.Sub(time.Unix(0, t)))
		}
	}
	return out
}

// direct reads the backend as a plain client would; it returns each
// chunk's latency, the time to the first byte, and the bytes read.
func direct(ctx context.Context, backendURL string, p benchParams) (lat []time.Duration, ttfb time.Duration, n int64, err error) {
	body, _ := json.Marshal(map[string]any{"model": "bench", "stream": true, "messages": []any{}, "bench": p})
	req, _ := http.NewRequestWithContext(ctx, "POST", backendURL+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, 0, err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	buf := make([]byte, 32<<10)
	for {
		k, err := br.Read(buf)
		if k > 0 {
			now := time.Now()
			if n == 0 {
				ttfb = now.Sub(start)
			}
			n += int64(k)
			if p.IntervalUs > 0 { // unpaced runs measure bytes only
				for _, t := range stamps(buf[:k]) {
					lat = append(lat, now.Sub(time.Unix(0, t)))
				}
			}
		}
		if err == io.EOF {
			return lat, ttfb, n, nil
		}
		if err != nil {
			return lat, ttfb, n, err
		}
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// procCPU is the process's user+system CPU time, to the nanosecond, summed
// over its threads (schedstat), and its peak resident memory.
func procCPU(pid int) (cpu time.Duration, peakRSSKiB int64) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			cpu += time.Duration(v)
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				peakRSSKiB, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			}
		}
	}
	return cpu, peakRSSKiB
}

func requireLinux(tb testing.TB) {
	if runtime.GOOS != "linux" {
		tb.Fatalf("the relay benchmarks read /proc; run them on Linux")
	}
}
