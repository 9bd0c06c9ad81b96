package backend

import (
	"context"
	"fmt"
	"net/http"
)

// vLLM: GET /health answers 200 with an empty body once the engine runs and
// 503 when the engine is dead (while the model loads, the port refuses
// connections). GET /v1/models carries each model's max_model_len.
var vllmAdapter = adapter{
	ready: func(c *Client, ctx context.Context, s Server) error {
		status, body, err := c.fetch(ctx, s, http.MethodGet, "/health", nil)
		switch {
		case err != nil:
			return err
		case status == http.StatusServiceUnavailable:
			return fmt.Errorf("vLLM at %s answers but its engine has stopped (HTTP 503 on /health) — restart vLLM", baseURL(s))
		case status != http.StatusOK:
			return badStatus(s, "GET /health", status, body)
		}
		return nil
	},
	list: func(c *Client, ctx context.Context, s Server) ([]Model, error) {
		var list struct {
			Data []struct {
				ID          string `json:"id"`
				MaxModelLen int    `json:"max_model_len"`
			} `json:"data"`
		}
		if err := c.getJSON(ctx, s, "/v1/models", &list); err != nil {
			return nil, err
		}
		var models []Model
		for _, m := range list.Data {
			if m.ID != "" {
				models = append(models, Model{ID: m.ID, ContextWindow: max(m.MaxModelLen, 0)})
			}
		}
		return models, nil
	},
}
