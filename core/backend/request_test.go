package backend

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPrepareBody(t *testing.T) {
	tests := []struct {
		name    string
		format  Format
		in      string
		want    string // compared as JSON values
		wantErr string
	}{
		{"openai: stream and usage added, model filled", FormatOpenAI,
			`{"messages":[{"role":"user","content":"hi"}],"max_tokens":8}`,
			`{"messages":[{"role":"user","content":"hi"}],"max_tokens":8,"model":"tiny","stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"openai: stream false forced true", FormatOpenAI,
			`{"model":"tiny","stream":false}`,
			`{"model":"tiny","stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"openai: the client's model is kept", FormatOpenAI,
			`{"model":"other"}`,
			`{"model":"other","stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"openai: empty model filled", FormatOpenAI, `{"model":""}`,
			`{"model":"tiny","stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"openai: null model filled", FormatOpenAI, `{"model":null}`,
			`{"model":"tiny","stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"openai: stream_options without include_usage", FormatOpenAI,
			`{"model":"tiny","stream_options":{"continuous_usage_stats":true}}`,
			`{"model":"tiny","stream":true,"stream_options":{"continuous_usage_stats":true,"include_usage":true}}`, ""},
		{"openai: include_usage false turned on", FormatOpenAI,
			`{"model":"tiny","stream_options":{"include_usage":false}}`,
			`{"model":"tiny","stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"openai: null stream_options", FormatOpenAI,
			`{"model":"tiny","stream_options":null}`,
			`{"model":"tiny","stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"openai: every other field kept", FormatOpenAI,
			`{"model":"tiny","temperature":0.25,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"x-extra":{"a":[1,2.50,"<b>&"]},"seed":12345678901234567890}`,
			`{"model":"tiny","temperature":0.25,"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"x-extra":{"a":[1,2.50,"<b>&"]},"seed":12345678901234567890,"stream":true,"stream_options":{"include_usage":true}}`, ""},
		{"anthropic: stream forced, no stream_options", FormatAnthropic,
			`{"max_tokens":8,"messages":[{"role":"user","content":"hi"}],"system":"be brief"}`,
			`{"max_tokens":8,"messages":[{"role":"user","content":"hi"}],"system":"be brief","model":"tiny","stream":true}`, ""},
		{"anthropic: model kept", FormatAnthropic, `{"model":"x","stream":false}`, `{"model":"x","stream":true}`, ""},

		{"array", FormatOpenAI, `[{"model":"tiny"}]`, "", "not a JSON object"},
		{"null", FormatOpenAI, `null`, "", "not a JSON object"},
		{"empty", FormatOpenAI, ``, "", "not a JSON object"},
		{"string", FormatAnthropic, `"hi"`, "", "not a JSON object"},
		{"truncated", FormatOpenAI, `{"model":"tiny","messages":[{"role":"user","content":"hi"}`, "", "not a JSON object"},
		{"trailing garbage", FormatOpenAI, `{"model":"tiny"} x`, "", "not a JSON object"},
		{"stream_options not an object", FormatOpenAI, `{"stream_options":"yes"}`, "", "stream_options is not a JSON object"},
		{"unknown format", Format("grpc"), `{}`, "", `unknown format "grpc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PrepareBody(tt.format, "tiny", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, got, []byte(tt.want)) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestPrepareBodyKeepsText checks that text reaches the backend as the
// client wrote it: no HTML escaping, big numbers untouched.
func TestPrepareBodyKeepsText(t *testing.T) {
	in := `{"messages":[{"role":"user","content":"a <b> & c \u00e9 é"}],"seed":12345678901234567890}`
	got, err := PrepareBody(FormatOpenAI, "tiny", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"a <b> & c \u00e9 é"`, `12345678901234567890`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("%s lost %s", got, want)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	da := json.NewDecoder(strings.NewReader(string(a)))
	da.UseNumber()
	db := json.NewDecoder(strings.NewReader(string(b)))
	db.UseNumber()
	if err := da.Decode(&x); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := db.Decode(&y); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}
