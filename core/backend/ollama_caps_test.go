package backend

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"usepod.ai/agent/internal/testrig/replay"
)

// embeddingShow is the recorded POST /api/show answer of a chat model with
// its capabilities changed to those of an embedding model. No recording of
// an embedding model's /api/show exists; Ollama's documented answer for one
// (e.g. nomic-embed-text) has the same shape with "capabilities":["embedding"].
func embeddingShow(t *testing.T) string {
	t.Helper()
	body := string(replay.MustParse(t, "ollama/api_show").Body)
	const chat = `"capabilities":["completion"]`
	if !strings.Contains(body, chat) {
		t.Fatalf("the recorded /api/show no longer carries %s", chat)
	}
	return strings.Replace(body, chat, `"capabilities":["embedding"]`, 1)
}

func TestProbeDropsOllamaModelsThatCannotChat(t *testing.T) {
	t.Run("only an embedding model", func(t *testing.T) {
		srv := replay.Ollama(t, replay.WithResponse("POST /api/show", 200, "application/json; charset=utf-8", embeddingShow(t)))
		h := (&Client{}).Probe(t.Context(), serverOf(srv))
		want := "Ollama at " + srv.URL + " has only models that cannot chat (tiny:latest)"
		if h.Healthy || h.Err == nil || !strings.Contains(h.Err.Error(), want) {
			t.Fatalf("healthy=%v models=%+v err=%v; want not healthy with %q", h.Healthy, h.Models, h.Err, want)
		}
	})
	t.Run("a chat model and an embedding model", func(t *testing.T) {
		rec := replay.Ollama(t, replay.WithResponse("GET /v1/models", 200, "application/json",
			`{"object":"list","data":[{"id":"tiny:latest"},{"id":"nomic-embed-text:latest"}]}`))
		embed := embeddingShow(t)
		// /api/show answers per model: the replay server answers a route
		// the same whatever the body, so the embedding model is told apart here.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if r.URL.Path == "/api/show" && bytes.Contains(body, []byte("nomic-embed-text")) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				io.WriteString(w, embed)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			rec.Config.Handler.ServeHTTP(w, r)
		}))
		defer srv.Close()
		h := (&Client{}).Probe(t.Context(), Server{Kind: "ollama", URL: srv.URL})
		want := []Model{{"tiny:latest", 4096}}
		if !h.Healthy || !reflect.DeepEqual(h.Models, want) {
			t.Fatalf("healthy=%v models=%+v err=%v; want %+v", h.Healthy, h.Models, h.Err, want)
		}
	})
	t.Run("capabilities unknown: kept", func(t *testing.T) {
		srv := replay.Ollama(t, replay.WithRoute("POST /api/show", "api_show_unknown"))
		h := (&Client{}).Probe(t.Context(), serverOf(srv))
		if !h.Healthy || len(h.Models) != 1 {
			t.Fatalf("healthy=%v models=%+v err=%v; want the model kept", h.Healthy, h.Models, h.Err)
		}
	})
}
