package relaybench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/coder/websocket"
	"sync"
	"syscall"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/localcoord"
)

// TestAgentBinaryRelaysUnchanged runs the real headless binary once: the
// coordinator receives exactly the backend's bytes, and the agent exits 0
// on SIGINT. It also proves the benchmark rig measures what it claims.
func TestAgentBinaryRelaysUnchanged(t *testing.T) {
	requireLinux(t)
	relaysUnchanged(t, newRig(t, 8))
}

// TestAgentBinaryRelaysOverTLS: the same through a coordinator behind TLS
// (wss://), as the real one is. The session writes its own WebSocket
// frames; they must go into the TLS connection, not under it.
func TestAgentBinaryRelaysOverTLS(t *testing.T) {
	requireLinux(t)
	relaysUnchanged(t, newRigOver(t, 8, true))
}

// relaysUnchanged runs one paced job through r: the coordinator gets every
// byte the backend wrote, a chunk stamp for each chunk, and the usage.
func relaysUnchanged(t *testing.T, r *rig) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p := benchParams{Chunks: 50, IntervalUs: 1000, Pad: 20}
	res, err := r.job(ctx, "smoke", p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Done == nil || res.Done.Tokens.Output != 50 || res.Done.Tokens.Input != 10 {
		t.Fatalf("terminal = %s", res.Terminal.Raw)
	}
	if lat := r.latencies("smoke"); len(lat) != 50 {
		t.Fatalf("%d chunk latencies, want 50", len(lat))
	}
	_, _, n, err := direct(ctx, r.backend.URL, p)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(res.Body)) != n || !bytes.HasSuffix(res.Body, []byte("data: [DONE]\n\n")) {
		t.Fatalf("relayed %d bytes, direct read %d", len(res.Body), n)
	}
}

// BenchmarkPacedChunkLatency: one stream at 200 chunks/s, the added
// latency per chunk (agent minus direct, at the same percentile).
func BenchmarkPacedChunkLatency(b *testing.B) {
	requireLinux(b)
	r := newRig(b, 8)
	p := benchParams{Chunks: 400, IntervalUs: 5000, Pad: 24}
	ctx := context.Background()
	var agent, plain []time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("paced-%d", i)
		if _, err := r.job(ctx, id, p); err != nil {
			b.Fatal(err)
		}
		agent = append(agent, r.latencies(id)...)
		lat, _, _, err := direct(ctx, r.backend.URL, p)
		if err != nil {
			b.Fatal(err)
		}
		plain = append(plain, lat...)
	}
	for _, q := range []int{50, 99} {
		b.ReportMetric(float64(pct(agent, q)-pct(plain, q))/1e3, fmt.Sprintf("added_p%d_µs", q))
		b.ReportMetric(float64(pct(agent, q))/1e3, fmt.Sprintf("agent_p%d_µs", q))
		b.ReportMetric(float64(pct(plain, q))/1e3, fmt.Sprintf("direct_p%d_µs", q))
	}
}

// BenchmarkTimeToFirstChunk: from the job frame to the first chunk at the
// coordinator, against a direct request's time to first byte.
func BenchmarkTimeToFirstChunk(b *testing.B) {
	requireLinux(b)
	r := newRig(b, 8)
	p := benchParams{Chunks: 1, Pad: 24}
	ctx := context.Background()
	var agent, plain []time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("ttfc-%d", i)
		// Encoded before the clock starts, as the direct request's body is.
		frame, _ := json.Marshal(localcoord.JobRequest{Type: "job", JobID: id, ModelID: "bench", DeadlineMs: 60000,
			Request: map[string]any{"messages": []any{}, "bench": p}})
		from := len(r.p.Frames())
		start := time.Now()
		if err := r.p.Send(ctx, frame); err != nil {
			b.Fatal(err)
		}
		first, _, err := r.p.WaitFrame(ctx, from, func(f localcoord.Frame) bool { return f.JobID == id && f.Type == "job_chunk" })
		if err != nil {
			b.Fatal(err)
		}
		agent = append(agent, first.At.Sub(start))
		if _, _, err := r.p.WaitFrame(ctx, from, localcoord.Terminal(id)); err != nil {
			b.Fatal(err)
		}
		_, ttfb, _, err := direct(ctx, r.backend.URL, p)
		if err != nil {
			b.Fatal(err)
		}
		plain = append(plain, ttfb)
	}
	b.ReportMetric(float64(pct(agent, 50)-pct(plain, 50))/1e3, "added_ttfc_p50_µs")
	b.ReportMetric(float64(pct(agent, 50))/1e3, "agent_ttfc_p50_µs")
	b.ReportMetric(float64(pct(plain, 50))/1e3, "direct_ttfb_p50_µs")
}

// Benchmark256Streams: 256 concurrent paced streams through the agent,
// then the same directly; wall time, the agent's CPU and peak memory. At
// 200 chunks/s each (51,200 chunks/s in all) a 2-core machine running the
// backend, the coordinator, the agent and the direct client is saturated;
// 50 chunks/s is closer to a real model's token rate.
func Benchmark256Streams(b *testing.B) {
	for _, pace := range []struct {
		name   string
		params benchParams
	}{
		{"200cps", benchParams{Chunks: 200, IntervalUs: 5000, Pad: 24}},
		{"50cps", benchParams{Chunks: 60, IntervalUs: 20000, Pad: 24}},
	} {
		b.Run(pace.name, func(b *testing.B) { bench256(b, pace.params) })
	}
}

func bench256(b *testing.B, p benchParams) {
	requireLinux(b)
	const streams = 256
	r := newRig(b, streams)
	ctx := context.Background()
	var agentWall, directWall time.Duration
	var agentCPU time.Duration
	for i := 0; b.Loop(); i++ {
		cpu0, _ := procCPU(r.cmd.Process.Pid)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, streams)
		for s := range streams {
			wg.Go(func() {
				res, err := r.job(ctx, fmt.Sprintf("c%d-%d", i, s), p)
				if err == nil && res.Done == nil {
					err = fmt.Errorf("job failed: %s", res.Terminal.Raw)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		agentWall += time.Since(start)
		cpu1, _ := procCPU(r.cmd.Process.Pid)
		agentCPU += cpu1 - cpu0
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
		start = time.Now()
		for range streams {
			wg.Go(func() {
				if _, _, _, err := direct(ctx, r.backend.URL, p); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		directWall += time.Since(start)
	}
	_, rss := procCPU(r.cmd.Process.Pid)
	n := float64(b.N)
	b.ReportMetric(agentWall.Seconds()/n, "agent_wall_s")
	b.ReportMetric(directWall.Seconds()/n, "direct_wall_s")
	b.ReportMetric(100*(agentWall.Seconds()/directWall.Seconds()-1), "wall_overhead_%")
	b.ReportMetric(agentCPU.Seconds()/n, "agent_cpu_s")
	b.ReportMetric(float64(rss)/1024, "agent_peak_rss_MiB")
}

// BenchmarkUnpacedThroughput: one stream as fast as the backend can write,
// through the agent and directly.
func BenchmarkUnpacedThroughput(b *testing.B) {
	requireLinux(b)
	r := newRig(b, 8)
	p := benchParams{Chunks: 100000, Pad: 200} // about 30 MB
	ctx := context.Background()
	var agentBytes, directBytes int64
	var agentTime, directTime time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		term, n, err := r.p.DispatchCounting(ctx, localcoord.JobRequest{JobID: fmt.Sprintf("bulk-%d", i), ModelID: "bench",
			DeadlineMs: 600000, Request: map[string]any{"messages": []any{}, "bench": p}})
		if err != nil || term.Type != "job_done" {
			b.Fatalf("%v %s", err, term.Raw)
		}
		agentTime += time.Since(start)
		agentBytes += n
		start = time.Now()
		_, _, n, err = direct(ctx, r.backend.URL, p)
		if err != nil {
			b.Fatal(err)
		}
		directTime += time.Since(start)
		directBytes += n
	}
	am := float64(agentBytes) / agentTime.Seconds() / 1e6
	dm := float64(directBytes) / directTime.Seconds() / 1e6
	b.ReportMetric(am, "agent_MB/s")
	b.ReportMetric(dm, "direct_MB/s")
	b.ReportMetric(am/dm, "ratio")
}

// BenchmarkIdleAgentCPU: the connected agent with nothing to do, over 16 s
// per iteration, so each holds a heartbeat (every 15 s); `make bench` runs
// four, which also take in a re-discovery of the backends (every minute).
func BenchmarkIdleAgentCPU(b *testing.B) {
	requireLinux(b)
	r := newRig(b, 8)
	time.Sleep(time.Second) // let start-up settle
	var cpu, wall time.Duration
	for b.Loop() {
		c0, _ := procCPU(r.cmd.Process.Pid)
		start := time.Now()
		time.Sleep(16 * time.Second)
		c1, _ := procCPU(r.cmd.Process.Pid)
		cpu += c1 - c0
		wall += time.Since(start)
	}
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "idle_cpu_%_of_core")
}

// TestSIGTERMLetsTheRunningJobFinish: a SIGTERM in the middle of a job
// stops new work at once (capabilities with no models), lets the job end
// with job_done, closes the session normally, and exits 0.
func TestSIGTERMLetsTheRunningJobFinish(t *testing.T) {
	requireLinux(t)
	r := newRig(t, 8)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	from := len(r.p.Frames())
	r.p.Send(ctx, localcoord.JobRequest{Type: "job", JobID: "draining", ModelID: "bench", DeadlineMs: 60000,
		Request: map[string]any{"messages": []any{}, "bench": benchParams{Chunks: 100, IntervalUs: 10000, Pad: 8}}})
	if _, _, err := r.p.WaitFrame(ctx, from, localcoord.OfType("job_chunk")); err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	caps, ci, err := r.p.WaitCapabilities(ctx, from)
	if err != nil || len(caps.Models) != 0 {
		t.Fatalf("after SIGTERM: capabilities %v, %v; want an empty offer", caps.ModelIDs(), err)
	}
	_, di, err := r.p.WaitFrame(ctx, from, localcoord.Terminal("draining"))
	if err != nil {
		t.Fatal(err)
	}
	if f := r.p.Frames()[di]; f.Type != "job_done" || di < ci {
		t.Fatalf("the running job ended with %s (at %d, empty offer at %d)", f.Raw, di, ci)
	}
	body, chunks, _ := r.p.Chunks("draining")
	if chunks == 0 || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
		t.Fatalf("the job's stream was cut: %d chunks", chunks)
	}
	if err := r.p.Closed(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("session end = %v, want a normal closure (1000)", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exited with %v, want 0\n%s", err, r.stderr.String())
		}
	case <-ctx.Done():
		t.Fatal("agent did not exit after draining")
	}
}
