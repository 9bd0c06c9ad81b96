package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// readBufSize is the size of the one buffer a stream is read into.
const readBufSize = 8 << 10

// readBufs recycles the streams' read buffers: a burst of jobs then does
// not allocate (and soon collect) a buffer each.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// maxErrorBody bounds what is read of a non-2xx answer's body.
const maxErrorBody = 64 << 10

// Path is the backend route that serves jobs of the format.
func (f Format) Path() string {
	switch f {
	case FormatOpenAI:
		return "/v1/chat/completions"
	case FormatAnthropic:
		return "/v1/messages"
	}
	return ""
}

// Stream sends one job to s and relays the answer. It blocks until the
// answer ends, ctx ends or onChunk fails. body should come from PrepareBody.
//
// onChunk is called with the response body's bytes exactly as read, in
// order and unchanged, one call per read. The slice is only valid during
// the call (the next read reuses it): copy what you keep, and never modify
// it. A nil onChunk discards the bytes. Returning an error from onChunk
// aborts the request (the backend sees the connection close) and Stream
// returns that error as is.
//
// The returned Result holds the usage the stream reported (last value seen
// for each count) and BytesRelayed, the bytes handed to onChunk, even when
// Stream fails. Errors:
//
//   - ctx cancelled: ctx.Err() itself (errors.Is(err, context.Canceled));
//   - ctx deadline passed: *Error with CodeTimeout;
//   - connection refused, reset or broken before an answer: CodeUnreachable;
//   - HTTP 401/403: CodeAuthRejected;
//   - HTTP 404 on /v1/messages: CodeInternal saying the server lacks
//     Anthropic support;
//   - any other non-2xx: CodeInternal, "HTTP <status>: <the server's message>";
//   - a stream that carried an error object, or ended without its
//     terminator ("data: [DONE]"; Anthropic: message_stop): CodeInternal,
//     returned only after every byte was relayed;
//   - the connection dying in the middle of the answer: CodeUnreachable
//     (the server went away, as with a refused connection).
func (c *Client) Stream(ctx context.Context, s Server, format Format, body []byte, onChunk func([]byte) error) (Result, error) {
	var res Result
	if onChunk == nil {
		onChunk = func([]byte) error { return nil }
	}
	path := format.Path()
	if path == "" {
		return res, &Error{Code: CodeInternal, Message: fmt.Sprintf("unknown job format %q", format)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // also aborts the request when onChunk fails

	req, err := newRequest(ctx, s, http.MethodPost, path, body)
	if err != nil {
		return res, &Error{Code: CodeInternal, Message: fmt.Sprintf("bad backend URL %q: %v", s.URL, err), Err: err}
	}
	req.Header.Set("Accept", "text/event-stream")

	log := c.logger("kind", s.Kind, "url", s.URL, "format", string(format))
	start := time.Now()
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return res, streamFailure(ctx, s, err, false)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, statusFailure(s, format, resp)
	}

	sc := newSSEScanner(format)
	bufp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bufp)
	buf := *bufp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			res.BytesRelayed += int64(n)
			if err := onChunk(buf[:n]); err != nil {
				res.Usage = sc.usage.total()
				log.Debug("stream aborted by the relay", "bytes", res.BytesRelayed, "err", err)
				return res, err
			}
			sc.feed(buf[:n])
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			res.Usage = sc.usage.total()
			return res, streamFailure(ctx, s, rerr, true)
		}
	}
	sc.finish()
	res.Usage = sc.usage.total()
	log.Debug("stream ended", "bytes", res.BytesRelayed, "input", res.Usage.Input, "output", res.Usage.Output,
		"done", sc.done, "error", sc.errText, "took", time.Since(start))
	switch {
	case sc.failed:
		return res, &Error{Code: CodeInternal, Message: "the inference server reported an error mid-answer: " + sc.errText}
	case !sc.done:
		return res, &Error{Code: CodeInternal, Message: "the inference server stopped mid-answer without finishing"}
	}
	return res, nil
}

// streamFailure classifies a request that failed before (midAnswer false)
// or during the answer.
func streamFailure(ctx context.Context, s Server, err error, midAnswer bool) error {
	switch ctxErr := ctx.Err(); {
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return &Error{
			Code:    CodeTimeout,
			Message: fmt.Sprintf("%s at %s did not finish before the job's deadline", kindName(s.Kind), baseURL(s)),
			Err:     ctxErr,
		}
	case ctxErr != nil:
		return ctxErr
	case midAnswer:
		return &Error{
			Code:    CodeUnreachable,
			Message: fmt.Sprintf("the connection to %s at %s broke mid-answer: %s", kindName(s.Kind), baseURL(s), transportCause(err)),
			Err:     err,
		}
	case refused(err):
		return &Error{Code: CodeUnreachable, Message: notRunning(s), Err: err}
	}
	return &Error{
		Code:    CodeUnreachable,
		Message: fmt.Sprintf("cannot reach %s at %s: %s", kindName(s.Kind), baseURL(s), transportCause(err)),
		Err:     err,
	}
}

// statusFailure classifies a non-2xx answer, reading a bounded part of its
// body for the server's message.
func statusFailure(s Server, format Format, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	text := errorMessage(b)
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	status := resp.StatusCode
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &Error{
			Code: CodeAuthRejected,
			Message: fmt.Sprintf("HTTP %d: %s (%s at %s rejected the agent's API key — check it in this backend's settings)",
				status, text, kindName(s.Kind), baseURL(s)),
		}
	case status == http.StatusNotFound && format == FormatAnthropic && !modelNotFound(text):
		return &Error{
			Code: CodeInternal,
			Message: fmt.Sprintf("HTTP 404 on /v1/messages: %s at %s lacks Anthropic (/v1/messages) support — upgrade it "+
				"(vLLM, llama.cpp, LM Studio 0.4.1+ and Ollama 0.14+ have it)", kindName(s.Kind), baseURL(s)),
		}
	}
	return &Error{Code: CodeInternal, Message: fmt.Sprintf("HTTP %d: %s", status, text)}
}

// modelNotFound reports whether a 404's text is about the model rather
// than the route (Ollama: "model 'x' not found").
func modelNotFound(text string) bool {
	t := strings.ToLower(text)
	return strings.Contains(t, "model") && strings.Contains(t, "not found")
}
