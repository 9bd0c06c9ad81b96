package replay

import "testing"

// LlamaCpp starts a llama-server replay: the recorded /health, /v1/models,
// /props, a chat stream with include_usage and an Anthropic messages stream.
// Unknown routes answer 404. opts may override any route.
func LlamaCpp(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	return NewServer(tb, "llamacpp", map[string]string{
		"GET /health":    "llama.cpp/health.txt",
		"GET /v1/models": "llama.cpp/models.txt",
		"GET /props":     "llama.cpp/props.txt",
		RouteChat:        "llama.cpp/chat_stream_usage.txt",
		RouteMessages:    "llama.cpp/messages_stream.txt",
	}, opts...)
}

// Ollama starts an Ollama replay: the recorded GET /, /api/tags, /v1/models,
// /api/show (the same answer whatever model is asked for), a chat stream
// with include_usage and an Anthropic messages stream. Unknown routes answer
// 404. opts may override any route.
func Ollama(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	return NewServer(tb, "ollama", map[string]string{
		"GET /":          "ollama/root.txt",
		"GET /api/tags":  "ollama/api_tags.txt",
		"GET /v1/models": "ollama/models.txt",
		"POST /api/show": "ollama/api_show.txt",
		RouteChat:        "ollama/chat_stream_usage.txt",
		RouteMessages:    "ollama/messages_stream.txt",
	}, opts...)
}

// VLLM starts a vLLM stand-in serving one model "tiny" with a 4096-token
// context.
//
// No vLLM recording exists: /health and /v1/models are SYNTHESIZED from the
// facts in PROTOCOL.md section 8 (GET /health answers 200 with an empty body;
// the model list carries data[].max_model_len). The job routes replay the
// llama.cpp recordings, which have the same OpenAI and Anthropic stream shape.
// Use WithResponse("GET /health", 503, "", "") for a dead engine.
func VLLM(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	base := []Option{
		WithResponse("GET /health", 200, "", ""),
		WithResponse("GET /v1/models", 200, "application/json",
			`{"object":"list","data":[{"id":"tiny","object":"model","created":1795760000,`+
				`"owned_by":"vllm","root":"tiny","parent":null,"max_model_len":4096,"permission":[]}]}`),
	}
	return NewServer(tb, "vllm", map[string]string{
		RouteChat:     "llama.cpp/chat_stream_usage.txt",
		RouteMessages: "llama.cpp/messages_stream.txt",
	}, append(base, opts...)...)
}

// LMStudioUnknownRoute is the body the LMStudio stand-in answers unknown
// routes with (status 200).
const LMStudioUnknownRoute = `{"error":"Unexpected endpoint or method. (GET /health). Returning 200 anyway"}`

// LMStudio starts an LM Studio stand-in serving one loaded model "tiny" with
// a 4096-token context.
//
// No LM Studio recording exists: everything but the job routes is
// SYNTHESIZED from the facts in PROTOCOL.md section 8 (there is no /health;
// unknown routes answer 200 with an {"error": ...} body; GET /api/v0/models
// lists state and max_context_length). The job routes replay the llama.cpp
// recordings, which have the same OpenAI and Anthropic stream shape.
func LMStudio(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	base := []Option{
		WithFallback(200, "application/json", LMStudioUnknownRoute),
		WithResponse("GET /v1/models", 200, "application/json",
			`{"data":[{"id":"tiny","object":"model","owned_by":"organization_owner"}],"object":"list"}`),
		WithResponse("GET /api/v0/models", 200, "application/json",
			`{"data":[{"id":"tiny","object":"model","type":"llm","publisher":"local","arch":"llama",`+
				`"compatibility_type":"gguf","quantization":"F16","state":"loaded","max_context_length":4096}],"object":"list"}`),
	}
	return NewServer(tb, "lmstudio", map[string]string{
		RouteChat:     "llama.cpp/chat_stream_usage.txt",
		RouteMessages: "llama.cpp/messages_stream.txt",
	}, append(base, opts...)...)
}
