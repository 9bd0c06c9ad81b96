// Package backend talks to the local inference servers (vLLM, llama.cpp's
// llama-server, LM Studio, Ollama) over their OpenAI-compatible HTTP APIs:
// health, model lists with context windows, and streaming jobs whose bytes
// are relayed unchanged. docs/protocol.md section 8 is the contract (8.1:
// what a stream looks like, and how it fails).
package backend

import (
	"errors"
	"fmt"
)

// Format is the wire format of a job's request body.
type Format string

const (
	FormatOpenAI    Format = "openai"    // POST /v1/chat/completions
	FormatAnthropic Format = "anthropic" // POST /v1/messages
)

// Server is one configured (or auto-detected) inference server.
type Server struct {
	Kind   string   // config.KindVLLM, KindLlamaCpp, KindLMStudio, KindOllama
	URL    string   // base URL without a trailing slash, e.g. http://localhost:8080
	APIKey string   // optional; sent as Authorization: Bearer
	Models []string // optional allow-list; empty offers every model it serves
}

// Model is one model a server serves.
type Model struct {
	ID            string
	ContextWindow int // 0 when unknown
}

// Health is the result of probing one server.
type Health struct {
	Server  Server
	Healthy bool
	Err     error // why it is not healthy, in words a user understands
	Models  []Model
}

// Usage is the token count a backend reported in its stream. Zero when it
// reported none.
type Usage struct {
	Input  int64
	Output int64
}

// Result is what a finished (or failed) stream leaves behind.
type Result struct {
	Usage Usage
	// BytesRelayed counts the raw bytes handed to the chunk callback.
	BytesRelayed int64
}

// Error codes of job_error (docs/protocol.md section 5) a backend call can produce.
const (
	CodeUnreachable   = "backend_unreachable"
	CodeTimeout       = "backend_timeout"
	CodeAuthRejected  = "auth_rejected_by_backend"
	CodeInternal      = "internal"
	CodeModelNotFound = "model_not_loaded"
)

// Error is a failed backend call with its job_error code.
type Error struct {
	Code    string
	Message string // for the job_error message: plain words, with the backend's own text when it gave one
	Err     error  // the underlying cause, if any (e.g. context.DeadlineExceeded)
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Unwrap returns the underlying cause, so errors.Is sees through an Error.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the job_error code of err, "internal" when it carries none.
func CodeOf(err error) string {
	var be *Error
	if errors.As(err, &be) {
		return be.Code
	}
	return CodeInternal
}
