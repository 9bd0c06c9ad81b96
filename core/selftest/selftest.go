// Package selftest runs a short, fixed generation against one model of a
// local inference server and measures it: time to first token, output
// tokens per second, and whether the server reported usage (without usage a
// job earns nothing). The request is prepared as a job's is
// (backend.PrepareBody) and streamed through a jobs.Streamer, which parses
// the usage as it does for jobs; there is no coordinator, jobs.Manager or
// chunk relay. The app gives the Tester a backend.Client of its own, on
// Go's default HTTP client, not the engine's backend client (its raw-socket
// dialer and connection pool), so the figures leave out the relay and that
// transport.
package selftest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/jobs"
)

// Request is the fixed request of every self-test (OpenAI format): short,
// deterministic, and long enough to measure a token rate.
const Request = `{"messages":[{"role":"user","content":"Count from 1 to 30, separated by spaces."}],"max_tokens":32,"temperature":0}`

// DefaultTimeout bounds one self-test; a server may first have to load the
// model into memory.
const DefaultTimeout = 2 * time.Minute

// Result is one self-test of one model.
type Result struct {
	ModelID string    `json:"model_id"`
	Backend string    `json:"backend"` // the server's kind
	At      time.Time `json:"at"`      // when the test started
	OK      bool      `json:"ok"`      // tokens came and usage was reported
	// TTFTMs is the time from sending the request to the first generated
	// text, in milliseconds; 0 when none came.
	TTFTMs float64 `json:"ttft_ms"`
	// TokensPerS is the output tokens over the time from the first token
	// to the end of the stream; 0 when it cannot be measured.
	TokensPerS    float64 `json:"tokens_per_s"`
	OutputTokens  int64   `json:"output_tokens"` // as reported (or counted, see UsageReported)
	UsageReported bool    `json:"usage_reported"`
	DurationMs    float64 `json:"duration_ms"`
	Error         string  `json:"error"` // why it is not OK, in plain words; "" when OK
}

// Run tests model on server s through st (the jobs' Streamer). It blocks
// until the stream ends or timeout (DefaultTimeout when 0) passes.
func Run(ctx context.Context, st jobs.Streamer, s backend.Server, model string, timeout time.Duration) Result {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	r := Result{ModelID: model, Backend: s.Kind, At: time.Now()}
	body, err := backend.PrepareBody(backend.FormatOpenAI, model, []byte(Request))
	if err != nil {
		r.Error = err.Error()
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var tokens tokenWatch
	start := time.Now()
	var first time.Time
	res, err := st.Stream(ctx, s, backend.FormatOpenAI, body, func(b []byte) error {
		if tokens.feed(b) && first.IsZero() {
			first = time.Now()
		}
		return nil
	})
	end := time.Now()
	r.DurationMs = ms(end.Sub(start))
	r.OutputTokens, r.UsageReported = res.Usage.Output, res.Usage.Output > 0
	if !r.UsageReported {
		r.OutputTokens = tokens.deltas // an estimate: one token per delta
	}
	if !first.IsZero() {
		r.TTFTMs = ms(first.Sub(start))
		if d := end.Sub(first); d > 0 {
			r.TokensPerS = float64(r.OutputTokens) / d.Seconds()
		}
	}
	switch {
	case err != nil:
		r.Error = failure(err, timeout)
	case first.IsZero():
		r.Error = "the server answered but generated no text"
	case !r.UsageReported:
		r.Error = "the server did not report token usage, so jobs on this model would earn nothing"
	default:
		r.OK = true
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func failure(err error, timeout time.Duration) string {
	var be *backend.Error
	switch {
	case errors.As(err, &be) && be.Code == backend.CodeTimeout:
		return fmt.Sprintf("no complete answer within %s", timeout)
	case errors.As(err, &be):
		return be.Message
	case errors.Is(err, context.Canceled):
		return "the test was cancelled"
	}
	return err.Error()
}

// tokenWatch finds generated text in an OpenAI chat stream as it is
// relayed, chunk by chunk; chunks may cut lines anywhere.
type tokenWatch struct {
	partial []byte // an unfinished line
	deltas  int64  // data events that carried text
}

// feed reads the next bytes and reports whether they completed an event
// carrying generated text.
func (w *tokenWatch) feed(b []byte) (text bool) {
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return text
		}
		line := bytes.TrimSpace(w.partial[:i])
		w.partial = w.partial[i+1:]
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		var ev struct {
			Choices []struct {
				Delta struct {
					Content          string `json:"content"`
					ReasoningContent string `json:"reasoning_content"`
					Reasoning        string `json:"reasoning"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal(bytes.TrimSpace(data), &ev) != nil {
			continue // [DONE], or not ours to judge: the relay checks the stream
		}
		for _, c := range ev.Choices {
			if c.Delta.Content != "" || c.Delta.ReasoningContent != "" || c.Delta.Reasoning != "" {
				w.deltas++
				text = true
				break
			}
		}
	}
}
