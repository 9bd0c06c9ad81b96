package coordinator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	nonce := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"challenge", `{"type":"auth_challenge","nonce":"` + nonce + `"}`, AuthChallenge{Nonce: []byte("0123456789abcdef")}},
		{"auth ok", `{"type":"auth_ok","provider_id":"prov-1"}`, AuthOK{ProviderID: "prov-1"}},
		{"auth ok without provider id", `{"type":"auth_ok"}`, AuthOK{}},
		{"challenge without padding", `{"type":"auth_challenge","nonce":"AAECAwQ"}`, AuthChallenge{Nonce: []byte{0, 1, 2, 3, 4}}},
		{"auth failed without reason", `{"type":"auth_failed"}`, AuthFailed{Reason: "the coordinator refused the agent without giving a reason"}},
		{"auth ok with null provider id", `{"type":"auth_ok","provider_id":null}`, AuthOK{}},
		{"auth failed", `{"type":"auth_failed","reason":"invalid enrollment code"}`, AuthFailed{Reason: "invalid enrollment code"}},
		{"job defaults", `{"type":"job","job_id":"j1","model_id":"m","request":{"messages":[]}}`,
			Job{JobID: "j1", ModelID: "m", Request: json.RawMessage(`{"messages":[]}`), Format: "openai", Deadline: 60 * time.Second}},
		{"job anthropic with deadline", `{"type":"job","job_id":"j2","model_id":"m","request":{},"format":"anthropic","deadline_ms":1500}`,
			Job{JobID: "j2", ModelID: "m", Request: json.RawMessage(`{}`), Format: "anthropic", Deadline: 1500 * time.Millisecond}},
		{"cancel", `{"type":"job_cancel","job_id":"j1"}`, JobCancel{JobID: "j1"}},
		{"unknown type", `{"type":"config_update","x":1}`, Unknown{Type: "config_update"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, in := range []string{
		``, `not json`, `[1,2]`, `{"no_type":1}`, `{"type":5}`,
		`{"type":"auth_challenge","nonce":"%%%"}`,
		`{"type":"auth_ok","provider_id":42}`,
		`{"type":"job","model_id":"m","request":{}}`,
		`{"type":"job","job_id":"j","request":{}}`,
		`{"type":"job","job_id":"j","model_id":"m"}`,
		`{"type":"job","job_id":"j","model_id":"m","request":"a string"}`,
		`{"type":"job","job_id":"j","model_id":"m","request":{},"format":"gemini"}`,
		`{"type":"job","job_id":"j","model_id":"m","request":{},"deadline_ms":-5}`,
		`{"type":"job","job_id":"j","model_id":"m","request":{},"deadline_ms":"soon"}`,
		`{"type":"job_cancel"}`,
	} {
		_, err := Decode([]byte(in))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", in, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"job","job_id":"j","model_id":"m","request":{"a":1},"format":"anthropic","deadline_ms":5}`,
		`{"type":"auth_challenge","nonce":"AAAA"}`, `{"type":"job_cancel","job_id":"x"}`, `{}`, `{"type":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if j, ok := msg.(Job); ok && (j.JobID == "" || j.ModelID == "" || j.Deadline <= 0) {
			t.Fatalf("accepted an invalid job: %#v", j)
		}
	})
}

func TestChunkEncoderMatchesJSON(t *testing.T) {
	for _, id := range []string{"7c1e-uuid", `we"ird\id` + "\n\u2028"} {
		data := []byte("data: {\"x\":\"é\"}\n\n\x00\xff")
		frame := NewChunkEncoder(id).Encode(data)
		var got struct {
			Type  string `json:"type"`
			JobID string `json:"job_id"`
			Data  []byte `json:"data"`
		}
		if err := json.Unmarshal(frame, &got); err != nil {
			t.Fatalf("frame is not JSON: %v: %s", err, frame)
		}
		if got.Type != "job_chunk" || got.JobID != id || string(got.Data) != string(data) {
			t.Fatalf("round trip mismatch: %+v", got)
		}
	}
}

func TestTerminalFramesCarryBothSpellings(t *testing.T) {
	b, _ := json.Marshal(NewJobDone("j", 17, 23, 812*time.Millisecond))
	want := `{"type":"job_done","job_id":"j","tokens":{"input":17,"output":23,"input_tokens":17,"output_tokens":23},"duration_ms":812}`
	if string(b) != want {
		t.Fatalf("job_done = %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(NewJobError("j", "backend_timeout", "late", 1234))
	want = `{"type":"job_error","job_id":"j","error_code":"backend_timeout","message":"late","tokens_emitted":1234}`
	if string(b) != want {
		t.Fatalf("job_error = %s\nwant %s", b, want)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url    string
		allow  bool
		wantOK bool
	}{
		{"wss://api.usepod.ai/provider/connect", false, true},
		{"ws://127.0.0.1:1/x", false, false},
		{"ws://127.0.0.1:1/x", true, true},
		{"https://api.usepod.ai/", true, false},
		{"wss://", false, false},
	} {
		if err := CheckURL(tc.url, tc.allow); (err == nil) != tc.wantOK {
			t.Errorf("CheckURL(%q, %v) = %v", tc.url, tc.allow, err)
		}
	}
}
