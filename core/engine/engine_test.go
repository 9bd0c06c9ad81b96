package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

func recordedBody(t *testing.T, name string) []byte {
	t.Helper()
	return replay.MustParse(t, name).Body
}

func TestEnrollServeAndEarn(t *testing.T) {
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{EnrollmentCodes: []string{testCode}}, withBackends(llama))
	p := h.provider()
	if p.EnrollmentCode != testCode {
		t.Fatalf("enrollment code not sent on first connection")
	}
	caps, _ := capabilities(t, p, 0)
	if len(caps.Models) != 1 || caps.Models[0].ModelID != "tiny" || caps.Models[0].Backend != "llamacpp" ||
		caps.Models[0].InputPer1M != 100000 || caps.Models[0].OutputPer1M != 300000 || caps.Models[0].MaxConcurrent != 8 {
		t.Fatalf("capabilities = %+v", caps)
	}
	if caps.Models[0].ContextWindow == 0 {
		t.Fatalf("context window missing from capabilities")
	}
	if caps.Limits.MaxConcurrentTotal != 8 || caps.Limits.MaxTokensPerMinute != nil {
		t.Fatalf("limits = %+v", caps.Limits)
	}
	h.waitState(stateIs(StateWaiting), "waiting for jobs")

	res, err := p.Dispatch(ctxT(t), localcoord.JobRequest{JobID: "job-1", ModelID: "tiny", Request: chatRequest()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Done == nil {
		t.Fatalf("terminal = %s, want job_done", res.Terminal.Raw)
	}
	if !bytes.Equal(res.Body, recordedBody(t, "llama.cpp/chat_stream_usage.txt")) {
		t.Fatalf("relayed bytes differ from the backend's:\n%q", res.Body)
	}
	if d := res.Done.Tokens; d.Input != 17 || d.Output != 8 || d.InputTokens != 17 || d.OutputTokens != 8 {
		t.Fatalf("tokens = %+v, want 17 in / 8 out", d)
	}
	// The backend got a streaming body with usage requested and the model filled in.
	reqs := llama.Requests()
	var body map[string]any
	for _, r := range reqs {
		if r.Route() == replay.RouteChat {
			json.Unmarshal(r.Body, &body)
		}
	}
	if body["stream"] != true || body["model"] != "tiny" || body["stream_options"] == nil {
		t.Fatalf("backend request body = %v", body)
	}

	// 17 x 100000 + 8 x 300000 = 4,100,000 units x 1e-6 = 4.1 micro-USDC -> 4.
	s := h.waitState(func(s Snapshot) bool { return s.Earnings.Jobs == 1 }, "the job in the earnings")
	if s.Earnings.TotalMicro != 4 || s.JobsServed != 1 || len(s.Earnings.Models) != 1 || s.Earnings.Models[0].Model != "tiny" {
		t.Fatalf("earnings = %+v served %d", s.Earnings, s.JobsServed)
	}
	if s.State != StateEarning {
		t.Fatalf("state after a job = %v, want earning", s.State)
	}
	page, err := h.ledger.List(ctxT(t), ledger.JobQuery{Limit: 10})
	if err != nil || len(page.Jobs) != 1 || page.Jobs[0].JobID != "job-1" || !page.Jobs[0].Done() || page.Jobs[0].Backend != "llamacpp" || page.Jobs[0].InputTokens != 17 {
		t.Fatalf("ledger = %+v, %v", page.Jobs, err)
	}

	// The provider id was stored with the identity; a reconnect does not send the code.
	if id, err := h.store.Load(ctxT(t)); err != nil || id.ProviderID != p.ID {
		t.Fatalf("provider id not stored with the identity")
	}
	p.Drop()
	p2 := h.provider()
	if p2.EnrollmentCode != "" || p2.ID != p.ID {
		t.Fatalf("reconnect sent code %q / id %q", p2.EnrollmentCode, p2.ID)
	}
	capabilities(t, p2, 0) // capabilities again on every reconnect
}

func TestAnthropicJobFromOllama(t *testing.T) {
	ollama := replay.Ollama(t)
	h := newHarness(t, localcoord.Options{}, withBackends(ollama))
	p := h.provider()
	caps, _ := capabilities(t, p, 0)
	if got := caps.ModelIDs(); !slices.Equal(got, []string{"tiny:latest"}) || caps.Models[0].ContextWindow != 4096 {
		t.Fatalf("capabilities = %+v", caps)
	}
	res, err := p.Dispatch(ctxT(t), localcoord.JobRequest{JobID: "a1", ModelID: "tiny:latest", Format: "anthropic",
		Request: map[string]any{"max_tokens": 8, "messages": []map[string]string{{"role": "user", "content": "hi"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Done == nil {
		t.Fatalf("terminal = %s", res.Terminal.Raw)
	}
	if !bytes.Equal(res.Body, recordedBody(t, "ollama/messages_stream.txt")) {
		t.Fatal("relayed bytes differ")
	}
	// Ollama revises input_tokens from its estimate (6) to 17 in message_delta.
	if res.Done.Tokens.Input != 17 {
		t.Fatalf("input tokens = %d, want the revised 17", res.Done.Tokens.Input)
	}
}

func TestJobErrorCodes(t *testing.T) {
	tests := []struct {
		name     string
		backend  func(t *testing.T) *replay.Server
		job      localcoord.JobRequest
		breakIt  func(s *replay.Server) // after discovery, before the job
		code     string
		inMsg    string
		someBody bool // tokens_emitted > 0 and chunks relayed
	}{
		{name: "model not loaded", backend: func(t *testing.T) *replay.Server { return replay.LlamaCpp(t) },
			job: localcoord.JobRequest{ModelID: "no-such-model"}, code: "model_not_loaded", inMsg: "no-such-model"},
		{name: "backend unreachable", backend: func(t *testing.T) *replay.Server { return replay.LlamaCpp(t) },
			breakIt: func(s *replay.Server) { s.Close() }, code: "backend_unreachable"},
		{name: "backend timeout", backend: func(t *testing.T) *replay.Server { return replay.LlamaCpp(t, replay.WithHangAfter(100)) },
			job: localcoord.JobRequest{DeadlineMs: 300}, code: "backend_timeout", someBody: true},
		{name: "auth rejected by backend", backend: func(t *testing.T) *replay.Server {
			return replay.LlamaCpp(t, replay.WithRoute(replay.RouteChat, "llama.cpp/apikey_chat_wrongkey.txt"))
		}, code: "auth_rejected_by_backend"},
		{name: "prompt over the context", backend: func(t *testing.T) *replay.Server {
			return replay.LlamaCpp(t, replay.WithRoute(replay.RouteChat, "llama.cpp/ctx_exceeded_stream.txt"))
		}, code: "internal", inMsg: "400"},
		{name: "mid-stream error", backend: func(t *testing.T) *replay.Server {
			return replay.LlamaCpp(t, replay.WithRoute(replay.RouteChat, "llama.cpp/chat_stream_midstream_error.txt"))
		}, code: "internal", inMsg: "peg-native", someBody: true},
		{name: "stream stops without [DONE]", backend: func(t *testing.T) *replay.Server {
			return replay.Ollama(t, replay.WithRoute(replay.RouteChat, "ollama/chat_stream_parse_failure.txt"))
		}, job: localcoord.JobRequest{ModelID: "tiny:latest"}, code: "internal", someBody: true},
		{name: "backend dies mid-stream", backend: func(t *testing.T) *replay.Server { return replay.LlamaCpp(t, replay.WithDieAfter(200)) },
			someBody: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.backend(t)
			h := newHarness(t, localcoord.Options{}, withBackends(srv))
			p := h.provider()
			capabilities(t, p, 0)
			if tc.breakIt != nil {
				tc.breakIt(srv)
			}
			j := tc.job
			j.JobID = "job-" + strings.ReplaceAll(tc.name, " ", "-")
			if j.ModelID == "" {
				j.ModelID = "tiny"
			}
			j.Request = chatRequest()
			res, err := p.Dispatch(ctxT(t), j)
			if err != nil {
				t.Fatal(err)
			}
			if res.Error == nil {
				t.Fatalf("terminal = %s, want job_error", res.Terminal.Raw)
			}
			if tc.code != "" && res.Error.ErrorCode != tc.code {
				t.Fatalf("error_code = %q (%s), want %q", res.Error.ErrorCode, res.Error.Message, tc.code)
			}
			if !strings.Contains(res.Error.Message, tc.inMsg) || res.Error.Message == "" {
				t.Fatalf("message %q lacks %q", res.Error.Message, tc.inMsg)
			}
			if tc.someBody != (res.Error.TokensEmitted > 0) || res.Error.TokensEmitted != int64(len(res.Body)) {
				t.Fatalf("tokens_emitted = %d with %d bytes relayed", res.Error.TokensEmitted, len(res.Body))
			}
			// Exactly one terminal frame for the job.
			n := 0
			for _, f := range p.Frames() {
				if localcoord.Terminal(j.JobID)(f) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d terminal frames", n)
			}
			done, err := h.ledger.List(ctxT(t), ledger.JobQuery{Outcome: ledger.OutcomeDone, Limit: 10})
			if err != nil || len(done.Jobs) != 0 {
				t.Fatalf("a failed job is in the ledger as done: %+v, %v", done.Jobs, err)
			}
		})
	}
}

func TestCapacityRefusal(t *testing.T) {
	llama := replay.LlamaCpp(t, replay.WithHangAfter(50))
	h := newHarness(t, localcoord.Options{}, withBackends(llama), withConfig(func(c *config.Config) { c.Limits.MaxConcurrent = 1 }))
	p := h.provider()
	capabilities(t, p, 0)
	ctx := ctxT(t)
	p.Send(ctx, localcoord.JobRequest{Type: "job", JobID: "slow", ModelID: "tiny", Request: chatRequest()})
	h.waitState(func(s Snapshot) bool { return s.JobsInFlight == 1 }, "one job in flight")
	res, err := p.Dispatch(ctx, localcoord.JobRequest{JobID: "second", ModelID: "tiny", Request: chatRequest()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error == nil || res.Error.ErrorCode != "out_of_capacity" {
		t.Fatalf("second job: %s", res.Terminal.Raw)
	}
	p.Send(ctx, map[string]string{"type": "job_cancel", "job_id": "slow"})
}

func TestCancelAbortsBackendRequest(t *testing.T) {
	llama := replay.LlamaCpp(t, replay.WithHangAfter(100))
	h := newHarness(t, localcoord.Options{}, withBackends(llama))
	p := h.provider()
	capabilities(t, p, 0)
	ctx := ctxT(t)
	p.Send(ctx, localcoord.JobRequest{Type: "job", JobID: "c1", ModelID: "tiny", Request: chatRequest()})
	if _, _, err := p.WaitFrame(ctx, 0, func(f localcoord.Frame) bool { return f.Type == "job_chunk" && f.JobID == "c1" }); err != nil {
		t.Fatal(err)
	}
	p.Send(ctx, map[string]string{"type": "job_cancel", "job_id": "c1"})
	select {
	case r := <-llama.ClientGone():
		if r.Route() != replay.RouteChat {
			t.Fatalf("gone: %s", r.Route())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend never saw the request end after job_cancel")
	}
	h.waitState(func(s Snapshot) bool { return s.JobsInFlight == 0 }, "the cancelled job gone")
	// Cancels for unknown or finished jobs are ignored.
	p.Send(ctx, map[string]string{"type": "job_cancel", "job_id": "c1"})
	p.Send(ctx, map[string]string{"type": "job_cancel", "job_id": "never-existed"})
	// A later job is a barrier: everything about c1 was queued before it.
	res, err := p.Dispatch(ctx, localcoord.JobRequest{JobID: "after", ModelID: "tiny", Request: chatRequest(), DeadlineMs: 500})
	if err != nil {
		t.Fatal(err)
	}
	_ = res
	for _, f := range p.Frames() {
		if localcoord.Terminal("c1")(f) {
			t.Fatalf("a cancelled job got a terminal frame: %s", f.Raw)
		}
	}
}

func TestDisconnectAbortsJobsAndReconnectsQuickly(t *testing.T) {
	llama := replay.LlamaCpp(t, replay.WithHangAfter(100))
	h := newHarness(t, localcoord.Options{}, withBackends(llama))
	p := h.provider()
	capabilities(t, p, 0)
	ctx := ctxT(t)
	p.Send(ctx, localcoord.JobRequest{Type: "job", JobID: "d1", ModelID: "tiny", Request: chatRequest()})
	// Its first chunk proves the request reached the backend before the drop.
	if _, _, err := p.WaitFrame(ctx, 0, func(f localcoord.Frame) bool { return f.Type == "job_chunk" && f.JobID == "d1" }); err != nil {
		t.Fatal(err)
	}
	before := len(h.waits.list())
	p.Drop()
	select {
	case <-llama.ClientGone():
	case <-time.After(5 * time.Second):
		t.Fatal("the backend request was not aborted on disconnect")
	}
	p2 := h.provider()
	capabilities(t, p2, 0)
	w := h.waits.list()[before:]
	if len(w) != 1 || w[0] != time.Second {
		t.Fatalf("reconnect waits after a good session = %v, want [1s]", w)
	}
	for _, f := range p2.Frames() {
		if f.JobID == "d1" {
			t.Fatalf("a frame of an aborted job reached the new session: %s", f.Raw)
		}
	}
}

func TestBackoffWhileRejectedThenReset(t *testing.T) {
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{RejectReason: "enrollment code expired"}, withBackends(llama))
	s := h.waitState(stateIs(StateEnrollmentRejected), "enrollment rejected")
	if s.Reason != "enrollment code expired" {
		t.Fatalf("reason = %q", s.Reason)
	}
	// Waits double from 1 s (jitter factor fixed at 1.0 here).
	deadline := time.Now().Add(10 * time.Second)
	for len(h.waits.list()) < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	w := h.waits.list()
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	if len(w) < 5 || !slices.Equal(w[:5], want) {
		t.Fatalf("waits = %v, want to start %v", w, want)
	}
	h.coord.SetRejectReason("")
	p := h.provider()
	capabilities(t, p, 0)
	h.waitState(stateIs(StateWaiting), "waiting after enrollment")
	n := len(h.waits.list())
	p.Drop()
	h.provider()
	if got := h.waits.list()[n]; got != time.Second {
		t.Fatalf("first wait after a good session = %v, want 1s (reset)", got)
	}
}

func TestModelSwitchResendsCapabilities(t *testing.T) {
	llama, ollama := replay.LlamaCpp(t), replay.Ollama(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama, ollama))
	p := h.provider()
	caps, i := capabilities(t, p, 0)
	if !slices.Equal(caps.ModelIDs(), []string{"tiny", "tiny:latest"}) {
		t.Fatalf("offered %v", caps.ModelIDs())
	}
	if err := h.eng.SetModelEnabled("tiny", false); err != nil {
		t.Fatal(err)
	}
	caps, i = capabilities(t, p, i+1)
	if !slices.Equal(caps.ModelIDs(), []string{"tiny:latest"}) {
		t.Fatalf("after switching tiny off: %v", caps.ModelIDs())
	}
	if got := h.saved[len(h.saved)-1].Models.Disabled; !slices.Equal(got, []string{"tiny"}) {
		t.Fatalf("saved disabled = %v", got)
	}
	res, _ := p.Dispatch(ctxT(t), localcoord.JobRequest{JobID: "off", ModelID: "tiny", Request: chatRequest()})
	if res.Error == nil || res.Error.ErrorCode != "model_not_loaded" {
		t.Fatalf("job for a switched-off model: %s", res.Terminal.Raw)
	}
	s := h.eng.Snapshot()
	if len(s.Models) != 2 || s.Models[0].Enabled || s.Models[0].Offered || !s.Models[1].Offered {
		t.Fatalf("snapshot models = %+v", s.Models)
	}
	h.eng.SetModelEnabled("tiny", true)
	caps, _ = capabilities(t, p, i+1)
	if len(caps.Models) != 2 {
		t.Fatalf("after switching back on: %v", caps.ModelIDs())
	}
}

func TestInvalidConfigChangeIsRefused(t *testing.T) {
	h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)))
	h.provider()
	err := h.eng.UpdateConfig(func(c *config.Config) { c.Limits.MaxConcurrent = 0 })
	if err == nil || !strings.Contains(err.Error(), "max_concurrent") {
		t.Fatalf("err = %v", err)
	}
	if len(h.saved) != 0 || h.eng.Config().Limits.MaxConcurrent != 8 {
		t.Fatal("an invalid change was saved or applied")
	}
}

func TestPauseDrainsThenClosesAndResumes(t *testing.T) {
	llama := replay.LlamaCpp(t, replay.WithPacing(20*time.Millisecond))
	h := newHarness(t, localcoord.Options{}, withBackends(llama))
	p := h.provider()
	_, i := capabilities(t, p, 0)
	ctx := ctxT(t)
	p.Send(ctx, localcoord.JobRequest{Type: "job", JobID: "p1", ModelID: "tiny", Request: chatRequest()})
	if _, _, err := p.WaitFrame(ctx, 0, localcoord.OfType("job_chunk")); err != nil {
		t.Fatal(err)
	}
	h.eng.Pause()
	caps, ci := capabilities(t, p, i+1)
	if len(caps.Models) != 0 {
		t.Fatalf("pause offered %v, want no models", caps.ModelIDs())
	}
	_, di, err := p.WaitFrame(ctx, 0, localcoord.Terminal("p1"))
	if err != nil {
		t.Fatal(err)
	}
	if f := p.Frames()[di]; f.Type != "job_done" || di < ci {
		t.Fatalf("running job after pause: %s at %d (capabilities at %d)", f.Raw, di, ci)
	}
	if err := p.Closed(ctx); err == nil || !strings.Contains(err.Error(), "1000") && !strings.Contains(strings.ToLower(err.Error()), "normal") {
		t.Fatalf("session end after pause = %v, want a normal closure", err)
	}
	h.waitState(stateIs(StatePaused), "paused")
	h.eng.Start()
	p2 := h.provider()
	caps, _ = capabilities(t, p2, 0)
	if len(caps.Models) != 1 {
		t.Fatalf("after resume offered %v", caps.ModelIDs())
	}
}

func TestHeartbeatCarriesRealFigures(t *testing.T) {
	llama := replay.LlamaCpp(t, replay.WithPacing(2*time.Millisecond))
	h := newHarness(t, localcoord.Options{}, withBackends(llama), withOptions(func(o *Options) { o.HeartbeatInterval = 100 * time.Millisecond }))
	p := h.provider()
	capabilities(t, p, 0)
	ctx := ctxT(t)
	if _, err := p.Dispatch(ctx, localcoord.JobRequest{JobID: "ok", ModelID: "tiny", Request: chatRequest()}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Dispatch(ctx, localcoord.JobRequest{JobID: "bad", ModelID: "nope", Request: chatRequest()}); err != nil {
		t.Fatal(err)
	}
	from := len(p.Frames())
	f, _, err := p.WaitFrame(ctx, from, localcoord.OfType("heartbeat"))
	if err != nil {
		t.Fatal(err)
	}
	var hb struct {
		QueueDepth      int     `json:"queue_depth"`
		TokensPerSecP50 float64 `json:"tokens_per_sec_p50"`
		P50LatencyMs    *int64  `json:"p50_latency_ms"`
		P95LatencyMs    *int64  `json:"p95_latency_ms"`
		ErrorRate60s    float64 `json:"error_rate_60s"`
		LastErrorAt     *string `json:"last_error_at"`
		LastErrorCode   *string `json:"last_error_code"`
	}
	if err := f.Decode(&hb); err != nil {
		t.Fatal(err)
	}
	if hb.QueueDepth != 0 || hb.TokensPerSecP50 <= 0 || hb.P50LatencyMs == nil || hb.P95LatencyMs == nil || hb.ErrorRate60s != 0.5 {
		t.Fatalf("heartbeat = %s", f.Raw)
	}
	if hb.LastErrorCode == nil || *hb.LastErrorCode != "model_not_loaded" || hb.LastErrorAt == nil {
		t.Fatalf("last error in heartbeat = %s", f.Raw)
	}
	if _, err := time.Parse(time.RFC3339, *hb.LastErrorAt); err != nil {
		t.Fatalf("last_error_at not RFC 3339: %v", err)
	}
}

func TestRediscoveryResendsWhenABackendGoes(t *testing.T) {
	llama, ollama := replay.LlamaCpp(t), replay.Ollama(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama, ollama), withOptions(func(o *Options) { o.DiscoveryInterval = 100 * time.Millisecond }))
	p := h.provider()
	caps, i := capabilities(t, p, 0)
	if len(caps.Models) != 2 {
		t.Fatalf("offered %v", caps.ModelIDs())
	}
	ollama.Close()
	caps, _ = capabilities(t, p, i+1)
	if !slices.Equal(caps.ModelIDs(), []string{"tiny"}) {
		t.Fatalf("after ollama went away: %v", caps.ModelIDs())
	}
	s := h.waitState(func(s Snapshot) bool {
		for _, b := range s.Backends {
			if b.Kind == "ollama" && !b.Healthy && b.Error != "" {
				return true
			}
		}
		return false
	}, "ollama shown as down")
	_ = s
}

func TestNoBackendsAndNeedsEnrollmentStates(t *testing.T) {
	t.Run("no backends", func(t *testing.T) {
		h := newHarness(t, localcoord.Options{}, withConfig(func(c *config.Config) {
			c.Backends = []config.Backend{{Kind: "llamacpp", URL: "http://127.0.0.1:1"}}
		}))
		h.waitState(stateIs(StateNoBackends), "no backends")
	})
	t.Run("needs enrollment", func(t *testing.T) {
		h := newHarness(t, localcoord.Options{}, withBackends(replay.LlamaCpp(t)), withConfig(func(c *config.Config) { c.Coordinator.EnrollmentCode = "" }))
		h.waitState(stateIs(StateNeedsEnrollment), "needs enrollment")
		if err := h.eng.UpdateConfig(func(c *config.Config) { c.Coordinator.EnrollmentCode = testCode }); err != nil {
			t.Fatal(err)
		}
		p := h.provider()
		if p.EnrollmentCode != testCode {
			t.Fatalf("code = %q", p.EnrollmentCode)
		}
	})
}

func TestStatesInOrder(t *testing.T) {
	llama := replay.LlamaCpp(t)
	h := newHarness(t, localcoord.Options{}, withBackends(llama), withOptions(func(o *Options) { o.StartPaused = true }))
	ctx := ctxT(t)
	ch := h.eng.Watch(ctx)
	var seen []State
	record := func(until State) {
		for s := range ch {
			if len(seen) == 0 || seen[len(seen)-1] != s.State {
				seen = append(seen, s.State)
			}
			if s.State == until {
				return
			}
		}
	}
	record(StatePaused)
	h.eng.Start()
	p := h.provider()
	record(StateWaiting)
	p.Dispatch(ctx, localcoord.JobRequest{JobID: "s1", ModelID: "tiny", Request: chatRequest()})
	record(StateEarning)
	h.eng.Pause()
	record(StatePaused)
	got := fmt.Sprint(seen)
	if seen[0] != StatePaused || seen[len(seen)-1] != StatePaused || !slices.Contains(seen, StateWaiting) || !slices.Contains(seen, StateEarning) {
		t.Fatalf("states = %s", got)
	}
	for _, s := range seen {
		if s == StateOffline || s == StateEnrollmentRejected || s == StateNoBackends {
			t.Fatalf("unexpected state in %s", got)
		}
	}
}
