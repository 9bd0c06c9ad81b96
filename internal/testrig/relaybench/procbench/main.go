// Command procbench measures the relay the way users run it: the built
// headless agent, a paced SSE server (pacedsse) and this coordinator are
// three processes. It starts the other two, sends jobs over a real
// WebSocket, and reads the same server directly in the same run, so every
// figure has a direct twin. `make bench-procs` runs it; BENCHMARKS.md
// explains the figures.
//
// Latency of a chunk is the time this process read it minus the time the
// server wrote it (the "t" stamp in the chunk; all three processes share
// the machine's clock). Agent CPU is utime+stime from /proc/<pid>/stat;
// the idle figure uses /proc/<pid>/task/*/schedstat (nanoseconds), which a
// 10 ms tick is too coarse for.
//
// With -floor it also puts tcprelay, a process that only copies bytes,
// between the direct client and the server: what one more process costs on
// this machine, under any relay's figures. -timeline prints p50 and p99 per
// window of each run, to see where in a run the tail comes from.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/relaybench"
)

// cleanups stop the child processes, also on a fatal error.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func atExit(f func()) {
	cleanupMu.Lock()
	cleanups = append(cleanups, f)
	cleanupMu.Unlock()
}

func runCleanups() {
	cleanupMu.Lock()
	fs := cleanups
	cleanups = nil
	cleanupMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func fatal(args ...any) {
	log.Print(args...)
	runCleanups()
	os.Exit(1)
}

func fatalf(format string, args ...any) { fatal(fmt.Sprintf(format, args...)) }

// params ride in the job's request body to pacedsse.
type params = relaybench.Params

func main() {
	agentBin := flag.String("agent", "bin/usepod-agent-headless", "the built headless agent")
	sseBin := flag.String("sse", "", "the pacedsse binary")
	streamsFlag := flag.String("streams", "1,64,256", "simultaneous streams per run")
	chunks := flag.Int("chunks", 200, "chunks per stream")
	cps := flag.Int("cps", 50, "chunks per second per stream")
	ttfcJobs := flag.Int("ttfc", 100, "sequential one-chunk jobs for time to first chunk")
	idle := flag.Duration("idle", 16*time.Second, "idle measurement (0: skip)")
	cpuprofile := flag.String("cpuprofile", "", "write the agent's CPU profile here (USEPOD_CPUPROFILE)")
	trace := flag.String("trace", "", "write the agent's runtime trace of the largest run here (USEPOD_TRACE)")
	floorBin := flag.String("floor", "", "the tcprelay binary: also measure what a bare process in the middle adds (the machine's floor under the relay's added latency)")
	flag.DurationVar(&timeline, "timeline", 0, "also print chunk latency p50/p99 per window of this length (e.g. 250ms) for each run")
	flag.StringVar(&agentEnv, "agent-env", "", "extra VAR=value for the agent, comma-separated (experiments, e.g. GOGC=200)")
	useTLS := flag.Bool("tls", false, "serve the coordinator over TLS (wss://, as the real one is); the agent trusts its certificate through SSL_CERT_FILE")
	harnessGC := flag.Bool("harness-gc", false, "let this process collect garbage at the default pace (the agent's tail then includes the harness's collections)")
	flag.Parse()
	log.SetFlags(0)
	if !*harnessGC {
		quietHarnessGC()
	}

	sseURL, stopSSE := startSSE(*sseBin)
	atExit(stopSSE)
	coord := localcoord.New(localcoord.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	coordURL := "ws://" + ln.Addr().String() + "/provider/connect"
	if *useTLS {
		coordURL = serveTLS(ln, coord.Handler())
	} else {
		go http.Serve(ln, coord.Handler())
	}
	ctx := context.Background()

	b := connect(ctx, coord, *agentBin, coordURL, sseURL, "USEPOD_CPUPROFILE="+*cpuprofile)
	rep := &report{}
	if *idle > 0 {
		time.Sleep(time.Second)
		c0 := schedCPU(b.agent.pid())
		time.Sleep(*idle)
		c1 := schedCPU(b.agent.pid())
		rep.add("connected idle agent, CPU", fmt.Sprintf("%.4f %% of a core", 100*(c1-c0).Seconds()/idle.Seconds()), "", "", "≤ 0.01 %")
	}
	b.ttfc(ctx, rep, *ttfcJobs)
	var counts []int
	for _, s := range strings.Split(*streamsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fatalf("-streams: %v", err)
		}
		counts = append(counts, n)
		b.streams(ctx, rep, n, params{Chunks: *chunks, IntervalUs: 1e6 / *cps, Pad: 24})
	}
	if *floorBin != "" {
		floor(ctx, rep, *floorBin, sseURL, *ttfcJobs, slices.Max(counts), params{Chunks: *chunks, IntervalUs: 1e6 / *cps, Pad: 24})
	}
	_, _, rss := statCPU(b.agent.pid())
	rep.add("agent peak RSS (VmHWM)", fmt.Sprintf("%.1f MiB", float64(rss)/1024), "", "", "≤ 40 MB")
	b.agent.stop()
	rep.print()

	if *trace != "" && len(counts) > 0 {
		// A fresh agent traces only the largest run: a trace of the whole
		// benchmark would be hundreds of MB.
		t := connect(ctx, coord, *agentBin, coordURL, sseURL, "USEPOD_TRACE="+*trace)
		t.streams(ctx, &report{}, slices.Max(counts), params{Chunks: *chunks, IntervalUs: 1e6 / *cps, Pad: 24})
		t.agent.stop()
	}
	runCleanups()
}

// serveTLS serves h over TLS on ln with a certificate of its own, makes the
// agents it starts trust that certificate (SSL_CERT_FILE), and returns the
// coordinator's wss:// URL.
func serveTLS(ln net.Listener, h http.Handler) string {
	ts := httptest.NewUnstartedServer(h)
	ts.Listener.Close()
	ts.Listener = ln
	ts.StartTLS()
	atExit(ts.Close)
	f, err := os.CreateTemp("", "procbench-ca-*.pem")
	if err != nil {
		fatal(err)
	}
	pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	f.Close()
	atExit(func() { os.Remove(f.Name()) })
	if agentEnv != "" {
		agentEnv += ","
	}
	agentEnv += "SSL_CERT_FILE=" + f.Name()
	return "wss://" + ln.Addr().String() + "/provider/connect"
}

// harnessMemoryLimit is where this process collects garbage after all.
const harnessMemoryLimit = 1 << 30

// quietHarnessGC keeps this process's garbage collector out of the
// figures. The stand-in coordinator keeps every frame it reads (tens of MB
// at 256 streams) and reads them all on one goroutine; with the default
// GOGC its collections marked that growing heap several times a run, and
// the reader's mark assists held frames in the socket for milliseconds:
// measured, the agent's p99 after the first second went from +3.6 and
// -1.6 ms (GOGC=off) to +18.5 and +23.7 ms (default) with the same agent
// binary. It collects only past harnessMemoryLimit instead. The agent and
// the server are separate processes and keep their own settings.
func quietHarnessGC() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(harnessMemoryLimit)
}

// connect starts an agent and waits for its first capabilities.
func connect(ctx context.Context, coord *localcoord.Server, agentBin, coordURL, sseURL, env string) *bench {
	a := startAgent(agentBin, coordURL, sseURL, env)
	atExit(a.stop)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := coord.Next(wctx)
	if err != nil {
		fatalf("agent did not connect: %v\n%s", err, a.stderr.String())
	}
	if _, _, err := p.WaitFrame(wctx, 0, localcoord.OfType("capabilities")); err != nil {
		fatal(err)
	}
	return &bench{p: p, sse: sseURL, agent: a}
}

// agentEnv is extra environment for the agent (-agent-env).
var agentEnv string

type bench struct {
	p     *localcoord.Provider
	sse   string
	agent *agent
	seq   int
}

// ttfc sends one-chunk jobs one after another: job frame to first chunk
// and job frame to backend request, against a direct request's first byte
// and request arrival.
func (b *bench) ttfc(ctx context.Context, rep *report, jobs int) {
	if jobs == 0 {
		return
	}
	pr := params{Chunks: 1, Pad: 24}
	var agentFirst, agentReq, directFirst, directReq []time.Duration
	for i := range jobs {
		id := fmt.Sprintf("ttfc-%d", i)
		frame, _ := json.Marshal(localcoord.JobRequest{Type: "job", JobID: id, ModelID: "bench", DeadlineMs: 60000,
			Request: map[string]any{"messages": []any{}, "bench": pr}})
		from := len(b.p.Frames())
		start := time.Now()
		if err := b.p.Send(ctx, frame); err != nil {
			fatal(err)
		}
		first, _, err := b.p.WaitFrame(ctx, from, func(f localcoord.Frame) bool { return f.JobID == id && f.Type == "job_chunk" })
		if err != nil {
			fatal(err)
		}
		agentFirst = append(agentFirst, first.At.Sub(start))
		data, _ := localcoord.ChunkPayload(first)
		if r, ok := reqStamp(data); ok {
			agentReq = append(agentReq, time.Unix(0, r).Sub(start))
		}
		if _, _, err := b.p.WaitFrame(ctx, from, localcoord.Terminal(id)); err != nil {
			fatal(err)
		}
		d := direct(ctx, b.sse, pr)
		if d.err != nil {
			fatal(d.err)
		}
		directFirst = append(directFirst, d.ttfb)
		directReq = append(directReq, d.toRequest)
	}
	rep.addDur(fmt.Sprintf("time to first chunk, p50 of %d jobs one at a time", jobs), pct(agentFirst, 50), pct(directFirst, 50), "≤ +0.3 ms")
	rep.addDur("job frame to backend request, p50 (one at a time)", pct(agentReq, 50), pct(directReq, 50), "")
}

// streams runs n simultaneous jobs through the agent, then n direct
// streams, and reports latency, CPU and the burst's request delays.
func (b *bench) streams(ctx context.Context, rep *report, n int, pr params) {
	b.seq++
	prefix := fmt.Sprintf("s%d-%d-", b.seq, n)
	from := len(b.p.Frames())
	conns0 := serverConns(b.sse)
	r0, w0 := procSyscalls(b.agent.pid())
	cpu0, sys0, _ := statCPU(b.agent.pid())
	wall0 := time.Now()
	sent := make([]time.Time, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for s := range n {
		wg.Go(func() {
			sent[s] = time.Now()
			// Only the terminal frame: the chunks are read below, after
			// the run, not while other jobs still stream.
			term, err := b.p.DispatchTerminal(ctx, localcoord.JobRequest{JobID: prefix + strconv.Itoa(s), ModelID: "bench", DeadlineMs: 600000,
				Request: map[string]any{"messages": []any{}, "bench": pr}})
			if err == nil && term.Type != "job_done" {
				err = fmt.Errorf("job failed: %s", term.Raw)
			}
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	agentWall := time.Since(wall0)
	cpu1, sys1, _ := statCPU(b.agent.pid())
	r1, w1 := procSyscalls(b.agent.pid())
	if firstErr != nil {
		fatal(firstErr)
	}
	var agentLat, agentReq, agentSteady, agentMiddle []time.Duration
	var agentAt []time.Duration // when each chunk of agentLat was written, since the starts
	middleEnd := time.Duration(pr.Chunks*pr.IntervalUs)*time.Microsecond - settle
	var frames int
	seenFirst := map[string]bool{}
	for _, f := range b.p.Frames()[from:] {
		if f.Type != "job_chunk" || !strings.HasPrefix(f.JobID, prefix) {
			continue
		}
		frames++
		data, _ := localcoord.ChunkPayload(f)
		for _, t := range stamps(data) {
			agentLat = append(agentLat, f.At.Sub(time.Unix(0, t)))
			agentAt = append(agentAt, time.Unix(0, t).Sub(wall0))
			if since := time.Unix(0, t).Sub(wall0); since > settle {
				agentSteady = append(agentSteady, f.At.Sub(time.Unix(0, t)))
				if since < middleEnd {
					agentMiddle = append(agentMiddle, f.At.Sub(time.Unix(0, t)))
				}
			}
		}
		if !seenFirst[f.JobID] {
			if r, ok := reqStamp(data); ok {
				seenFirst[f.JobID] = true
				s, _ := strconv.Atoi(strings.TrimPrefix(f.JobID, prefix))
				agentReq = append(agentReq, time.Unix(0, r).Sub(sent[s]))
			}
		}
	}
	chunksRelayed := n * (pr.Chunks + 1) // the usage event and [DONE] arrive as one more read
	agentConns := serverConns(b.sse) - conns0

	wall0 = time.Now()
	results := make([]directResult, n)
	for s := range n {
		wg.Go(func() { results[s] = direct(ctx, b.sse, pr) })
	}
	wg.Wait()
	directWall := time.Since(wall0)
	directConns := serverConns(b.sse) - conns0 - agentConns
	var directLat, directReq, directSteady, directMiddle, directAt []time.Duration
	for _, r := range results {
		if r.err != nil {
			fatal(r.err)
		}
		directLat = append(directLat, r.lat...)
		directReq = append(directReq, r.toRequest)
		for i, l := range r.lat {
			directAt = append(directAt, r.at[i].Sub(wall0))
			if since := r.at[i].Sub(wall0); since > settle {
				directSteady = append(directSteady, l)
				if since < middleEnd {
					directMiddle = append(directMiddle, l)
				}
			}
		}
	}
	if len(agentLat) != n*pr.Chunks {
		fatalf("%d streams: %d chunk stamps reached the coordinator, want %d", n, len(agentLat), n*pr.Chunks)
	}
	name := fmt.Sprintf("%d stream(s) × %d chunks at %d/s", n, pr.Chunks, 1_000_000/pr.IntervalUs)
	if timeline > 0 {
		printTimeline(name, timeline, agentAt, agentLat, directAt, directLat)
	}
	goal50, goal99 := "", ""
	switch n {
	case 1:
		goal50 = "≤ +0.1 ms"
	case 256:
		goal99 = "≤ +2 ms"
	}
	rep.addDur(name+": chunk latency p50", pct(agentLat, 50), pct(directLat, 50), goal50)
	rep.addDur(name+": chunk latency p99", pct(agentLat, 99), pct(directLat, 99), goal99)
	rep.addDur(name+": chunk latency p99.9", pct(agentLat, 99.9), pct(directLat, 99.9), "")
	rep.addDur(name+": chunk latency p99 after the first second (burst of job starts over)", pct(agentSteady, 99), pct(directSteady, 99), "")
	if len(agentMiddle) > 0 && len(directMiddle) > 0 {
		rep.addDur(name+": chunk latency p99 in the middle (a second after the starts, a second before the ends)", pct(agentMiddle, 99), pct(directMiddle, 99), "")
	}
	rep.addDur(name+": job frame to backend request p50", pct(agentReq, 50), pct(directReq, 50), "")
	rep.addDur(name+": job frame to backend request max", pct(agentReq, 100), pct(directReq, 100), "")
	rep.add(name+": wall", fmt.Sprintf("%.3f s", agentWall.Seconds()), fmt.Sprintf("%.3f s", directWall.Seconds()),
		fmt.Sprintf("%+.1f %%", 100*(agentWall.Seconds()/directWall.Seconds()-1)), "")
	rep.add(name+": agent system calls per relayed chunk (read / write)",
		fmt.Sprintf("%.2f / %.2f", float64(r1-r0)/float64(chunksRelayed), float64(w1-w0)/float64(chunksRelayed)), "", "", "")
	rep.add(name+": new connections to the server", strconv.FormatInt(agentConns, 10), strconv.FormatInt(directConns, 10), "", "")
	cpu := cpu1 - cpu0
	goalCPU := ""
	if n == 256 {
		goalCPU = "≤ 15 µs"
	}
	rep.add(name+": agent CPU per relayed chunk", fmt.Sprintf("%.1f µs, %.0f %% of it in the kernel (%.2f s, %.0f %% of a core; %d frames)",
		float64(cpu.Microseconds())/float64(chunksRelayed), 100*(sys1-sys0).Seconds()/cpu.Seconds(), cpu.Seconds(), 100*cpu.Seconds()/agentWall.Seconds(), frames), "", "", goalCPU)
}

// floor measures what one more process adds on this machine, whatever it
// does: tcprelay only copies bytes between two sockets, yet a chunk that
// crosses it waits for one more process to wake up, as through the agent.
// Time to first chunk crosses it twice (request and answer). The direct
// client reads the server through the relay and straight, interleaved.
func floor(ctx context.Context, rep *report, bin, sseURL string, jobs, streams int, stream params) {
	relayURL, relayPID, stop := startServer(bin, "-target", sseURL)
	defer stop()
	var viaFirst, directFirst []time.Duration
	for range max(jobs, 20) {
		for _, r := range []struct {
			url string
			to  *[]time.Duration
		}{{relayURL, &viaFirst}, {sseURL, &directFirst}} {
			d := direct(ctx, r.url, params{Chunks: 1, Pad: 24})
			if d.err != nil {
				fatal(d.err)
			}
			*r.to = append(*r.to, d.ttfb)
		}
	}
	via, straight := direct(ctx, relayURL, stream), direct(ctx, sseURL, stream)
	if via.err != nil || straight.err != nil {
		fatal(via.err, straight.err)
	}
	rep.addDur("floor: time to first chunk through a bare TCP relay process, p50", pct(viaFirst, 50), pct(directFirst, 50), "")
	rep.addDur("floor: 1 stream through a bare TCP relay process: chunk latency p50", pct(via.lat, 50), pct(straight.lat, 50), "")
	if streams > 1 {
		// With many streams the relay is a third process on the cores, as
		// the agent is: the tail it adds is what sharing them costs.
		cpu0, _, _ := statCPU(relayPID)
		viaMany := directStreams(ctx, relayURL, streams, stream)
		cpu1, _, _ := statCPU(relayPID)
		straightMany := directStreams(ctx, sseURL, streams, stream)
		name := fmt.Sprintf("floor: %d streams through a bare TCP relay process: chunk latency", streams)
		rep.addDur(name+" p50", pct(viaMany, 50), pct(straightMany, 50), "")
		rep.addDur(name+" p99", pct(viaMany, 99), pct(straightMany, 99), "")
		rep.add(fmt.Sprintf("floor: %d streams through a bare TCP relay process: its CPU per chunk", streams),
			fmt.Sprintf("%.1f µs", float64((cpu1-cpu0).Microseconds())/float64(len(viaMany))), "", "", "")
	}
}

// directStreams reads n streams of url at once and returns every chunk's
// latency.
func directStreams(ctx context.Context, url string, n int, p params) []time.Duration {
	results := make([]directResult, n)
	var wg sync.WaitGroup
	for s := range n {
		wg.Go(func() { results[s] = direct(ctx, url, p) })
	}
	wg.Wait()
	var lat []time.Duration
	for _, r := range results {
		if r.err != nil {
			fatal(r.err)
		}
		lat = append(lat, r.lat...)
	}
	return lat
}

// timeline, when set (-timeline), is the window of the per-window latency
// table printed after each run.
var timeline time.Duration

// printTimeline prints, per window of the run (by when the server wrote
// the chunk), the chunk latency p50 and p99 through the agent and direct:
// where in a run the tail comes from.
func printTimeline(name string, window time.Duration, agentAt, agentLat, directAt, directLat []time.Duration) {
	bucket := func(at, lat []time.Duration) map[int][]time.Duration {
		m := map[int][]time.Duration{}
		for i, a := range at {
			m[int(a/window)] = append(m[int(a/window)], lat[i])
		}
		return m
	}
	ag, di := bucket(agentAt, agentLat), bucket(directAt, directLat)
	last := 0
	for k := range ag {
		last = max(last, k)
	}
	fmt.Fprintf(os.Stderr, "%s, per %v of the run:\n| from | chunks | agent p50 | agent p99 | direct p50 | direct p99 |\n| --- | --- | --- | --- | --- | --- |\n", name, window)
	for k := 0; k <= last; k++ {
		a, d := ag[k], di[k]
		if len(a) == 0 || len(d) == 0 {
			continue
		}
		fmt.Fprintf(os.Stderr, "| %v | %d | %.3f | %.3f | %.3f | %.3f |\n", time.Duration(k)*window, len(a),
			ms(pct(a, 50)), ms(pct(a, 99)), ms(pct(d, 50)), ms(pct(d, 99)))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// settle is how long after a burst of job starts a chunk counts as
// steady state, for the p99 that leaves the start-up burst out.
const settle = time.Second

type directResult struct {
	lat       []time.Duration
	at        []time.Time // when each chunk was written
	ttfb      time.Duration
	toRequest time.Duration
	err       error
}

// directClient is the plain application this compares with: keep-alive
// connections to the server, as many as it has streams.
var directClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}

// direct reads the server as a plain client would.
func direct(ctx context.Context, url string, p params) (r directResult) {
	body, _ := json.Marshal(map[string]any{"model": "bench", "stream": true, "messages": []any{}, "bench": p})
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := directClient.Do(req)
	if err != nil {
		return directResult{err: err}
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	buf := make([]byte, 32<<10)
	var n int
	for {
		k, err := br.Read(buf)
		if k > 0 {
			now := time.Now()
			if n == 0 {
				r.ttfb = now.Sub(start)
				if t, ok := reqStamp(buf[:k]); ok {
					r.toRequest = time.Unix(0, t).Sub(start)
				}
			}
			n += k
			for _, t := range stamps(buf[:k]) {
				r.lat = append(r.lat, now.Sub(time.Unix(0, t)))
				r.at = append(r.at, time.Unix(0, t))
			}
		}
		if err == io.EOF {
			return r
		}
		if err != nil {
			r.err = err
			return r
		}
	}
}

// serverConns is how many connections the server has accepted so far.
func serverConns(url string) int64 {
	resp, err := http.Get(url + "/conns")
	if err != nil {
		fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n
}

// stamps and reqStamp read the write and arrival times pacedsse puts in
// its chunks.
var (
	stamps   = relaybench.Stamps
	reqStamp = relaybench.RequestStamp
)

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

func startSSE(bin string) (string, func()) {
	if bin == "" {
		fatal("-sse: the pacedsse binary is required")
	}
	url, _, stop := startServer(bin)
	return url, stop
}

// startServer starts a helper that prints its URL on its first line, and
// returns the URL and how to stop it.
func startServer(bin string, args ...string) (url string, pid int, stop func()) {
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		fatalf("%s: %v", filepath.Base(bin), err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
}

type agent struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	once   sync.Once
}

func (a *agent) pid() int { return a.cmd.Process.Pid }

func startAgent(bin, coordURL, sseURL, env string) *agent {
	dir, err := os.MkdirTemp("", "procbench")
	if err != nil {
		fatal(err)
	}
	cfg := fmt.Sprintf("[coordinator]\nurl = %q\nenrollment_code = \"POD-ENROLL-BENCH001\"\nallow_insecure = true\n\n[limits]\nmax_concurrent = 256\n\n[[backends]]\nkind = \"vllm\"\nurl = %q\n", coordURL, sseURL)
	if err := os.WriteFile(filepath.Join(dir, "agent.toml"), []byte(cfg), 0o600); err != nil {
		fatal(err)
	}
	a := &agent{cmd: exec.Command(bin, "--config", filepath.Join(dir, "agent.toml"), "--data-dir", dir, "--log-level", "warn", "run", "--headless", "--keyring", "file")}
	a.cmd.Stderr = &a.stderr
	a.cmd.Env = os.Environ()
	if !strings.HasSuffix(env, "=") {
		a.cmd.Env = append(a.cmd.Env, env)
	}
	if agentEnv != "" {
		a.cmd.Env = append(a.cmd.Env, strings.Split(agentEnv, ",")...)
	}
	if err := a.cmd.Start(); err != nil {
		fatal(err)
	}
	return a
}

// stop interrupts the agent and waits for it (its profiles are written on
// the way out).
func (a *agent) stop() {
	a.once.Do(func() {
		a.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- a.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				log.Printf("agent exited with %v\n%s", err, a.stderr.String())
			}
		case <-time.After(20 * time.Second):
			a.cmd.Process.Kill()
			log.Print("agent did not stop on SIGINT")
		}
	})
}

// statCPU is utime+stime from /proc/<pid>/stat, stime alone (the part
// spent in the kernel: system calls, wake-ups), and VmHWM in KiB.
func statCPU(pid int) (cpu, system time.Duration, peakRSSKiB int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		// Fields after the command name (which may hold spaces) start at ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		cpu = time.Duration(ut+st) * time.Second / clockTicks
		system = time.Duration(st) * time.Second / clockTicks
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				peakRSSKiB, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			}
		}
	}
	return cpu, system, peakRSSKiB
}

// procSyscalls is the read and write system calls pid made so far
// (syscr, syscw in /proc/<pid>/io).
func procSyscalls(pid int) (reads, writes int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			reads, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			writes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return reads, writes
}

// clockTicks is USER_HZ, 100 on every Linux the agent runs on.
const clockTicks = 100

// schedCPU is the CPU time of every thread of pid, in nanoseconds.
func schedCPU(pid int) time.Duration {
	var cpu time.Duration
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
	return cpu
}

// report is the side-by-side table, each goal beside its figure.
type report struct{ rows [][5]string }

func (r *report) add(what, agent, direct, added, goal string) {
	r.rows = append(r.rows, [5]string{what, agent, direct, added, goal})
}

func (r *report) addDur(what string, agent, direct time.Duration, goal string) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }
	r.add(what, ms(agent), ms(direct), fmt.Sprintf("%+.3f ms", float64((agent-direct).Microseconds())/1000), goal)
}

func (r *report) print() {
	fmt.Println("| what | agent | direct | added | goal |")
	fmt.Println("| --- | --- | --- | --- | --- |")
	for _, row := range r.rows {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", row[0], row[1], row[2], row[3], row[4])
	}
}
