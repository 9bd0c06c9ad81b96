package backend

import (
	"errors"
	"reflect"
	"testing"
)

func TestRoute(t *testing.T) {
	vllm := Server{Kind: "vllm", URL: "http://localhost:8000"}
	llama := Server{Kind: "llamacpp", URL: "http://localhost:8080"}
	llama2 := Server{Kind: "llamacpp", URL: "http://localhost:9931"}
	lms := Server{Kind: "lmstudio", URL: "http://localhost:1234"}
	ollama := Server{Kind: "ollama", URL: "http://localhost:11434"}
	odd := Server{Kind: "tgi", URL: "http://localhost:3000"}
	healthy := func(s Server, ids ...string) Health {
		h := Health{Server: s, Healthy: true}
		for _, id := range ids {
			h.Models = append(h.Models, Model{ID: id, ContextWindow: len(s.URL)})
		}
		return h
	}
	to := func(s Server, id string) Target {
		return Target{Server: s, Model: Model{ID: id, ContextWindow: len(s.URL)}}
	}

	tests := []struct {
		name    string
		healths []Health
		want    map[string]Target
	}{
		{"nothing", nil, map[string]Target{}},
		{"one server", []Health{healthy(ollama, "a", "b")},
			map[string]Target{"a": to(ollama, "a"), "b": to(ollama, "b")}},
		{"vllm beats everyone, whatever the order",
			[]Health{healthy(ollama, "m"), healthy(lms, "m"), healthy(llama, "m"), healthy(vllm, "m")},
			map[string]Target{"m": to(vllm, "m")}},
		{"llamacpp beats lmstudio and ollama",
			[]Health{healthy(ollama, "m"), healthy(llama, "m"), healthy(lms, "m")},
			map[string]Target{"m": to(llama, "m")}},
		{"lmstudio beats ollama",
			[]Health{healthy(ollama, "m"), healthy(lms, "m")},
			map[string]Target{"m": to(lms, "m")}},
		{"unknown kind comes last",
			[]Health{healthy(odd, "m"), healthy(ollama, "m")},
			map[string]Target{"m": to(ollama, "m")}},
		{"same kind: the first listed wins",
			[]Health{healthy(llama2, "m"), healthy(llama, "m")},
			map[string]Target{"m": to(llama2, "m")}},
		{"unhealthy servers take no part",
			[]Health{{Server: vllm, Healthy: false, Err: errors.New("down"), Models: []Model{{ID: "m"}}}, healthy(ollama, "m")},
			map[string]Target{"m": to(ollama, "m")}},
		{"different models from different servers",
			[]Health{healthy(vllm, "big"), healthy(ollama, "small", "big")},
			map[string]Target{"big": to(vllm, "big"), "small": to(ollama, "small")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Route(tt.healths); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Route() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
