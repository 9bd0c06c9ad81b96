package backend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/internal/testrig/replay"
)

// relay collects what Stream hands to onChunk, copying each chunk since
// the slice is reused.
type relay struct {
	chunks [][]byte
	all    []byte
}

func (r *relay) onChunk(p []byte) error {
	r.chunks = append(r.chunks, bytes.Clone(p))
	r.all = append(r.all, p...)
	return nil
}

func serverOf(srv *replay.Server) Server { return Server{Kind: srv.Kind, URL: srv.URL} }

func startFor(t *testing.T, name string, opts ...replay.Option) *replay.Server {
	t.Helper()
	if strings.HasPrefix(name, "ollama/") {
		return replay.Ollama(t, opts...)
	}
	return replay.LlamaCpp(t, opts...)
}

// TestStreamRecordings replays every recorded answer of the two job routes
// through Stream and checks the outcome, the usage, and that the bytes
// relayed are the recorded body, byte for byte.
func TestStreamRecordings(t *testing.T) {
	const (
		unfinished = "the inference server stopped mid-answer without finishing"
		midError   = "the inference server reported an error mid-answer: " + pegError
		ctxLlama   = "HTTP 400: request (8011 tokens) exceeds the available context size (1024 tokens), try increasing it"
		noModel    = "HTTP 404: model 'no-such-model' not found"
	)
	tests := []struct {
		name      string
		apiKey    string
		wantUsage Usage
		wantCode  string // "" for success
		wantMsg   string // the error message contains it
	}{
		// Streams that finish.
		{"llama.cpp/chat_stream_usage", "", Usage{17, 8}, "", ""},
		{"llama.cpp/chat_stream", "", Usage{}, "", ""},
		{"llama.cpp/chat_stream_headers", "", Usage{}, "", ""},
		{"llama.cpp/unknown_model_stream", "", Usage{}, "", ""},
		{"llama.cpp/messages_stream", "", Usage{17, 8}, "", ""}, // 1 input + 16 cache_read
		{"ollama/chat_stream_usage", "", Usage{17, 8}, "", ""},
		{"ollama/chat_stream", "", Usage{}, "", ""},
		{"ollama/chat_stream_headers", "", Usage{}, "", ""},
		{"ollama/ctx_exceeded_stream", "", Usage{}, "", ""},  // silently truncated, still a stream
		{"ollama/messages_stream", "", Usage{17, 8}, "", ""}, // input revised 6 -> 17

		// Streams that fail in the middle: every byte relayed, then internal.
		{"llama.cpp/chat_stream_midstream_error", "", Usage{}, CodeInternal, midError},
		{"llama.cpp/messages_stream_midstream_error", "", Usage{17, 0}, CodeInternal, midError},
		{"ollama/chat_stream_parse_failure", "", Usage{}, CodeInternal, unfinished},
		{"ollama/messages_stream_parse_failure", "", Usage{6, 0}, CodeInternal, unfinished},

		// A 200 that is not a stream never says it finished.
		{"llama.cpp/chat", "", Usage{}, CodeInternal, unfinished},
		{"llama.cpp/messages", "", Usage{}, CodeInternal, unfinished},
		{"llama.cpp/unknown_model", "", Usage{}, CodeInternal, unfinished},
		{"llama.cpp/apikey_chat_goodkey", "testkey", Usage{}, CodeInternal, unfinished},
		{"ollama/chat", "", Usage{}, CodeInternal, unfinished},
		{"ollama/chat_parse_failure", "", Usage{}, CodeInternal, unfinished},
		{"ollama/ctx_exceeded", "", Usage{}, CodeInternal, unfinished},
		{"ollama/messages", "", Usage{}, CodeInternal, unfinished},
		{"ollama/messages_parse_failure", "", Usage{}, CodeInternal, unfinished},

		// Errors before the stream: nothing relayed.
		{"llama.cpp/apikey_chat_wrongkey", "wrong", Usage{}, CodeAuthRejected, "HTTP 401: Invalid API Key"},
		{"llama.cpp/apikey_messages_nokey", "", Usage{}, CodeAuthRejected, "HTTP 401: Invalid API Key"},
		{"llama.cpp/ctx_exceeded", "", Usage{}, CodeInternal, ctxLlama},
		{"llama.cpp/ctx_exceeded_stream", "", Usage{}, CodeInternal, ctxLlama},
		{"llama.cpp/malformed_json", "", Usage{}, CodeInternal, "HTTP 500: [json.exception.parse_error.101] parse error at line 1, column 59"},
		{"llama.cpp/chat_parse_error", "", Usage{}, CodeInternal, "HTTP 500: " + pegError},
		{"llama.cpp/messages_parse_error", "", Usage{}, CodeInternal, "HTTP 500: " + pegError},
		{"ollama/malformed_json", "", Usage{}, CodeInternal, "HTTP 400: unexpected EOF"},
		{"ollama/unknown_model", "", Usage{}, CodeInternal, noModel},
		{"ollama/unknown_model_stream", "", Usage{}, CodeInternal, noModel},
	}

	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.name+".txt"] = true
		t.Run(tt.name, func(t *testing.T) {
			rec := replay.MustParse(t, tt.name)
			format := formatOf(rec)
			srv := startFor(t, tt.name, replay.WithRoute(rec.Route(), tt.name))
			s := serverOf(srv)
			s.APIKey = tt.apiKey

			body, err := PrepareBody(format, "tiny", rec.RequestBody)
			if err != nil {
				body = rec.RequestBody // malformed_json: send it as recorded
			}
			var r relay
			c := &Client{}
			res, err := c.Stream(t.Context(), s, format, body, r.onChunk)

			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
			} else {
				var be *Error
				if !errors.As(err, &be) || be.Code != tt.wantCode || !strings.Contains(be.Message, tt.wantMsg) {
					t.Fatalf("err = %v, want code %s with %q", err, tt.wantCode, tt.wantMsg)
				}
			}
			if res.Usage != tt.wantUsage {
				t.Errorf("usage = %+v, want %+v", res.Usage, tt.wantUsage)
			}

			ok := rec.Status >= 200 && rec.Status <= 299
			switch {
			case ok && !bytes.Equal(r.all, rec.Body):
				t.Errorf("relayed %d bytes that differ from the %d recorded", len(r.all), len(rec.Body))
			case !ok && len(r.all) != 0:
				t.Errorf("relayed %d bytes of an HTTP %d answer", len(r.all), rec.Status)
			}
			if res.BytesRelayed != int64(len(r.all)) {
				t.Errorf("BytesRelayed = %d, chunks held %d", res.BytesRelayed, len(r.all))
			}

			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("server got %d requests", len(reqs))
			}
			got := reqs[0]
			if got.Route() != "POST "+format.Path() || !bytes.Equal(got.Body, body) {
				t.Errorf("server got %s %s", got.Route(), got.Body)
			}
			if ct, acc := got.Header.Get("Content-Type"), got.Header.Get("Accept"); ct != "application/json" || acc != "text/event-stream" {
				t.Errorf("Content-Type %q, Accept %q", ct, acc)
			}
			wantAuth := ""
			if tt.apiKey != "" {
				wantAuth = "Bearer " + tt.apiKey
			}
			if a := got.Header.Get("Authorization"); a != wantAuth {
				t.Errorf("Authorization = %q, want %q", a, wantAuth)
			}
		})
	}

	// Every recording of a job route must be in the table.
	for _, name := range replay.Names() {
		rec := replay.MustParse(t, name)
		if rec.Path == "/v1/chat/completions" || rec.Path == "/v1/messages" {
			if !covered[name] {
				t.Errorf("recording %s has no case in TestStreamRecordings", name)
			}
		}
	}
}

func TestStream404OnMessages(t *testing.T) {
	tests := []struct {
		name     string
		opt      replay.Option
		want     string
		mentions bool // the message is about Anthropic support
	}{
		{"route missing", replay.WithoutRoute(replay.RouteMessages),
			"HTTP 404 on /v1/messages: llama.cpp at", true},
		{"vLLM-style not found", replay.WithResponse(replay.RouteMessages, 404, "application/json", `{"detail":"Not Found"}`),
			"lacks Anthropic (/v1/messages) support — upgrade it", true},
		{"unknown model is not a missing route", replay.WithRoute(replay.RouteMessages, "ollama/unknown_model"),
			"HTTP 404: model 'no-such-model' not found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := replay.LlamaCpp(t, tt.opt)
			var r relay
			_, err := (&Client{}).Stream(t.Context(), serverOf(srv), FormatAnthropic, []byte(`{}`), r.onChunk)
			var be *Error
			if !errors.As(err, &be) || be.Code != CodeInternal || !strings.Contains(be.Message, tt.want) {
				t.Fatalf("err = %v, want internal with %q", err, tt.want)
			}
			if got := strings.Contains(be.Message, "Anthropic"); got != tt.mentions {
				t.Errorf("mentions Anthropic support = %v, want %v: %s", got, tt.mentions, be.Message)
			}
		})
	}
}

// oneByteTransport hands the response body out a byte per read.
type oneByteTransport struct{}

func (oneByteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		resp.Body = oneByteBody{resp.Body}
	}
	return resp, err
}

type oneByteBody struct{ io.ReadCloser }

func (b oneByteBody) Read(p []byte) (int, error) { return b.ReadCloser.Read(p[:min(len(p), 1)]) }

func TestStreamOneByteReads(t *testing.T) {
	tests := []struct {
		name string
		want Usage
	}{
		{"llama.cpp/chat_stream_usage", Usage{17, 8}},
		{"llama.cpp/messages_stream", Usage{17, 8}},
		{"ollama/chat_stream_usage", Usage{17, 8}},
		{"ollama/messages_stream", Usage{17, 8}},
	}
	c := &Client{HTTP: &http.Client{Transport: oneByteTransport{}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := replay.MustParse(t, tt.name)
			srv := startFor(t, tt.name, replay.WithRoute(rec.Route(), tt.name))
			var r relay
			res, err := c.Stream(t.Context(), serverOf(srv), formatOf(rec), []byte(`{}`), r.onChunk)
			if err != nil {
				t.Fatal(err)
			}
			if res.Usage != tt.want || len(r.chunks) != len(rec.Body) || !bytes.Equal(r.all, rec.Body) {
				t.Errorf("usage %+v in %d chunks, want %+v in %d one-byte chunks", res.Usage, len(r.chunks), tt.want, len(rec.Body))
			}
		})
	}
}

func TestStreamRelaysAsItArrives(t *testing.T) {
	const pace = 40 * time.Millisecond
	srv := replay.Ollama(t, replay.WithPacing(pace))
	rec := replay.MustParse(t, "ollama/chat_stream_usage")
	events := bytes.Count(rec.Body, []byte("\n\n"))

	var r relay
	var first time.Time
	res, err := (&Client{}).Stream(t.Context(), serverOf(srv), FormatOpenAI, []byte(`{}`), func(p []byte) error {
		if first.IsZero() {
			first = time.Now()
		}
		return r.onChunk(p)
	})
	end := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.all, rec.Body) || res.Usage != (Usage{17, 8}) {
		t.Fatalf("relayed %d bytes, usage %+v", len(r.all), res.Usage)
	}
	// The first event must be relayed when it arrives, not when the
	// stream ends (events-1 pacing delays later).
	if early := end.Sub(first); early < time.Duration(events-2)*pace {
		t.Errorf("first chunk relayed only %v before the end (%d chunks): not streamed", early, len(r.chunks))
	}
}

func TestStreamDeadline(t *testing.T) {
	tests := []struct {
		name      string
		hangAfter int
	}{
		{"before the answer", -1},
		{"mid-answer", 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := replay.LlamaCpp(t, replay.WithHangAfter(tt.hangAfter))
			ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
			defer cancel()
			var r relay
			res, err := (&Client{}).Stream(ctx, serverOf(srv), FormatOpenAI, []byte(`{}`), r.onChunk)
			if CodeOf(err) != CodeTimeout || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want %s wrapping the deadline", err, CodeTimeout)
			}
			if want := int64(max(tt.hangAfter, 0)); res.BytesRelayed != want || int64(len(r.all)) != want {
				t.Errorf("relayed %d (%d held), want %d", res.BytesRelayed, len(r.all), want)
			}
			waitGone(t, srv)
		})
	}
}

func waitGone(t *testing.T, srv *replay.Server) {
	t.Helper()
	select {
	case <-srv.ClientGone():
	case <-time.After(5 * time.Second):
		t.Fatal("the server never saw the request end")
	}
}

func TestStreamCancel(t *testing.T) {
	tests := []struct {
		name      string
		hangAfter int
	}{
		{"before the answer", -1},
		{"mid-answer", 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := replay.Ollama(t, replay.WithHangAfter(tt.hangAfter))
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.hangAfter < 0 {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			var r relay
			res, err := (&Client{}).Stream(ctx, serverOf(srv), FormatAnthropic, []byte(`{}`), func(p []byte) error {
				r.onChunk(p)
				if len(r.all) == tt.hangAfter {
					cancel() // like a job_cancel arriving mid-stream
				}
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if want := int64(max(tt.hangAfter, 0)); res.BytesRelayed != want {
				t.Errorf("relayed %d, want %d", res.BytesRelayed, want)
			}
			waitGone(t, srv)
		})
	}
}

func TestStreamOnChunkErrorAborts(t *testing.T) {
	const pace = 50 * time.Millisecond
	srv := replay.LlamaCpp(t, replay.WithPacing(pace))
	errStop := errors.New("coordinator gone")
	calls := 0
	start := time.Now()
	res, err := (&Client{}).Stream(t.Context(), serverOf(srv), FormatOpenAI, []byte(`{}`), func(p []byte) error {
		calls++
		return errStop
	})
	if err != errStop {
		t.Fatalf("err = %v, want the callback's error itself", err)
	}
	if calls != 1 || res.BytesRelayed == 0 {
		t.Errorf("%d calls, %d bytes relayed; want 1 call", calls, res.BytesRelayed)
	}
	if took := time.Since(start); took > 5*pace {
		t.Errorf("Stream took %v after the callback failed", took)
	}
	waitGone(t, srv)
}

func TestStreamConnectionDies(t *testing.T) {
	srv := replay.LlamaCpp(t, replay.WithDieAfter(400))
	rec := replay.MustParse(t, "llama.cpp/messages_stream")
	var r relay
	res, err := (&Client{}).Stream(t.Context(), serverOf(srv), FormatAnthropic, []byte(`{}`), r.onChunk)
	var be *Error
	if !errors.As(err, &be) || be.Code != CodeUnreachable || !strings.Contains(be.Message, "broke mid-answer") {
		t.Fatalf("err = %v, want %s mid-answer", err, CodeUnreachable)
	}
	if !bytes.Equal(r.all, rec.Body[:400]) || res.BytesRelayed != 400 {
		t.Errorf("relayed %d bytes, want the recording's first 400", res.BytesRelayed)
	}
	if res.Usage != (Usage{17, 0}) { // message_start was in those bytes
		t.Errorf("usage = %+v", res.Usage)
	}
}

// closedURL is the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func TestStreamUnreachable(t *testing.T) {
	s := Server{Kind: "llamacpp", URL: closedURL(t)}
	res, err := (&Client{}).Stream(t.Context(), s, FormatOpenAI, []byte(`{}`), func([]byte) error {
		t.Error("onChunk called")
		return nil
	})
	var be *Error
	if !errors.As(err, &be) || be.Code != CodeUnreachable {
		t.Fatalf("err = %v, want %s", err, CodeUnreachable)
	}
	want := "nothing answers at " + s.URL + " — is llama-server running?"
	if be.Message != want {
		t.Errorf("message = %q, want %q", be.Message, want)
	}
	if res != (Result{}) {
		t.Errorf("result = %+v", res)
	}
}

func TestStreamUnknownFormat(t *testing.T) {
	srv := replay.LlamaCpp(t)
	_, err := (&Client{}).Stream(t.Context(), serverOf(srv), Format("grpc"), []byte(`{}`), func([]byte) error { return nil })
	if CodeOf(err) != CodeInternal || !strings.Contains(err.Error(), `"grpc"`) {
		t.Errorf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("sent %d requests", n)
	}
}
