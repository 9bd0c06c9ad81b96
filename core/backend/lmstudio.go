package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// LM Studio has no health route and answers unknown routes with 200 and
// {"error": ...}, so it is ready when GET /v1/models answers 200 with a
// body that carries no error. The list holds every downloaded model when
// just-in-time loading is on; all are offered, since LM Studio loads one on
// demand. Context windows come from GET /api/v0/models max_context_length.
var lmStudioAdapter = adapter{
	list: func(c *Client, ctx context.Context, s Server) ([]Model, error) {
		status, body, err := c.fetch(ctx, s, http.MethodGet, "/v1/models", nil)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, badStatus(s, "GET /v1/models", status, body)
		}
		var list lmStudioList
		if err := decodeJSON(s, "GET /v1/models", body, &list); err != nil {
			return nil, err
		}
		if isSet(list.Error) {
			return nil, fmt.Errorf("LM Studio at %s is not ready: GET /v1/models answered with an error (%s) — is its local server started?",
				baseURL(s), errorMessage(list.Error))
		}
		var models []Model
		for _, m := range list.Data {
			if m.ID != "" {
				models = append(models, Model{ID: m.ID})
			}
		}
		return models, nil
	},
	contexts: func(c *Client, ctx context.Context, s Server, models []Model) {
		var list lmStudioList
		if err := c.getJSON(ctx, s, "/api/v0/models", &list); err != nil || isSet(list.Error) {
			c.logger().Debug("no LM Studio /api/v0/models, context windows unknown", "url", s.URL, "err", err)
			return
		}
		windows := make(map[string]int, len(list.Data))
		for _, m := range list.Data {
			windows[m.ID] = m.MaxContextLength
		}
		for i := range models {
			models[i].ContextWindow = max(windows[models[i].ID], 0)
		}
	},
}

type lmStudioList struct {
	Data []struct {
		ID               string `json:"id"`
		MaxContextLength int    `json:"max_context_length"` // /api/v0/models only
	} `json:"data"`
	Error json.RawMessage `json:"error"` // LM Studio's answer to a route it does not know
}
