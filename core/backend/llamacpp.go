package backend

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// llama.cpp's llama-server: GET /health answers 200 {"status":"ok"} when
// ready and 503 "Loading model" while it loads. GET /v1/models lists the one
// model it serves (meta is null while loading; very old builds answer one
// bare object with an id).
//
// Context window: the running context per request, GET /props
// default_generation_settings.n_ctx, when /props answers; else the model
// list's meta.n_ctx (the same figure in current builds); else
// meta.n_ctx_train. The running context is preferred over the trained one
// because it is what the server enforces: a prompt over it is refused with
// 400 exceed_context_size_error, however large n_ctx_train is (the
// recordings: n_ctx 1024, n_ctx_train 4096).
var llamaCppAdapter = adapter{
	ready: func(c *Client, ctx context.Context, s Server) error {
		status, body, err := c.fetch(ctx, s, http.MethodGet, "/health", nil)
		if err != nil {
			return err
		}
		return llamaCppStatus(s, "GET /health", status, body)
	},
	list: func(c *Client, ctx context.Context, s Server) ([]Model, error) {
		status, body, err := c.fetch(ctx, s, http.MethodGet, "/v1/models", nil)
		if err != nil {
			return nil, err
		}
		if err := llamaCppStatus(s, "GET /v1/models", status, body); err != nil {
			return nil, err
		}
		var list struct {
			Data          []llamaCppModel `json:"data"`
			llamaCppModel                 // very old builds: one bare object
		}
		if err := decodeJSON(s, "GET /v1/models", body, &list); err != nil {
			return nil, err
		}
		if len(list.Data) == 0 && list.ID != "" {
			list.Data = []llamaCppModel{list.llamaCppModel}
		}
		var models []Model
		for _, m := range list.Data {
			if m.ID == "" {
				continue
			}
			model := Model{ID: m.ID}
			if m.Meta != nil {
				model.ContextWindow = m.Meta.NCtx
				if model.ContextWindow <= 0 {
					model.ContextWindow = max(m.Meta.NCtxTrain, 0)
				}
			}
			models = append(models, model)
		}
		return models, nil
	},
	contexts: func(c *Client, ctx context.Context, s Server, models []Model) {
		if len(models) != 1 {
			return // /props describes the one model a single-model server runs
		}
		var props struct {
			Settings struct {
				NCtx int `json:"n_ctx"`
			} `json:"default_generation_settings"`
		}
		if err := c.getJSON(ctx, s, "/props", &props); err != nil {
			c.logger().Debug("no llama.cpp /props, keeping the model list's context window", "url", s.URL, "err", err)
			return
		}
		if props.Settings.NCtx > 0 {
			models[0].ContextWindow = props.Settings.NCtx
		}
	},
}

type llamaCppModel struct {
	ID   string `json:"id"`
	Meta *struct {
		NCtx      int `json:"n_ctx"`
		NCtxTrain int `json:"n_ctx_train"`
	} `json:"meta"`
}

// llamaCppStatus explains a llama.cpp answer that is not 200.
func llamaCppStatus(s Server, route string, status int, body []byte) error {
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusServiceUnavailable && strings.Contains(strings.ToLower(errorMessage(body)), "loading model"):
		return fmt.Errorf("llama.cpp at %s is still loading its model", baseURL(s))
	case status == http.StatusServiceUnavailable:
		return fmt.Errorf("llama.cpp at %s is not ready (HTTP 503 on %s: %s)", baseURL(s), route, errorMessage(body))
	}
	return badStatus(s, route, status, body)
}
