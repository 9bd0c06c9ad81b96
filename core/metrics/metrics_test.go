package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/jobs"
	"usepod.ai/agent/core/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestJobEndedCounts(t *testing.T) {
	m := New(Options{NoProcessMetrics: true})
	m.JobEnded(jobs.Result{Model: "tiny", Backend: "llamacpp", Outcome: jobs.OutcomeDone, Duration: 1500 * time.Millisecond,
		TimeToFirstChunk: 40 * time.Millisecond, RelayedBytes: 1000, InputTokens: 17, OutputTokens: 8,
		EarnedE12: 4_100_000})
	m.JobEnded(jobs.Result{Model: "tiny", Backend: "llamacpp", Outcome: "backend_timeout", Duration: 3 * time.Second,
		TimeToFirstChunk: 20 * time.Millisecond, RelayedBytes: 200})
	m.JobEnded(jobs.Result{Model: "nope", Outcome: "model_not_loaded", Refused: true})

	want := `
# HELP usepod_agent_jobs_total Jobs ended, by model, backend kind and outcome (done, a job_error code, cancelled or aborted).
# TYPE usepod_agent_jobs_total counter
usepod_agent_jobs_total{backend="",model="nope",outcome="model_not_loaded"} 1
usepod_agent_jobs_total{backend="llamacpp",model="tiny",outcome="backend_timeout"} 1
usepod_agent_jobs_total{backend="llamacpp",model="tiny",outcome="done"} 1
# HELP usepod_agent_tokens_total Tokens of finished jobs, by model and direction (input or output).
# TYPE usepod_agent_tokens_total counter
usepod_agent_tokens_total{direction="input",model="tiny"} 17
usepod_agent_tokens_total{direction="output",model="tiny"} 8
# HELP usepod_agent_earned_micro_usdc_total Earnings of finished jobs at this agent's prices, in micro-USDC (an estimate; the coordinator settles).
# TYPE usepod_agent_earned_micro_usdc_total counter
usepod_agent_earned_micro_usdc_total{model="tiny"} 4.1
# HELP usepod_agent_relayed_bytes_total Backend bytes relayed to the coordinator as job chunks.
# TYPE usepod_agent_relayed_bytes_total counter
usepod_agent_relayed_bytes_total 1200
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"usepod_agent_jobs_total", "usepod_agent_tokens_total", "usepod_agent_earned_micro_usdc_total", "usepod_agent_relayed_bytes_total"); err != nil {
		t.Fatal(err)
	}
	// The refused job is not a duration sample; both others are.
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Fatalf("%d duration series, want 1 (model tiny)", n)
	}
	text := scrapeText(t, m.Handler())
	for _, line := range []string{
		`usepod_agent_job_duration_seconds_count{model="tiny"} 2`,
		`usepod_agent_job_duration_seconds_sum{model="tiny"} 4.5`,
		`usepod_agent_job_duration_seconds_bucket{model="tiny",le="2.5"} 1`,
		`usepod_agent_time_to_first_chunk_seconds_count 2`,
		`usepod_agent_time_to_first_chunk_seconds_bucket{le="0.025"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
}

func TestSnapshotAndGPUGauges(t *testing.T) {
	snap := engine.Snapshot{
		State: engine.StateWaiting, Connected: true, Sessions: 3, JobsInFlight: 2,
		Backends: []engine.BackendStatus{
			{Kind: "vllm", URL: "http://admin:hunter2@10.0.0.5:8000/?token=abc", Healthy: true},
			{Kind: "ollama", URL: "http://127.0.0.1:11434", Healthy: false},
		},
		Models: []engine.ModelStatus{{ID: "a", Offered: true}, {ID: "b", Offered: false}, {ID: "c", Offered: true}},
	}
	sample := telemetry.Sample{GPUs: []telemetry.GPU{
		{Index: 0, Name: "NVIDIA H200", UtilPercent: 87, MemUsed: 40 << 30, MemTotal: 141 << 30, TempC: 61, PowerW: 412.5, Valid: telemetry.FieldAll},
		{Index: 1, Name: "NVIDIA H200", TempC: 0, Valid: telemetry.FieldUtil}, // only utilisation read
	}}
	m := New(Options{
		Snapshot:         func() engine.Snapshot { return snap },
		GPUs:             func() (telemetry.Sample, bool) { return sample, true },
		NoProcessMetrics: true,
	})
	text := scrapeText(t, m.Handler())
	for _, line := range []string{
		`usepod_agent_session_up 1`,
		`usepod_agent_reconnects_total 2`,
		`usepod_agent_state{state="waiting for jobs"} 1`,
		`usepod_agent_state{state="offline"} 0`,
		`usepod_agent_backend_up{backend="vllm",url="http://admin@10.0.0.5:8000/?redacted"} 1`,
		`usepod_agent_backend_up{backend="ollama",url="http://127.0.0.1:11434"} 0`,
		`usepod_agent_models_offered 2`,
		`usepod_agent_jobs_in_flight 2`,
		`usepod_agent_gpu_utilization_ratio{gpu="0",name="NVIDIA H200"} 0.87`,
		`usepod_agent_gpu_memory_used_bytes{gpu="0",name="NVIDIA H200"} 4.294967296e+10`,
		`usepod_agent_gpu_temperature_celsius{gpu="0",name="NVIDIA H200"} 61`,
		`usepod_agent_gpu_power_watts{gpu="0",name="NVIDIA H200"} 412.5`,
		`usepod_agent_gpu_utilization_ratio{gpu="1",name="NVIDIA H200"} 0`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if strings.Contains(text, "hunter2") || strings.Contains(text, "abc") {
		t.Fatal("a backend password or token reached the metrics")
	}
	if strings.Contains(text, `usepod_agent_gpu_temperature_celsius{gpu="1"`) {
		t.Fatal("a GPU reading the source could not take was shown as a value")
	}
	if n := strings.Count(text, "usepod_agent_state{"); n != len(states) || n < 8 {
		t.Fatalf("%d state series, want one per state (%d)", n, len(states))
	}

	// Before the first session: no reconnects, session down.
	snap = engine.Snapshot{State: engine.StateConnecting}
	text = scrapeText(t, m.Handler())
	if !strings.Contains(text, "usepod_agent_reconnects_total 0\n") || !strings.Contains(text, "usepod_agent_session_up 0\n") {
		t.Fatalf("before any session:\n%s", text)
	}
}

func TestProcessCollectorsPresent(t *testing.T) {
	text := scrapeText(t, New(Options{}).Handler())
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_start_time_seconds"} {
		if !strings.Contains(text, "\n"+name+" ") {
			t.Errorf("scrape lacks %s", name)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":          "http://127.0.0.1:8080",
		"https://bob:s3cret@gpu.lan/v1":  "https://bob@gpu.lan/v1",
		"http://:s3cret@gpu.lan":         "http://@gpu.lan",
		"http://gpu.lan/?api_key=s3cret": "http://gpu.lan/?redacted",
		"http://bad host:s3cret@%zz":     "(unreadable address)",
		"":                               "",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServeAndShutdown(t *testing.T) {
	m := New(Options{NoProcessMetrics: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.ServeListener(ctx, ln) }()

	m.JobEnded(jobs.Result{Model: "tiny", Backend: "vllm", Outcome: jobs.OutcomeDone})
	body := httpGet(t, "http://"+addr+"/metrics")
	if !strings.Contains(body, `usepod_agent_jobs_total{backend="vllm",model="tiny",outcome="done"} 1`) {
		t.Fatalf("/metrics:\n%s", body)
	}
	if got := httpGet(t, "http://"+addr+"/healthz"); got != "ok\n" {
		t.Fatalf("/healthz = %q", got)
	}
	// The address is taken: a second server says so and does not block.
	if err := m.Serve(ctx, addr); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("second Serve on a busy address: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestServeRejectsBadAddress(t *testing.T) {
	err := New(Options{}).Serve(t.Context(), "not an address")
	var op *net.OpError
	if err == nil || !errors.As(err, &op) {
		t.Fatalf("Serve(bad address) = %v", err)
	}
}

func scrapeText(t testing.TB, h http.Handler) string {
	t.Helper()
	rec := newRecorder()
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	h.ServeHTTP(rec, req)
	if rec.status != 0 && rec.status != http.StatusOK {
		t.Fatalf("scrape status %d: %s", rec.status, rec.body.String())
	}
	return rec.body.String()
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
