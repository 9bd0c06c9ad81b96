package selftest

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/internal/testrig/replay"
)

const pacing = 20 * time.Millisecond

// The recorded llama.cpp stream: a role-only event, 8 text events, the
// finish, the usage, [DONE]; each event paced 20 ms apart.
func TestLlamaCppRecording(t *testing.T) {
	srv := replay.LlamaCpp(t, replay.WithPacing(pacing))
	r := Run(t.Context(), &backend.Client{}, backend.Server{Kind: srv.Kind, URL: srv.URL}, "tiny", 0)
	if !r.OK || r.Error != "" || !r.UsageReported || r.OutputTokens != 8 || r.ModelID != "tiny" || r.Backend != "llamacpp" {
		t.Fatalf("result %+v", r)
	}
	// The first text comes one pause after the role-only event.
	if r.TTFTMs < float64(pacing.Milliseconds()) || r.TTFTMs > r.DurationMs {
		t.Errorf("ttft %.1f ms, want at least %d and at most the duration %.1f", r.TTFTMs, pacing.Milliseconds(), r.DurationMs)
	}
	// After the first text at least 10 more pauses pass (7 texts, finish,
	// usage, [DONE]): 8 tokens over at least 200 ms.
	if max := 8 / (10 * pacing.Seconds()); r.TokensPerS <= 0 || r.TokensPerS > max {
		t.Errorf("tokens/s %.1f, want in (0, %.1f]", r.TokensPerS, max)
	}
	// It went through the relay path: the fixed request, prepared as a job's.
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Route() != replay.RouteChat {
		t.Fatalf("requests %v", reqs)
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	so, _ := body["stream_options"].(map[string]any)
	if body["model"] != "tiny" || body["stream"] != true || body["max_tokens"] != float64(32) || so["include_usage"] != true {
		t.Errorf("request body %s", reqs[0].Body)
	}
}

func TestOllamaRecording(t *testing.T) {
	srv := replay.Ollama(t, replay.WithPacing(pacing))
	r := Run(t.Context(), &backend.Client{}, backend.Server{Kind: srv.Kind, URL: srv.URL}, "tiny", 0)
	if !r.OK || !r.UsageReported || r.OutputTokens != 8 || r.TTFTMs <= 0 || r.TokensPerS <= 0 || r.Backend != "ollama" {
		t.Fatalf("result %+v", r)
	}
	b, _ := json.Marshal([]Result{r})
	for _, key := range []string{`"model_id"`, `"backend"`, `"ok"`, `"ttft_ms"`, `"tokens_per_s"`, `"error"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

// A server that streams text but no usage would have its jobs earn
// nothing: the test fails, saying so, with the tokens counted instead.
func TestNoUsageFails(t *testing.T) {
	srv := replay.LlamaCpp(t, replay.WithRoute(replay.RouteChat, "llama.cpp/chat_stream.txt"))
	r := Run(t.Context(), &backend.Client{}, backend.Server{Kind: srv.Kind, URL: srv.URL}, "tiny", 0)
	if r.OK || r.UsageReported || !strings.Contains(r.Error, "usage") || r.OutputTokens == 0 || r.TTFTMs <= 0 {
		t.Fatalf("result %+v", r)
	}
}

func TestFailures(t *testing.T) {
	unknown := replay.LlamaCpp(t, replay.WithRoute(replay.RouteChat, "llama.cpp/unknown_model_stream.txt"))
	r := Run(t.Context(), &backend.Client{}, backend.Server{Kind: "llamacpp", URL: unknown.URL}, "no-such-model", 0)
	if r.OK || r.Error == "" {
		t.Errorf("unknown model: %+v", r)
	}
	gone := replay.LlamaCpp(t)
	url := gone.URL
	gone.Close()
	r = Run(t.Context(), &backend.Client{}, backend.Server{Kind: "llamacpp", URL: url}, "tiny", 0)
	if r.OK || !strings.Contains(r.Error, "nothing answers") {
		t.Errorf("server gone: %+v", r)
	}
	hang := replay.LlamaCpp(t, replay.WithHangAfter(-1))
	r = Run(t.Context(), &backend.Client{}, backend.Server{Kind: "llamacpp", URL: hang.URL}, "tiny", 200*time.Millisecond)
	if r.OK || !strings.Contains(r.Error, "within 200ms") {
		t.Errorf("server hangs: %+v", r)
	}
}

func TestStoreKeepsTheLastPerModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "selftest.json")
	s := OpenStore(path)
	if err := s.Put(Result{ModelID: "b", TTFTMs: 1}, Result{ModelID: "a", TTFTMs: 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(Result{ModelID: "b", TTFTMs: 3, OK: true}); err != nil {
		t.Fatal(err)
	}
	got := OpenStore(path).All() // after a restart
	if len(got) != 2 || got[0].ModelID != "a" || got[1].TTFTMs != 3 || !got[1].OK {
		t.Fatalf("kept %+v", got)
	}
}

func TestTesterPicksTheServingServer(t *testing.T) {
	llama := replay.LlamaCpp(t)
	ollama := replay.Ollama(t)
	tt := &Tester{
		Streamer: &backend.Client{},
		Servers: func() []backend.Health {
			return []backend.Health{
				{Server: backend.Server{Kind: "vllm", URL: "http://127.0.0.1:1"}, Healthy: false, Models: []backend.Model{{ID: "down"}}},
				{Server: backend.Server{Kind: "llamacpp", URL: llama.URL}, Healthy: true, Models: []backend.Model{{ID: "tiny"}}},
				{Server: backend.Server{Kind: "ollama", URL: ollama.URL}, Healthy: true, Models: []backend.Model{{ID: "tiny:ollama"}}},
			}
		},
		Store: OpenStore(""),
	}
	rs, err := tt.Run(t.Context(), nil)
	if err != nil || len(rs) != 2 || rs[0].Backend != "llamacpp" || rs[1].Backend != "ollama" || !rs[0].OK || !rs[1].OK {
		t.Fatalf("%+v %v", rs, err)
	}
	if len(ollama.Requests()) != 1 || len(llama.Requests()) != 1 {
		t.Fatal("each server should get its own model's test")
	}
	if _, err := tt.Run(t.Context(), []string{"down"}); err == nil || !strings.Contains(err.Error(), "tiny, tiny:ollama") {
		t.Fatalf("a model of a down server: %v", err)
	}
	if last := tt.Last(); len(last) != 2 {
		t.Fatalf("kept %+v", last)
	}
}
