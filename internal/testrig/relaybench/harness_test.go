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
	"sync/atomic"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
)

// benchParams are the backend's stream parameters.
type benchParams = Params

// sseBackend is the paced server (PacedMux) in this process.
func sseBackend(tb testing.TB) *httptest.Server {
	s := httptest.NewServer(PacedMux(new(atomic.Int64)))
	tb.Cleanup(s.Close)
	return s
}

// stamps returns the "t" values in b.
func stamps(b []byte) []int64 { return Stamps(b) }

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
