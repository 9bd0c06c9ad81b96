package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Ollama: GET / answers 200 "Ollama is running" (GET /api/tags 200 also
// counts). GET /v1/models lists the pulled models. The context window of
// each offered model is POST /api/show model_info["<arch>.context_length"],
// arch being model_info["general.architecture"]; asked for up to four
// models at a time.
var ollamaAdapter = adapter{
	ready: func(c *Client, ctx context.Context, s Server) error {
		status, body, err := c.fetch(ctx, s, http.MethodGet, "/", nil)
		if err != nil {
			return err
		}
		if status == http.StatusOK {
			return nil
		}
		if st, _, err := c.fetch(ctx, s, http.MethodGet, "/api/tags", nil); err == nil && st == http.StatusOK {
			return nil
		}
		return badStatus(s, "GET /", status, body)
	},
	list: func(c *Client, ctx context.Context, s Server) ([]Model, error) {
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := c.getJSON(ctx, s, "/v1/models", &list); err != nil {
			return nil, err
		}
		var models []Model
		for _, m := range list.Data {
			if m.ID != "" {
				models = append(models, Model{ID: m.ID})
			}
		}
		if len(models) == 0 {
			return nil, fmt.Errorf("Ollama at %s has no models — pull one with `ollama pull <model>`", baseURL(s))
		}
		return models, nil
	},
	contexts: func(c *Client, ctx context.Context, s Server, models []Model) {
		sem := make(chan struct{}, 4)
		var wg sync.WaitGroup
		for i := range models {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				n, err := c.ollamaContext(ctx, s, models[i].ID)
				if err != nil {
					c.logger().Debug("no Ollama context window", "url", s.URL, "model", models[i].ID, "err", err)
					return
				}
				models[i].ContextWindow = n
			})
		}
		wg.Wait()
	},
}

// ollamaContext asks POST /api/show for a model's context window.
func (c *Client) ollamaContext(ctx context.Context, s Server, model string) (int, error) {
	req, err := json.Marshal(map[string]string{"model": model})
	if err != nil {
		return 0, err
	}
	status, body, err := c.fetch(ctx, s, http.MethodPost, "/api/show", req)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, badStatus(s, "POST /api/show", status, body)
	}
	var show struct {
		ModelInfo map[string]json.RawMessage `json:"model_info"`
	}
	if err := decodeJSON(s, "POST /api/show", body, &show); err != nil {
		return 0, err
	}
	var arch string
	_ = json.Unmarshal(show.ModelInfo["general.architecture"], &arch)
	key := arch + ".context_length"
	if arch == "" {
		for k := range show.ModelInfo { // no architecture: the first context_length by name
			if strings.HasSuffix(k, ".context_length") && (key == ".context_length" || k < key) {
				key = k
			}
		}
	}
	var n int
	if err := json.Unmarshal(show.ModelInfo[key], &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("no %s in model_info", key)
	}
	return n, nil
}
