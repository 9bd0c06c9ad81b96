package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/jobs"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/keystore"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// TestScrapeAfterRealJobs serves real jobs from the local coordinator
// through an engine to a replayed llama.cpp server, then scrapes /metrics
// over a real socket and checks the counters against what was served.
func TestScrapeAfterRealJobs(t *testing.T) {
	llama := replay.LlamaCpp(t)
	coord := localcoord.New(localcoord.Options{})
	hs := httptest.NewServer(coord.Handler())
	t.Cleanup(hs.Close)
	led, err := ledger.Open(filepath.Join(t.TempDir(), "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })

	cfg := config.Default()
	cfg.Coordinator.URL = "ws" + strings.TrimPrefix(hs.URL, "http") + "/provider/connect"
	cfg.Coordinator.AllowInsecure = true
	cfg.Coordinator.EnrollmentCode = "POD-ENROLL-METRICS1"
	cfg.Backends = []config.Backend{{Kind: llama.Kind, URL: llama.URL}}

	var m *Metrics
	eng, err := engine.New(engine.Options{
		Config: cfg, KeyStore: &keystore.MemStore{}, Ledger: led,
		HeartbeatInterval: time.Hour, DiscoveryInterval: time.Hour,
		After:    func(time.Duration) <-chan time.Time { return time.After(time.Millisecond) },
		OnJobEnd: func(r jobs.Result) { m.JobEnded(r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	m = New(Options{Snapshot: eng.Snapshot, NoProcessMetrics: true})

	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{}, 2)
	go func() { eng.Run(ctx); stopped <- struct{}{} }()
	go func() { m.ServeListener(ctx, ln); stopped <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-stopped; <-stopped })
	url := "http://" + ln.Addr().String() + "/metrics"

	wctx, wcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer wcancel()
	p, err := coord.Next(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.WaitCapabilities(wctx, 0); err != nil {
		t.Fatal(err)
	}

	const served = 3
	var in, out, relayed int64
	for i := range served {
		res, err := p.Dispatch(wctx, localcoord.JobRequest{JobID: fmt.Sprintf("job-%d", i), ModelID: "tiny", Request: chat()})
		if err != nil || res.Done == nil {
			t.Fatalf("job %d: %v %s", i, err, res.Terminal.Raw)
		}
		in += res.Done.Tokens.Input
		out += res.Done.Tokens.Output
		relayed += int64(len(res.Body))
	}
	res, err := p.Dispatch(wctx, localcoord.JobRequest{JobID: "job-x", ModelID: "no-such-model", Request: chat()})
	if err != nil || res.Error == nil {
		t.Fatalf("unknown model: %v %s", err, res.Terminal.Raw)
	}

	// A job counts as ended just before the manager forgets it: wait for
	// the in-flight gauge to follow.
	text := httpGet(t, url)
	for !strings.Contains(text, "usepod_agent_jobs_in_flight 0\n") && wctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		text = httpGet(t, url)
	}
	// 17 in x 0.1 + 8 out x 0.3 USDC per million = 4.1 micro-USDC a job.
	for _, line := range []string{
		fmt.Sprintf(`usepod_agent_jobs_total{backend="llamacpp",model="tiny",outcome="done"} %d`, served),
		`usepod_agent_jobs_total{backend="",model="no-such-model",outcome="model_not_loaded"} 1`,
		fmt.Sprintf(`usepod_agent_job_duration_seconds_count{model="tiny"} %d`, served),
		fmt.Sprintf(`usepod_agent_time_to_first_chunk_seconds_count %d`, served),
		fmt.Sprintf(`usepod_agent_tokens_total{direction="input",model="tiny"} %d`, in),
		fmt.Sprintf(`usepod_agent_tokens_total{direction="output",model="tiny"} %d`, out),
		fmt.Sprintf(`usepod_agent_earned_micro_usdc_total{model="tiny"} %g`, float64(served)*4.1),
		fmt.Sprintf(`usepod_agent_relayed_bytes_total %d`, relayed),
		`usepod_agent_session_up 1`,
		`usepod_agent_reconnects_total 0`,
		`usepod_agent_models_offered 1`,
		`usepod_agent_jobs_in_flight 0`,
		fmt.Sprintf(`usepod_agent_backend_up{backend="llamacpp",url=%q} 1`, llama.URL),
		`usepod_agent_state{state="earning"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if in != 3*17 || out != 3*8 || relayed == 0 {
		t.Fatalf("served %d in, %d out, %d bytes: not the recording's usage", in, out, relayed)
	}

	// A dropped session comes back: one reconnect.
	p.Drop()
	if _, err := coord.Next(wctx); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(httpGet(t, url), "usepod_agent_reconnects_total 1\n") {
		if wctx.Err() != nil {
			t.Fatal("reconnects_total never reached 1")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func chat() map[string]any {
	return map[string]any{"messages": []map[string]string{{"role": "user", "content": "hi"}}, "max_tokens": 8}
}
