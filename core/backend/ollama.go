package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Ollama: GET / answers 200 "Ollama is running" (GET /api/tags 200 also
// counts). GET /v1/models lists the pulled models. The context window of
// each offered model is POST /api/show model_info["<arch>.context_length"],
// arch being model_info["general.architecture"]; asked for up to four
// models at a time. The same answer's "capabilities" tells an embedding
// model (["embedding"]), which cannot chat and is not offered.
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
			//lint:ignore ST1005 it starts with the server's product name, and the dashboard shows it as is
			return nil, fmt.Errorf("Ollama at %s has no models — pull one with `ollama pull <model>`", baseURL(s))
		}
		return models, nil
	},
	chatOnly: func(c *Client, ctx context.Context, s Server, models []Model) []Model {
		canChat := make([]bool, len(models))
		sem := make(chan struct{}, 4)
		var wg sync.WaitGroup
		for i := range models {
			canChat[i] = true
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				show, err := c.ollamaShow(ctx, s, models[i].ID)
				if err != nil {
					c.logger().Debug("no Ollama model details", "url", s.URL, "model", models[i].ID, "err", err)
					return
				}
				canChat[i] = show.canChat()
				n, err := show.contextWindow()
				if err != nil {
					c.logger().Debug("no Ollama context window", "url", s.URL, "model", models[i].ID, "err", err)
					return
				}
				models[i].ContextWindow = n
			})
		}
		wg.Wait()
		var chat []Model
		for i, m := range models {
			if canChat[i] {
				chat = append(chat, m)
			} else {
				c.logger().Debug("not offering an Ollama model that cannot chat", "url", s.URL, "model", m.ID)
			}
		}
		return chat
	},
}

// ollamaShowAnswer is the part of POST /api/show the agent reads.
type ollamaShowAnswer struct {
	ModelInfo map[string]json.RawMessage `json:"model_info"`
	// Capabilities is ["completion"] for a chat model, ["embedding"] for
	// an embedding model; absent on Ollama before 0.6.4.
	Capabilities []string `json:"capabilities"`
}

// canChat is false only when Ollama lists the capabilities and
// "completion" is not among them.
func (a ollamaShowAnswer) canChat() bool {
	return a.Capabilities == nil || slices.Contains(a.Capabilities, "completion")
}

// ollamaShow asks POST /api/show about a model.
func (c *Client) ollamaShow(ctx context.Context, s Server, model string) (ollamaShowAnswer, error) {
	var show ollamaShowAnswer
	req, err := json.Marshal(map[string]string{"model": model})
	if err != nil {
		return show, err
	}
	status, body, err := c.fetch(ctx, s, http.MethodPost, "/api/show", req)
	if err != nil {
		return show, err
	}
	if status != http.StatusOK {
		return show, badStatus(s, "POST /api/show", status, body)
	}
	err = decodeJSON(s, "POST /api/show", body, &show)
	return show, err
}

// contextWindow reads model_info["<arch>.context_length"].
func (a ollamaShowAnswer) contextWindow() (int, error) {
	var arch string
	_ = json.Unmarshal(a.ModelInfo["general.architecture"], &arch)
	key := arch + ".context_length"
	if arch == "" {
		for k := range a.ModelInfo { // no architecture: the first context_length by name
			if strings.HasSuffix(k, ".context_length") && (key == ".context_length" || k < key) {
				key = k
			}
		}
	}
	var n int
	if err := json.Unmarshal(a.ModelInfo[key], &n); err != nil || n <= 0 {
		return 0, fmt.Errorf("no %s in model_info", key)
	}
	return n, nil
}
