package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/internal/neterr"
)

// Client talks to inference servers. The zero value is usable: it uses
// http.DefaultClient and logs nothing. A Client is safe for concurrent use.
type Client struct {
	// HTTP sends every request. It should have no Timeout: streams last as
	// long as a job, and every call is bounded by its context instead.
	HTTP *http.Client
	// Log receives debug lines, with component=backend added by the
	// Client (give it a logger without it); nil logs nothing.
	Log *slog.Logger
	// ProbeTimeout bounds each Probe; 0 means DefaultProbeTimeout.
	ProbeTimeout time.Duration
}

// DefaultProbeTimeout bounds one probe of one server, so that discovery
// never hangs on a server that accepts connections but does not answer.
const DefaultProbeTimeout = 3 * time.Second

// maxProbeBody bounds what a probe reads of one answer (a model list of a
// server with many models is a few hundred KiB at most).
const maxProbeBody = 4 << 20

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// logger is Log with the component attribute and args added.
func (c *Client) logger(args ...any) *slog.Logger {
	if c.Log == nil {
		return discard
	}
	return c.Log.With(append([]any{"component", "backend"}, args...)...)
}

var discard = slog.New(slog.DiscardHandler)

// baseURL is the server's URL without a trailing slash.
func baseURL(s Server) string { return strings.TrimRight(s.URL, "/") }

// kindInfo is what the messages say about a kind of server.
type kindInfo struct {
	name string // "llama.cpp"
	hint string // what to check when nothing answers
}

var kinds = map[string]kindInfo{
	config.KindVLLM:     {"vLLM", "is vLLM running? (it refuses connections while it loads a model)"},
	config.KindLlamaCpp: {"llama.cpp", "is llama-server running?"},
	config.KindLMStudio: {"LM Studio", "is LM Studio running with its local server started?"},
	config.KindOllama:   {"Ollama", "is Ollama running?"},
}

// kindName is the product name of a kind, for messages.
func kindName(kind string) string {
	if k, ok := kinds[kind]; ok {
		return k.name
	}
	return "the inference server"
}

// newRequest builds a request to the server with its API key.
func newRequest(ctx context.Context, s Server, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL(s)+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.APIKey)
	}
	return req, nil
}

// refused reports whether err says that nothing listens at the address.
func refused(err error) bool { return neterr.Refused(err) } // WSAECONNREFUSED too, on Windows

// notRunning is the message for a server nothing answers for.
func notRunning(s Server) string {
	hint := "is the inference server running?"
	if k, ok := kinds[s.Kind]; ok {
		hint = k.hint
	}
	return fmt.Sprintf("nothing answers at %s — %s", baseURL(s), hint)
}

// transportCause is the short reason of a failed request: the network
// error without the "Post \"url\":" prefix the url.Error adds.
func transportCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
