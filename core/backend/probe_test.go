package backend

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/replay"
)

func TestProbe(t *testing.T) {
	type start func(t *testing.T) (Server, *replay.Server)
	with := func(preset func(testing.TB, ...replay.Option) *replay.Server, opts ...replay.Option) start {
		return func(t *testing.T) (Server, *replay.Server) {
			srv := preset(t, opts...)
			return serverOf(srv), srv
		}
	}
	tests := []struct {
		name       string
		start      start
		edit       func(*Server) // changes to the probed Server
		wantModels []Model       // nil: not healthy
		wantErr    string        // Health.Err contains it; {url} stands for the server URL
	}{
		// llama.cpp
		{name: "llama.cpp ready, context from /props",
			start: with(replay.LlamaCpp), wantModels: []Model{{"tiny", 1024}}},
		{name: "llama.cpp loading",
			start:   with(replay.LlamaCpp, replay.WithRoute("GET /health", "health_loading")),
			wantErr: "llama.cpp at {url} is still loading its model"},
		{name: "llama.cpp healthy but model list still loading",
			start:   with(replay.LlamaCpp, replay.WithRoute("GET /v1/models", "models_loading")),
			wantErr: "llama.cpp at {url} is still loading its model"},
		{name: "llama.cpp without /props: meta.n_ctx",
			start: with(replay.LlamaCpp, replay.WithoutRoute("GET /props"), replay.WithRoute("GET /v1/models", "apikey_models_nokey")),
			// the --api-key server's list says n_ctx 2048 (n_ctx_train 4096)
			wantModels: []Model{{"tiny", 2048}}},
		{name: "llama.cpp without /props, meta null",
			start: with(replay.LlamaCpp, replay.WithoutRoute("GET /props"),
				replay.WithResponse("GET /v1/models", 200, "application/json", `{"object":"list","data":[{"id":"tiny","object":"model","meta":null}]}`)),
			wantModels: []Model{{"tiny", 0}}},
		{name: "llama.cpp meta with only n_ctx_train",
			start: with(replay.LlamaCpp, replay.WithoutRoute("GET /props"),
				replay.WithResponse("GET /v1/models", 200, "application/json", `{"data":[{"id":"tiny","meta":{"n_ctx_train":4096}}]}`)),
			wantModels: []Model{{"tiny", 4096}}},
		{name: "llama.cpp meta null, /props answers",
			start: with(replay.LlamaCpp,
				replay.WithResponse("GET /v1/models", 200, "application/json", `{"data":[{"id":"tiny","meta":null}]}`)),
			wantModels: []Model{{"tiny", 1024}}},
		{name: "llama.cpp very old: one bare object",
			start: with(replay.LlamaCpp, replay.WithoutRoute("GET /props"),
				replay.WithResponse("GET /v1/models", 200, "application/json", `{"id":"models/tiny.gguf","object":"model"}`)),
			wantModels: []Model{{"models/tiny.gguf", 0}}},
		{name: "llama.cpp wants a key",
			start:   with(replay.LlamaCpp, replay.WithRoute("GET /v1/models", "apikey_chat_wrongkey")),
			wantErr: "llama.cpp at {url} wants an API key (HTTP 401 on GET /v1/models)"},
		{name: "llama.cpp rejects the key",
			start:   with(replay.LlamaCpp, replay.WithRoute("GET /v1/models", "apikey_chat_wrongkey")),
			edit:    func(s *Server) { s.APIKey = "wrong" },
			wantErr: "llama.cpp at {url} rejected the API key (HTTP 401 on GET /v1/models)"},
		{name: "llama.cpp allow-list keeps the model",
			start: with(replay.LlamaCpp), edit: func(s *Server) { s.Models = []string{"other", "tiny"} },
			wantModels: []Model{{"tiny", 1024}}},
		{name: "llama.cpp allow-list drops every model",
			start: with(replay.LlamaCpp), edit: func(s *Server) { s.Models = []string{"other"} },
			wantErr: "none of the models llama.cpp at {url} serves (tiny) is in its allow-list (other)"},
		{name: "not a llama.cpp at all",
			start: func(t *testing.T) (Server, *replay.Server) {
				srv := replay.Ollama(t)
				return Server{Kind: "llamacpp", URL: srv.URL}, srv
			},
			wantErr: "llama.cpp at {url} answered GET /health with HTTP 404: 404 page not found"},

		// Ollama
		{name: "ollama ready, context from /api/show",
			start: with(replay.Ollama), wantModels: []Model{{"tiny:latest", 4096}}},
		{name: "ollama: GET / fails, /api/tags answers",
			start: with(replay.Ollama, replay.WithoutRoute("GET /")), wantModels: []Model{{"tiny:latest", 4096}}},
		{name: "ollama: neither / nor /api/tags",
			start:   with(replay.Ollama, replay.WithoutRoute("GET /"), replay.WithoutRoute("GET /api/tags")),
			wantErr: "Ollama at {url} answered GET / with HTTP 404"},
		{name: "ollama: /api/show fails, context unknown",
			start: with(replay.Ollama, replay.WithRoute("POST /api/show", "api_show_unknown")), wantModels: []Model{{"tiny:latest", 0}}},
		{name: "ollama without models",
			start:   with(replay.Ollama, replay.WithResponse("GET /v1/models", 200, "application/json", `{"object":"list","data":[]}`)),
			wantErr: "Ollama at {url} has no models — pull one with `ollama pull <model>`"},
		{name: "ollama allow-list without the tag",
			start: with(replay.Ollama), edit: func(s *Server) { s.Models = []string{"tiny"} },
			wantModels: []Model{{"tiny:latest", 4096}}},
		{name: "ollama allow-list with another tag",
			start: with(replay.Ollama), edit: func(s *Server) { s.Models = []string{"tiny:7b"} },
			wantErr: "is in its allow-list (tiny:7b)"},

		// vLLM (synthesized from docs/protocol.md section 8)
		{name: "vllm ready", start: with(replay.VLLM), wantModels: []Model{{"tiny", 4096}}},
		{name: "vllm engine dead",
			start:   with(replay.VLLM, replay.WithResponse("GET /health", 503, "", "")),
			wantErr: "vLLM at {url} answers but its engine has stopped (HTTP 503 on /health) — restart vLLM"},
		{name: "vllm serves nothing",
			start:   with(replay.VLLM, replay.WithResponse("GET /v1/models", 200, "application/json", `{"object":"list","data":[]}`)),
			wantErr: "vLLM at {url} serves no models"},
		{name: "vllm answers garbage",
			start:   with(replay.VLLM, replay.WithResponse("GET /v1/models", 200, "text/html", "<html>")),
			wantErr: "vLLM at {url} answered GET /v1/models with something unexpected — is this really vLLM?"},

		// LM Studio (synthesized from docs/protocol.md section 8)
		{name: "lmstudio ready", start: with(replay.LMStudio), wantModels: []Model{{"tiny", 4096}}},
		{name: "lmstudio: 200 with an error body is not ready",
			start:   with(replay.LMStudio, replay.WithoutRoute("GET /v1/models")), // answered by the 200 {"error"} fallback
			wantErr: "LM Studio at {url} is not ready: GET /v1/models answered with an error (Unexpected endpoint or method."},
		{name: "lmstudio without /api/v0: context unknown",
			start: with(replay.LMStudio, replay.WithoutRoute("GET /api/v0/models")), wantModels: []Model{{"tiny", 0}}},

		// Nothing there.
		{name: "unreachable",
			start: func(t *testing.T) (Server, *replay.Server) {
				return Server{Kind: "llamacpp", URL: closedURL(t)}, nil
			},
			wantErr: "nothing answers at {url} — is llama-server running?"},
		{name: "unknown kind",
			start: func(t *testing.T) (Server, *replay.Server) {
				return Server{Kind: "tgi", URL: "http://localhost:1"}, nil
			},
			wantErr: `unknown backend kind "tgi"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := tt.start(t)
			if tt.edit != nil {
				tt.edit(&s)
			}
			h := (&Client{}).Probe(t.Context(), s)
			if !reflect.DeepEqual(h.Server, s) {
				t.Errorf("Health.Server = %+v, want %+v", h.Server, s)
			}
			if tt.wantModels != nil {
				if !h.Healthy || h.Err != nil || !reflect.DeepEqual(h.Models, tt.wantModels) {
					t.Fatalf("got healthy=%v models=%+v err=%v, want healthy with %+v", h.Healthy, h.Models, h.Err, tt.wantModels)
				}
				return
			}
			want := strings.ReplaceAll(tt.wantErr, "{url}", s.URL)
			if h.Healthy || h.Err == nil || !strings.Contains(h.Err.Error(), want) {
				t.Fatalf("got healthy=%v err=%v, want not healthy with %q", h.Healthy, h.Err, want)
			}
			if h.Models != nil {
				t.Errorf("unhealthy server lists models %+v", h.Models)
			}
		})
	}
}

func TestProbeAsksOllamaForEachOfferedModel(t *testing.T) {
	srv := replay.Ollama(t, replay.WithResponse("GET /v1/models", 200, "application/json",
		`{"object":"list","data":[{"id":"tiny:latest"},{"id":"big:latest"},{"id":"small:q4"}]}`))
	s := serverOf(srv)
	s.Models = []string{"tiny", "small:q4"}
	h := (&Client{}).Probe(t.Context(), s)
	want := []Model{{"tiny:latest", 4096}, {"small:q4", 4096}}
	if !h.Healthy || !reflect.DeepEqual(h.Models, want) {
		t.Fatalf("models = %+v, err %v; want %+v", h.Models, h.Err, want)
	}
	asked := map[string]bool{}
	for _, r := range srv.Requests() {
		if r.Route() == "POST /api/show" {
			asked[string(r.Body)] = true
		}
	}
	wantAsked := map[string]bool{`{"model":"tiny:latest"}`: true, `{"model":"small:q4"}`: true}
	if !reflect.DeepEqual(asked, wantAsked) {
		t.Errorf("asked /api/show for %v, want %v (never for a model the allow-list drops)", asked, wantAsked)
	}
}

func TestProbeSendsAPIKey(t *testing.T) {
	srv := replay.VLLM(t)
	s := serverOf(srv)
	s.APIKey = "sk-local"
	if h := (&Client{}).Probe(t.Context(), s); !h.Healthy {
		t.Fatal(h.Err)
	}
	for _, r := range srv.Requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer sk-local" {
			t.Errorf("%s sent Authorization %q", r.Route(), got)
		}
	}
}

func TestProbeTimeout(t *testing.T) {
	srv := replay.LlamaCpp(t, replay.WithHangAfter(-1, "GET /health"))
	c := &Client{ProbeTimeout: 200 * time.Millisecond}
	start := time.Now()
	h := c.Probe(t.Context(), serverOf(srv))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("probe took %v with a 200ms timeout", took)
	}
	want := "llama.cpp at " + srv.URL + " did not answer in time"
	if h.Healthy || h.Err == nil || h.Err.Error() != want {
		t.Fatalf("err = %v, want %q", h.Err, want)
	}
	if !errors.Is(h.Err, context.DeadlineExceeded) {
		t.Errorf("err %v does not wrap the deadline", h.Err)
	}
	waitGone(t, srv)
}

// TestDiscoverProbesInParallel uses servers that answer only once all of
// them have been asked: sequential probes would time out.
func TestDiscoverProbesInParallel(t *testing.T) {
	const n = 3
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	var once [n]sync.Once

	var servers []Server
	for i := range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				once[i].Do(arrived.Done)
				select {
				case <-all:
				case <-r.Context().Done():
					return
				}
				return
			}
			w.Write([]byte(`{"data":[{"id":"m` + string(rune('0'+i)) + `","max_model_len":8}]}`))
		}))
		t.Cleanup(srv.Close)
		servers = append(servers, Server{Kind: "vllm", URL: srv.URL})
	}
	healths := (&Client{ProbeTimeout: 5 * time.Second}).Discover(t.Context(), servers)
	for i, h := range healths {
		want := []Model{{"m" + string(rune('0'+i)), 8}}
		if !reflect.DeepEqual(h.Server, servers[i]) || !h.Healthy || !reflect.DeepEqual(h.Models, want) {
			t.Errorf("health %d = %+v, want %s healthy with %+v", i, h, servers[i].URL, want)
		}
	}
}

func TestDiscoverKeepsOrder(t *testing.T) {
	ollama := replay.Ollama(t)
	llama := replay.LlamaCpp(t)
	servers := []Server{
		serverOf(ollama),
		{Kind: "llamacpp", URL: closedURL(t)},
		serverOf(llama),
		{Kind: "vllm", URL: closedURL(t)},
	}
	for range 3 {
		healths := (&Client{}).Discover(t.Context(), servers)
		var got []string
		for _, h := range healths {
			got = append(got, h.Server.URL)
		}
		want := []string{servers[0].URL, servers[1].URL, servers[2].URL, servers[3].URL}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order = %v, want %v", got, want)
		}
		if !healths[0].Healthy || healths[1].Healthy || !healths[2].Healthy || healths[3].Healthy {
			t.Fatalf("healthy = %v %v %v %v", healths[0].Healthy, healths[1].Healthy, healths[2].Healthy, healths[3].Healthy)
		}
	}
}

func TestDiscoverDefaults(t *testing.T) {
	// Whatever runs on this machine, an empty list probes the defaults.
	c := &Client{ProbeTimeout: 300 * time.Millisecond}
	healths := c.Discover(t.Context(), nil)
	var got []Server
	for _, h := range healths {
		got = append(got, h.Server)
	}
	if !reflect.DeepEqual(got, DefaultServers()) {
		t.Errorf("probed %+v, want the defaults", got)
	}
}

func TestDefaultServers(t *testing.T) {
	want := []Server{
		{Kind: "vllm", URL: "http://localhost:8000"},
		{Kind: "llamacpp", URL: "http://localhost:8080"},
		{Kind: "llamacpp", URL: "http://localhost:9931"},
		{Kind: "lmstudio", URL: "http://localhost:1234"},
		{Kind: "ollama", URL: "http://localhost:11434"},
	}
	if got := DefaultServers(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultServers() = %+v", got)
	}
}
