package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// PrepareBody turns a job's request body into the body sent to the backend
// (docs/protocol.md section 5): "stream" is forced to true; an OpenAI body gets
// "stream_options":{"include_usage":true} when it has no stream_options,
// and include_usage set to true when its stream_options lacks it; "model"
// is set to modelID when absent, null or empty. Every other field is kept
// (the result is compact JSON, keys sorted). raw must be a JSON object.
func PrepareBody(format Format, modelID string, raw []byte) ([]byte, error) {
	if format != FormatOpenAI && format != FormatAnthropic {
		return nil, fmt.Errorf("prepare request: unknown format %q", format)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, errors.New("prepare request: the request is not a JSON object")
	}

	body["stream"] = json.RawMessage("true")
	if m, ok := body["model"]; !ok || !isSet(m) || string(m) == `""` {
		id, err := json.Marshal(modelID)
		if err != nil {
			return nil, fmt.Errorf("prepare request: %w", err)
		}
		body["model"] = id
	}
	if format == FormatOpenAI {
		opts := map[string]json.RawMessage{}
		if so, ok := body["stream_options"]; ok && isSet(so) {
			if err := json.Unmarshal(so, &opts); err != nil || opts == nil {
				return nil, errors.New("prepare request: stream_options is not a JSON object")
			}
		}
		opts["include_usage"] = json.RawMessage("true")
		so, err := marshalNoEscape(opts)
		if err != nil {
			return nil, fmt.Errorf("prepare request: %w", err)
		}
		body["stream_options"] = so
	}
	out, err := marshalNoEscape(body)
	if err != nil {
		return nil, fmt.Errorf("prepare request: %w", err)
	}
	return out, nil
}

// marshalNoEscape is json.Marshal without escaping <, > and & into \u003c
// and friends, so the client's text reaches the backend as it was written.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
