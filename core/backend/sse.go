package backend

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// maxSSELine bounds the bytes the scanner keeps for one line that spans
// reads. Longer lines are relayed as usual but not parsed.
const maxSSELine = 4 << 20

// sseScanner watches the bytes of an event stream, as they are relayed, for
// the three things the agent needs from it: the usage the backend reports,
// an error object, and the terminator that says the answer is complete
// ("data: [DONE]" for OpenAI, the message_stop event for Anthropic).
//
// It is on the relay's hot path, so it decodes JSON only for the rare data
// lines that can matter: those with a non-null "usage" or "error" key, or an
// Anthropic message_stop; plain token deltas cost a few byte searches.
// Lines end in LF (a CR before it is dropped); a line may be split across
// feeds. Only "data:" and "event:" lines are read; comments (": ping") and
// other fields are ignored. It is not safe for concurrent use.
type sseScanner struct {
	format Format

	partial  []byte // the start of a line that continues in the next feed
	skipping bool   // the current line outgrew maxSSELine: ignore it to its end
	errEvent bool   // the current event is "event: error"

	usage   usageTracker
	done    bool   // the terminator was seen
	failed  bool   // an error object was seen
	errText string // the first error's message
	decodes int    // JSON decodes done, to keep the fast path honest in tests
}

func newSSEScanner(format Format) *sseScanner { return &sseScanner{format: format} }

// feed scans the next bytes of the stream. It does not keep p.
func (s *sseScanner) feed(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !s.skipping {
				if len(s.partial)+len(p) > maxSSELine {
					s.partial, s.skipping = s.partial[:0], true
				} else {
					s.partial = append(s.partial, p...)
				}
			}
			return
		}
		line := p[:i]
		p = p[i+1:]
		if s.skipping {
			s.skipping = false
			continue
		}
		if len(s.partial) > 0 {
			if len(s.partial)+len(line) > maxSSELine {
				s.partial = s.partial[:0]
				continue
			}
			line = append(s.partial, line...)
			s.partial = line[:0] // line is used up before the next append
		}
		s.line(line)
	}
}

// finish scans a last line the stream ended without a newline for.
func (s *sseScanner) finish() {
	if len(s.partial) > 0 && !s.skipping {
		s.line(s.partial)
	}
	s.partial, s.skipping = nil, false
}

func (s *sseScanner) line(l []byte) {
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	switch {
	case len(l) == 0: // a blank line ends the event
		s.errEvent = false
	case bytes.HasPrefix(l, []byte("data:")):
		s.data(trimOneSpace(l[len("data:"):]))
	case bytes.HasPrefix(l, []byte("event:")):
		s.errEvent = string(bytes.TrimSpace(l[len("event:"):])) == "error"
	}
}

func trimOneSpace(b []byte) []byte {
	if len(b) > 0 && b[0] == ' ' {
		return b[1:]
	}
	return b
}

// sseData is the part of a data line's JSON the scanner reads, for both
// formats.
type sseData struct {
	Type    string          `json:"type"`    // Anthropic event type
	Message json.RawMessage `json:"message"` // message_start: the message; bare errors: the text
	Usage   *wireUsage      `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type wireUsage struct {
	PromptTokens        *int64 `json:"prompt_tokens"`
	CompletionTokens    *int64 `json:"completion_tokens"`
	InputTokens         *int64 `json:"input_tokens"`
	OutputTokens        *int64 `json:"output_tokens"`
	CacheReadTokens     *int64 `json:"cache_read_input_tokens"`
	CacheCreationTokens *int64 `json:"cache_creation_input_tokens"`
}

func (s *sseScanner) data(d []byte) {
	if s.errEvent { // Anthropic "event: error"; llama.cpp sends a bare {"code":500,"message":...}
		s.fail(errorMessage(d))
		return
	}
	if s.format == FormatOpenAI && len(d) > 0 && d[0] == '[' && string(bytes.TrimSpace(d)) == "[DONE]" {
		s.done = true
		return
	}
	if !hasValue(d, `"usage"`) && !hasValue(d, `"error"`) &&
		(s.format != FormatAnthropic || !bytes.Contains(d, []byte(`"message_stop"`))) {
		return
	}
	s.decodes++
	var ev sseData
	if json.Unmarshal(d, &ev) != nil {
		return // not JSON: relayed, nothing to learn
	}
	if isSet(ev.Error) {
		s.fail(errorMessage(ev.Error))
	} else if ev.Type == "error" {
		s.fail(errorMessage(d))
	}
	if ev.Usage != nil {
		s.usage.add(ev.Usage)
	}
	if ev.Type == "message_start" && len(ev.Message) > 0 && ev.Message[0] == '{' {
		var m struct {
			Usage *wireUsage `json:"usage"`
		}
		if json.Unmarshal(ev.Message, &m) == nil && m.Usage != nil {
			s.usage.add(m.Usage)
		}
	}
	if s.format == FormatAnthropic && ev.Type == "message_stop" {
		s.done = true
	}
}

func (s *sseScanner) fail(msg string) {
	if !s.failed {
		s.failed, s.errText = true, msg
	}
}

// hasValue reports whether d has the quoted key followed by a colon and a
// value other than null. A false positive (the key's text inside a string)
// only costs a decode.
func hasValue(d []byte, key string) bool {
	for {
		i := bytes.Index(d, []byte(key))
		if i < 0 {
			return false
		}
		d = d[i+len(key):]
		rest := skipSpace(d)
		if len(rest) > 0 && rest[0] == ':' {
			rest = skipSpace(rest[1:])
			if len(rest) > 0 && rest[0] != 'n' {
				return true
			}
		}
	}
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

func isSet(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// maxErrorText bounds the error text put into a job_error message.
const maxErrorText = 2000

// errorMessage finds the human text in an error value or body: a JSON
// string, or an object's "error" (string or {"message":...}), "message" or
// "detail"; else the text itself, trimmed and bounded.
func errorMessage(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 0 {
		switch b[0] {
		case '"':
			var s string
			if json.Unmarshal(b, &s) == nil && s != "" {
				return clip(s)
			}
		case '{':
			var o struct {
				Error   json.RawMessage `json:"error"`
				Message json.RawMessage `json:"message"`
				Detail  json.RawMessage `json:"detail"`
			}
			if json.Unmarshal(b, &o) == nil {
				for _, v := range []json.RawMessage{o.Error, o.Message, o.Detail} {
					if !isSet(v) {
						continue
					}
					if v[0] == '"' || v[0] == '{' {
						if m := errorMessage(v); m != "" && m != string(v) {
							return m
						}
					}
				}
			}
		}
	}
	return clip(string(b))
}

// clip bounds s to maxErrorText bytes without splitting a character.
func clip(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	cut := maxErrorText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// usageTracker keeps the last value seen for each count, since a backend
// may revise them within a stream (Ollama's Anthropic message_start carries
// an estimate that message_delta corrects).
type usageTracker struct {
	prompt, completion       int64 // OpenAI spelling
	input, output            int64 // Anthropic spelling (also accepted in OpenAI usage)
	cacheRead, cacheCreation int64 // Anthropic: prompt tokens served from or written to the cache
	hasPrompt, hasCompletion bool  // the OpenAI spelling was seen
}

func (u *usageTracker) add(w *wireUsage) {
	set := func(dst *int64, src *int64) bool {
		if src == nil || *src < 0 {
			return false
		}
		*dst = *src
		return true
	}
	u.hasPrompt = set(&u.prompt, w.PromptTokens) || u.hasPrompt
	u.hasCompletion = set(&u.completion, w.CompletionTokens) || u.hasCompletion
	set(&u.input, w.InputTokens)
	set(&u.output, w.OutputTokens)
	set(&u.cacheRead, w.CacheReadTokens)
	set(&u.cacheCreation, w.CacheCreationTokens)
}

// total is the job's usage: OpenAI counts when the stream had them, else the
// Anthropic ones, with cached prompt tokens counted as input (they match
// what the OpenAI format reports as prompt_tokens for the same prompt).
func (u *usageTracker) total() Usage {
	in := u.input + u.cacheRead + u.cacheCreation
	if u.hasPrompt {
		in = u.prompt
	}
	out := u.output
	if u.hasCompletion {
		out = u.completion
	}
	return Usage{Input: in, Output: out}
}
