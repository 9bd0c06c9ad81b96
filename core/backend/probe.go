package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"usepod.ai/agent/core/config"
)

// DefaultServers are the servers probed when none is configured
// (docs/protocol.md section 8), in routing preference order. llama.cpp is
// probed on both ports it has used by default.
func DefaultServers() []Server {
	return []Server{
		{Kind: config.KindVLLM, URL: "http://localhost:8000"},
		{Kind: config.KindLlamaCpp, URL: "http://localhost:8080"},
		{Kind: config.KindLlamaCpp, URL: "http://localhost:9931"},
		{Kind: config.KindLMStudio, URL: "http://localhost:1234"},
		{Kind: config.KindOllama, URL: "http://localhost:11434"},
	}
}

// adapter is what differs between kinds of servers when probing.
type adapter struct {
	// ready checks that the server is up and can take jobs; nil when
	// listing the models is the check.
	ready func(c *Client, ctx context.Context, s Server) error
	// list returns the models the server serves, with their context
	// windows where the list carries them.
	list func(c *Client, ctx context.Context, s Server) ([]Model, error)
	// contexts, if set, fills in context windows of the offered models
	// (models is already allow-listed). It never fails: a model whose
	// window it cannot learn keeps 0.
	contexts func(c *Client, ctx context.Context, s Server, models []Model)
	// chatOnly, if set, replaces contexts: it fills in context windows too,
	// and returns only the models that can chat (Ollama lists embedding
	// models beside chat models). A model it cannot tell about is kept.
	chatOnly func(c *Client, ctx context.Context, s Server, models []Model) []Model
}

var adapters = map[string]adapter{
	config.KindVLLM:     vllmAdapter,
	config.KindLlamaCpp: llamaCppAdapter,
	config.KindLMStudio: lmStudioAdapter,
	config.KindOllama:   ollamaAdapter,
}

// Probe checks whether s is ready and which models it serves. It blocks
// for at most the probe timeout (DefaultProbeTimeout unless the Client says
// otherwise), less if ctx ends first. When the server is not usable,
// Health.Err says why in plain words ("llama.cpp at http://localhost:8080
// is still loading its model"); a server that serves none of the models
// its allow-list names is not usable either.
func (c *Client) Probe(ctx context.Context, s Server) Health {
	timeout := c.ProbeTimeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	h := Health{Server: s}
	h.Models, h.Err = c.probe(ctx, s)
	h.Healthy = h.Err == nil
	if h.Err != nil {
		h.Models = nil
	}
	c.logger().Debug("probed backend", "kind", s.Kind, "url", s.URL,
		"healthy", h.Healthy, "models", len(h.Models), "err", h.Err, "took", time.Since(start))
	return h
}

func (c *Client) probe(ctx context.Context, s Server) ([]Model, error) {
	a, ok := adapters[s.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown backend kind %q (want vllm, llamacpp, lmstudio or ollama)", s.Kind)
	}
	if a.ready != nil {
		if err := a.ready(c, ctx, s); err != nil {
			return nil, err
		}
	}
	models, err := a.list(c, ctx, s)
	if err != nil {
		return nil, err
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("%s at %s serves no models", kindName(s.Kind), baseURL(s))
	}
	offered := allowed(s, models)
	if len(offered) == 0 {
		return nil, fmt.Errorf("none of the models %s at %s serves (%s) is in its allow-list (%s)",
			kindName(s.Kind), baseURL(s), strings.Join(modelIDs(models), ", "), strings.Join(s.Models, ", "))
	}
	if a.contexts != nil {
		a.contexts(c, ctx, s, offered)
	}
	if a.chatOnly != nil {
		chat := a.chatOnly(c, ctx, s, offered)
		if len(chat) == 0 {
			return nil, fmt.Errorf("%s at %s has only models that cannot chat (%s) — load a chat model",
				kindName(s.Kind), baseURL(s), strings.Join(modelIDs(offered), ", "))
		}
		offered = chat
	}
	return offered, nil
}

// allowed applies the server's allow-list. For Ollama an entry without a
// tag also matches the model's ":latest" tag ("llama3" allows
// "llama3:latest").
func allowed(s Server, models []Model) []Model {
	if len(s.Models) == 0 {
		return models
	}
	var out []Model
	for _, m := range models {
		if slices.Contains(s.Models, m.ID) ||
			(s.Kind == config.KindOllama && slices.Contains(s.Models, strings.TrimSuffix(m.ID, ":latest"))) {
			out = append(out, m)
		}
	}
	return out
}

func modelIDs(models []Model) []string {
	ids := make([]string, len(models))
	for i, m := range models {
		ids[i] = m.ID
	}
	return ids
}

// Discover probes servers in parallel, or DefaultServers when servers is
// empty (auto-detection), and returns their health in the order of the
// servers probed. It blocks until every probe is done, at most about one
// probe timeout.
func (c *Client) Discover(ctx context.Context, servers []Server) []Health {
	if len(servers) == 0 {
		servers = DefaultServers()
	}
	out := make([]Health, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { out[i] = c.Probe(ctx, s) })
	}
	wg.Wait()
	return out
}

// probeError is a probe failure told in plain words, keeping its cause for
// errors.Is.
type probeError struct {
	msg   string
	cause error
}

func (e *probeError) Error() string { return e.msg }
func (e *probeError) Unwrap() error { return e.cause }

// fetch sends one probe request and returns the status and (bounded) body.
// A failure to get an answer comes back as a probeError in plain words.
func (c *Client) fetch(ctx context.Context, s Server, method, path string, body []byte) (int, []byte, error) {
	req, err := newRequest(ctx, s, method, path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("bad URL %q for %s: %w", s.URL, kindName(s.Kind), err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, nil, c.unanswered(ctx, s, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	if err != nil {
		return 0, nil, c.unanswered(ctx, s, err)
	}
	return resp.StatusCode, b, nil
}

// unanswered explains a request that got no (complete) answer.
func (c *Client) unanswered(ctx context.Context, s Server, err error) error {
	var msg string
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		msg = fmt.Sprintf("%s at %s did not answer in time", kindName(s.Kind), baseURL(s))
	case ctx.Err() != nil:
		return ctx.Err()
	case refused(err):
		msg = notRunning(s)
	default:
		msg = fmt.Sprintf("cannot reach %s at %s: %s", kindName(s.Kind), baseURL(s), transportCause(err))
	}
	return &probeError{msg: msg, cause: err}
}

// badStatus explains a status a probe did not expect.
func badStatus(s Server, route string, status int, body []byte) error {
	name, u := kindName(s.Kind), baseURL(s)
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		if s.APIKey == "" {
			return fmt.Errorf("%s at %s wants an API key (HTTP %d on %s) — set it in this backend's settings", name, u, status, route)
		}
		return fmt.Errorf("%s at %s rejected the API key (HTTP %d on %s) — check it in this backend's settings", name, u, status, route)
	}
	return fmt.Errorf("%s at %s answered %s with HTTP %d: %s", name, u, route, status, errorMessage(body))
}

// getJSON GETs path and decodes a 200 answer into v.
func (c *Client) getJSON(ctx context.Context, s Server, path string, v any) error {
	status, body, err := c.fetch(ctx, s, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return badStatus(s, "GET "+path, status, body)
	}
	return decodeJSON(s, "GET "+path, body, v)
}

// decodeJSON decodes a probe answer, explaining one that is not what the
// kind of server sends.
func decodeJSON(s Server, route string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &probeError{
			msg: fmt.Sprintf("%s at %s answered %s with something unexpected — is this really %s?",
				kindName(s.Kind), baseURL(s), route, kindName(s.Kind)),
			cause: err,
		}
	}
	return nil
}
