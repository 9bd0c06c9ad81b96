package backend

import (
	"bytes"
	"strings"
	"testing"

	"usepod.ai/agent/internal/testrig/replay"
)

// scanResult is what a scanner learned, comparable.
type scanResult struct {
	Usage   Usage
	Done    bool
	Failed  bool
	ErrText string
}

func resultOf(s *sseScanner) scanResult {
	return scanResult{Usage: s.usage.total(), Done: s.done, Failed: s.failed, ErrText: s.errText}
}

// scan feeds pieces in order and finishes.
func scan(format Format, pieces ...[]byte) (scanResult, *sseScanner) {
	s := newSSEScanner(format)
	for _, p := range pieces {
		s.feed(p)
	}
	s.finish()
	return resultOf(s), s
}

func formatOf(rec replay.Recording) Format {
	if rec.Path == "/v1/messages" {
		return FormatAnthropic
	}
	return FormatOpenAI
}

const pegError = "The model produced output that does not match the expected peg-native format"

// TestSSEScannerRecordings checks what the scanner learns from each real
// stream, and that it learns the same however the bytes are split: in one
// piece, a byte at a time, and cut in two at every possible byte.
func TestSSEScannerRecordings(t *testing.T) {
	tests := []struct {
		name    string
		want    scanResult
		decodes int // JSON decodes the fast path may do
	}{
		{"llama.cpp/chat_stream_usage", scanResult{Usage: Usage{17, 8}, Done: true}, 1},
		{"llama.cpp/chat_stream", scanResult{Done: true}, 0},
		{"llama.cpp/chat_stream_headers", scanResult{Done: true}, 0},
		{"llama.cpp/unknown_model_stream", scanResult{Done: true}, 0},
		{"llama.cpp/chat_stream_midstream_error", scanResult{Failed: true, ErrText: pegError}, 1},
		{"llama.cpp/messages_stream", scanResult{Usage: Usage{17, 8}, Done: true}, 3},
		{"llama.cpp/messages_stream_midstream_error", scanResult{Usage: Usage{17, 0}, Failed: true, ErrText: pegError}, 1},
		{"ollama/chat_stream_usage", scanResult{Usage: Usage{17, 8}, Done: true}, 1},
		{"ollama/chat_stream", scanResult{Done: true}, 0},
		{"ollama/chat_stream_headers", scanResult{Done: true}, 0},
		{"ollama/chat_stream_parse_failure", scanResult{}, 0},
		{"ollama/ctx_exceeded_stream", scanResult{Done: true}, 0},
		{"ollama/messages_stream", scanResult{Usage: Usage{17, 8}, Done: true}, 3},
		{"ollama/messages_stream_parse_failure", scanResult{Usage: Usage{6, 0}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := replay.MustParse(t, tt.name)
			format := formatOf(rec)
			body := rec.Body

			got, s := scan(format, body)
			if got != tt.want {
				t.Fatalf("whole: got %+v, want %+v", got, tt.want)
			}
			if s.decodes != tt.decodes {
				t.Errorf("decoded %d data lines, want %d: the fast path is not skipping deltas", s.decodes, tt.decodes)
			}

			ones := make([][]byte, len(body))
			for i := range body {
				ones[i] = body[i : i+1]
			}
			if got, _ := scan(format, ones...); got != tt.want {
				t.Errorf("1-byte reads: got %+v, want %+v", got, tt.want)
			}

			step := 1
			if len(body) > 8<<10 {
				step = 7 // big recordings: a prime stride keeps the test quick
			}
			for i := 0; i <= len(body); i += step {
				if got, _ := scan(format, body[:i], body[i:]); got != tt.want {
					t.Fatalf("split at %d: got %+v, want %+v", i, got, tt.want)
				}
			}
		})
	}
}

func TestSSEScannerLines(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   scanResult
	}{
		{"CRLF line ends", FormatOpenAI,
			"data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\r\n\r\ndata: [DONE]\r\n\r\n",
			scanResult{Usage: Usage{3, 4}, Done: true}},
		{"no space after data:", FormatOpenAI,
			"data:{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\ndata:[DONE]\n\n",
			scanResult{Usage: Usage{3, 4}, Done: true}},
		{"DONE without a final newline", FormatOpenAI, "data: [DONE]", scanResult{Done: true}},
		{"comments and other fields ignored", FormatOpenAI,
			": ping\n\nid: 1\nretry: 10\n: {\"error\":\"x\"}\ndata: [DONE]\n\n",
			scanResult{Done: true}},
		{"null usage on every chunk", FormatOpenAI,
			"data: {\"choices\":[],\"usage\":null}\n\ndata: {\"choices\":[],\"usage\" : null}\n\ndata: [DONE]\n\n",
			scanResult{Done: true}},
		{"null error key is no error", FormatOpenAI,
			"data: {\"error\":null}\n\ndata: [DONE]\n\n",
			scanResult{Done: true}},
		{"usage revised: last value wins", FormatOpenAI,
			"data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: {\"usage\":{\"completion_tokens\":9}}\n\ndata: [DONE]\n\n",
			scanResult{Usage: Usage{3, 9}, Done: true}},
		{"input_tokens spelling in OpenAI usage", FormatOpenAI,
			"data: {\"usage\":{\"input_tokens\":5,\"output_tokens\":6}}\n\ndata: [DONE]\n\n",
			scanResult{Usage: Usage{5, 6}, Done: true}},
		{"a delta whose text is usage", FormatOpenAI,
			"data: {\"choices\":[{\"delta\":{\"content\":\"\\\"usage\\\": 5\"}}]}\n\ndata: [DONE]\n\n",
			scanResult{Done: true}},
		{"vLLM: error chunk then DONE is still a failure", FormatOpenAI,
			"data: {\"error\":{\"object\":\"error\",\"message\":\"boom\",\"type\":\"BadRequestError\",\"code\":400}}\n\ndata: [DONE]\n\n",
			scanResult{Done: true, Failed: true, ErrText: "boom"}},
		{"error as a string", FormatOpenAI,
			"data: {\"error\":\"Unauthorized\"}\n\n",
			scanResult{Failed: true, ErrText: "Unauthorized"}},
		{"first error kept", FormatOpenAI,
			"data: {\"error\":\"one\"}\n\ndata: {\"error\":\"two\"}\n\n",
			scanResult{Failed: true, ErrText: "one"}},
		{"not JSON", FormatOpenAI, "data: {\"usage\": oops\n\n", scanResult{}},
		{"DONE in Anthropic format is not the end", FormatAnthropic, "data: [DONE]\n\n", scanResult{}},
		{"Anthropic caches count as input", FormatAnthropic,
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1,\"cache_read_input_tokens\":16,\"cache_creation_input_tokens\":4,\"output_tokens\":0}}}\n\n" +
				"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":8}}\n\n" +
				"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
			scanResult{Usage: Usage{21, 8}, Done: true}},
		{"Anthropic delta revises input and caches", FormatAnthropic,
			"data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":6,\"cache_read_input_tokens\":2}}}\n\n" +
				"data: {\"type\":\"message_delta\",\"usage\":{\"input_tokens\":17,\"cache_read_input_tokens\":0,\"output_tokens\":8}}\n\n" +
				"data: {\"type\":\"message_stop\"}\n\n",
			scanResult{Usage: Usage{17, 8}, Done: true}},
		{"Anthropic text message_stop is not the end", FormatAnthropic,
			"data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"message_stop\"}}\n\n",
			scanResult{}},
		{"Anthropic error event, official shape", FormatAnthropic,
			"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
			scanResult{Failed: true, ErrText: "Overloaded"}},
		{"Anthropic error without an event line", FormatAnthropic,
			"data: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"bad\"}}\n\n",
			scanResult{Failed: true, ErrText: "bad"}},
		{"error event ends at the blank line", FormatAnthropic,
			"event: error\n\ndata: {\"type\":\"ping\"}\n\ndata: {\"type\":\"message_stop\"}\n\n",
			scanResult{Done: true}},
		{"Anthropic ping ignored", FormatAnthropic,
			"event: ping\ndata: {\"type\": \"ping\"}\n\nevent: message_stop\ndata: {\"type\": \"message_stop\"}\n\n",
			scanResult{Done: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := scan(tt.format, []byte(tt.in)); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSSEScannerOverlongLine(t *testing.T) {
	long := "data: {\"x\":\"" + strings.Repeat("a", maxSSELine) + "\",\"usage\":{\"prompt_tokens\":1}}\n\n"
	in := long + "data: {\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n"
	want := scanResult{Usage: Usage{2, 3}, Done: true}
	// In small reads the long line is dropped, and the scanner recovers at
	// the next line.
	var pieces [][]byte
	for b := []byte(in); len(b) > 0; {
		n := min(len(b), 32<<10)
		pieces = append(pieces, b[:n])
		b = b[n:]
	}
	got, s := scan(FormatOpenAI, pieces...)
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if cap(s.partial) > 2*maxSSELine {
		t.Errorf("kept %d bytes for one line", cap(s.partial))
	}
}

func TestHasValue(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"usage":{"a":1}}`, true},
		{`{"usage" : {"a":1}}`, true},
		{`{"usage":null}`, false},
		{`{"usage" :null}`, false},
		{`{"usage":null,"x":{"usage":{}}}`, true},
		{`{"content":"usage"}`, false},
		{`{"content":"\"usage\""}`, false},
		{`{"usage"`, false},
		{`{"usage":`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := hasValue([]byte(tt.in), `"usage"`); got != tt.want {
			t.Errorf("hasValue(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"error":{"message":"Invalid API Key","type":"authentication_error","code":401}}`, "Invalid API Key"},
		{`{"error":"Unauthorized"}`, "Unauthorized"},
		{`{"code":500,"message":"boom","type":"server_error"}`, "boom"},
		{`{"detail":"Not Found"}`, "Not Found"},
		{`{"error":{"type":"x"}}`, `{"error":{"type":"x"}}`},
		{`"plain"`, "plain"},
		{"  404 page not found\n", "404 page not found"},
		{"", ""},
		{strings.Repeat("é", maxErrorText), strings.Repeat("é", maxErrorText/2) + "…"},
	}
	for _, tt := range tests {
		if got := errorMessage([]byte(tt.in)); got != tt.want {
			t.Errorf("errorMessage(%.60q) = %.60q, want %.60q", tt.in, got, tt.want)
		}
	}
}

// FuzzSSE feeds arbitrary bytes, split at an arbitrary point: the scanner
// must not panic, and must learn the same as from one piece.
func FuzzSSE(f *testing.F) {
	for _, name := range []string{
		"llama.cpp/chat_stream_usage", "llama.cpp/messages_stream",
		"llama.cpp/chat_stream_midstream_error", "llama.cpp/messages_stream_midstream_error",
		"ollama/messages_stream", "ollama/chat_stream_parse_failure",
	} {
		rec := replay.MustParse(f, name)
		f.Add(rec.Body, uint(len(rec.Body)/2), rec.Path == "/v1/messages")
	}
	f.Add([]byte("data: {\"usage\":{\"prompt_tokens\":-1}}\r\ndata: [DONE]"), uint(3), false)
	f.Add([]byte("event: error\ndata: \n\n"), uint(0), true)
	f.Fuzz(func(t *testing.T, body []byte, cut uint, anthropic bool) {
		format := FormatOpenAI
		if anthropic {
			format = FormatAnthropic
		}
		i := int(cut % uint(len(body)+1))
		whole, _ := scan(format, body)
		split, _ := scan(format, body[:i], body[i:])
		if whole != split {
			t.Errorf("split at %d: %+v, whole: %+v", i, split, whole)
		}
		if whole.Usage.Input < 0 || whole.Usage.Output < 0 {
			t.Errorf("negative usage %+v", whole.Usage)
		}
	})
}

// BenchmarkSSEScanner measures the parse cost per relayed chunk of a real
// stream, fed one event per read as a paced server sends it.
func BenchmarkSSEScanner(b *testing.B) {
	rec := replay.MustParse(b, "llama.cpp/chat_stream_usage")
	events := bytes.SplitAfter(rec.Body, []byte("\n\n"))
	b.SetBytes(int64(len(rec.Body)))
	b.ReportAllocs()
	for b.Loop() {
		s := newSSEScanner(FormatOpenAI)
		for _, ev := range events {
			s.feed(ev)
		}
		s.finish()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/chunk")
}
