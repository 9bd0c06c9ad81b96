package replay

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTestdataMatchesShared proves testdata/ is still a byte-exact copy of
// the shared recordings: ../shared/fixtures/real beside the module root (the
// folder holding go.mod), or $USEPOD_SHARED/fixtures/real where shared/ is
// elsewhere (a git worktree). Without the folder it skips on a developer's
// machine and fails in CI (CI=true), where a copy of shared/ must be there.
func TestTestdataMatchesShared(t *testing.T) {
	shared := sharedRecordings(t)
	if _, err := os.Stat(shared); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no shared recordings at %s: CI must put a copy of shared/ beside the clone (or set USEPOD_SHARED)", shared)
		}
		t.Skipf("no shared recordings at %s (set USEPOD_SHARED to the shared folder to compare)", shared)
	}
	for _, dir := range []string{"llama.cpp", "ollama"} {
		theirs, err := fileNames(filepath.Join(shared, dir))
		if err != nil {
			t.Fatal(err)
		}
		ours, err := fileNames(filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range ours {
			if !slices.Contains(theirs, name) {
				t.Errorf("%s/%s: in testdata but not among the shared recordings", dir, name)
			}
		}
		for _, name := range theirs {
			want, err := os.ReadFile(filepath.Join(shared, dir, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Raw(dir + "/" + name)
			if err != nil {
				t.Errorf("%s/%s: not embedded: %v", dir, name, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s: embedded copy differs from the shared recording", dir, name)
			}
		}
	}
}

// sharedRecordings is where the shared recordings should be.
func sharedRecordings(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("USEPOD_SHARED"); dir != "" {
		return filepath.Join(dir, "fixtures", "real")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "..", "shared", "fixtures", "real")
}

// moduleRoot walks up from the working directory to the folder with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// fileNames lists the regular files of dir, sorted.
func fileNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func TestParseEveryRecording(t *testing.T) {
	names := Names()
	if len(names) < 40 {
		t.Fatalf("only %d recordings embedded: %v", len(names), names)
	}
	for _, name := range names {
		rec, err := Parse(name)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		raw, _ := Raw(name)
		if !bytes.HasSuffix(raw, rec.Body) {
			t.Errorf("%s: body is not the tail of the file", name)
		}
		if rec.Status < 200 || rec.Status > 599 {
			t.Errorf("%s: status %d", name, rec.Status)
		}
		if rec.Header.Get("Content-Type") == "" && len(rec.Body) > 0 {
			t.Errorf("%s: no Content-Type", name)
		}
		if n := rec.Header.Get("Content-Length"); n != "" && n != strconv.Itoa(len(rec.Body)) {
			t.Errorf("%s: Content-Length %s but body has %d bytes", name, n, len(rec.Body))
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		path        string
		reqBody     string
		status      int
		contentType string
		bodyPrefix  string
		bodySuffix  string
	}{
		{"llama.cpp/health.txt", "GET", "/health", "", 200, "application/json; charset=utf-8", `{"status":"ok"}`, `{"status":"ok"}`},
		{"llama.cpp/health_loading", "GET", "/health", "", 503, "application/json; charset=utf-8", `{"error":{"message":"Loading model"`, `}}`},
		{"llama.cpp/chat_stream_usage", "POST", "/v1/chat/completions",
			`{"model":"tiny","messages":[{"role":"user","content":"Say hello in one word."}],"max_tokens":8,"stream":true,"stream_options":{"include_usage":true}}`,
			200, "text/event-stream", `data: {"choices"`, "data: [DONE]\n\n"},
		{"llama.cpp/messages_stream", "POST", "/v1/messages",
			`{"model":"tiny","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"Say hello in one word."}]}`,
			200, "text/event-stream", "event: message_start\n", "data: {\"type\":\"message_stop\"}\n\n"},
		{"llama.cpp/apikey_chat_wrongkey", "POST", "/v1/chat/completions",
			`{"model":"tiny","messages":[{"role":"user","content":"Say hello in one word."}],"max_tokens":8}`,
			401, "application/json; charset=utf-8", `{"error":{"message":"Invalid API Key"`, `"code":401}}`},
		{"ollama/root.txt", "GET", "/", "", 200, "text/plain; charset=utf-8", "Ollama is running", "Ollama is running"},
		{"ollama/api_show", "POST", "/api/show", `{"model":"tiny"}`, 200, "application/json; charset=utf-8", `{"modelfile":`, `}`},
		{"ollama/messages.txt", "POST", "/v1/messages",
			`{"model":"tiny","max_tokens":8,"messages":[{"role":"user","content":"Say hello in one word."}]}`,
			200, "application/json", `{"id":"msg_`, "}}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := MustParse(t, tt.name)
			if rec.Method != tt.method || rec.Path != tt.path {
				t.Errorf("request = %s %s, want %s %s", rec.Method, rec.Path, tt.method, tt.path)
			}
			if string(rec.RequestBody) != tt.reqBody {
				t.Errorf("request body = %q, want %q", rec.RequestBody, tt.reqBody)
			}
			if (tt.reqBody == "") != (rec.RequestBody == nil) {
				t.Errorf("request body nil = %v", rec.RequestBody == nil)
			}
			if rec.Status != tt.status {
				t.Errorf("status = %d, want %d", rec.Status, tt.status)
			}
			if got := rec.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if !bytes.HasPrefix(rec.Body, []byte(tt.bodyPrefix)) || !bytes.HasSuffix(rec.Body, []byte(tt.bodySuffix)) {
				t.Errorf("body = %.80q...%q", rec.Body, tail(rec.Body, 40))
			}
		})
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func TestParseRejectsMalformed(t *testing.T) {
	for _, raw := range []string{
		"",
		"GET\n---\n",
		"GET /x\n",
		"GET /x\n{}\n",
		"GET /x\n---\nHTTP/1.1 200 OK\r\nA: b\r\n",
		"GET /x\n---\nHTTP/1.1 abc\r\n\r\n",
	} {
		if _, err := parse([]byte(raw)); err == nil {
			t.Errorf("parse(%q) succeeded", raw)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func post(t *testing.T, ctx context.Context, url, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test", "yes")
	return http.DefaultClient.Do(req)
}

func TestServerReplaysBytesAndHeaders(t *testing.T) {
	srv := LlamaCpp(t)
	resp, body := get(t, srv.URL+"/health")
	want := MustParse(t, "llama.cpp/health")
	if resp.StatusCode != 200 || !bytes.Equal(body, want.Body) {
		t.Errorf("GET /health = %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Server") != "llama.cpp" {
		t.Errorf("recorded Server header not replayed: %v", resp.Header)
	}

	resp, body = get(t, srv.URL+"/nope")
	if resp.StatusCode != 404 {
		t.Errorf("unknown route = %d %q, want 404", resp.StatusCode, body)
	}

	r, err := post(t, t.Context(), srv.URL+RouteChat[len("POST "):], `{"a":1}`)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(r.Body)
	r.Body.Close()
	want = MustParse(t, "llama.cpp/chat_stream_usage")
	if !bytes.Equal(body, want.Body) {
		t.Errorf("chat body differs from the recording")
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}

	reqs := srv.Requests()
	if len(reqs) != 3 || reqs[2].Route() != RouteChat || string(reqs[2].Body) != `{"a":1}` || reqs[2].Header.Get("X-Test") != "yes" {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestServerRecordedStatusAndOverride(t *testing.T) {
	srv := LlamaCpp(t, WithRoute("GET /health", "health_loading"), WithoutRoute("GET /props"))
	resp, body := get(t, srv.URL+"/health")
	if resp.StatusCode != 503 || !strings.Contains(string(body), "Loading model") {
		t.Errorf("GET /health = %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, srv.URL+"/props"); resp.StatusCode != 404 {
		t.Errorf("removed route answered %d", resp.StatusCode)
	}
}

func TestSynthesizedServers(t *testing.T) {
	vllm := VLLM(t)
	resp, body := get(t, vllm.URL+"/health")
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Errorf("vllm /health = %d %q, want 200 and no body", resp.StatusCode, body)
	}
	if _, body := get(t, vllm.URL+"/v1/models"); !strings.Contains(string(body), `"max_model_len":4096`) {
		t.Errorf("vllm models = %s", body)
	}

	lms := LMStudio(t)
	resp, body = get(t, lms.URL+"/health")
	if resp.StatusCode != 200 || string(body) != LMStudioUnknownRoute {
		t.Errorf("lmstudio /health = %d %q", resp.StatusCode, body)
	}
	if _, body := get(t, lms.URL+"/api/v0/models"); !strings.Contains(string(body), `"max_context_length":4096`) {
		t.Errorf("lmstudio v0 models = %s", body)
	}
}

func TestPacingFlushesEachEvent(t *testing.T) {
	const pace = 30 * time.Millisecond
	srv := Ollama(t, WithPacing(pace))
	r, err := post(t, t.Context(), srv.URL+"/v1/chat/completions", "{}")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	want := MustParse(t, "ollama/chat_stream_usage").Body
	events := bytes.Count(want, []byte("\n\n"))

	// Each event must arrive on its own, a pacing delay after the previous.
	br := bufio.NewReader(r.Body)
	var got []byte
	var arrivals []time.Time
	for {
		line, err := br.ReadBytes('\n')
		got = append(got, line...)
		if bytes.Equal(line, []byte("\n")) {
			arrivals = append(arrivals, time.Now())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("paced body differs from the recording")
	}
	if len(arrivals) != events {
		t.Fatalf("%d events arrived, want %d", len(arrivals), events)
	}
	if total := arrivals[len(arrivals)-1].Sub(arrivals[0]); total < time.Duration(events-1)*pace*8/10 {
		t.Errorf("events spread over %v, want about %v: not paced", total, time.Duration(events-1)*pace)
	}
}

func TestHangReportsClientGone(t *testing.T) {
	srv := LlamaCpp(t, WithHangAfter(100))
	ctx, cancel := context.WithCancel(t.Context())
	r, err := post(t, ctx, srv.URL+"/v1/chat/completions", "{}")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	buf := make([]byte, 100)
	if _, err := io.ReadFull(r.Body, buf); err != nil {
		t.Fatal(err)
	}
	want := MustParse(t, "llama.cpp/chat_stream_usage").Body[:100]
	if !bytes.Equal(buf, want) {
		t.Errorf("first 100 bytes differ")
	}
	if srv.GoneCount() != 0 {
		t.Fatalf("gone before the client left")
	}
	cancel()
	select {
	case req := <-srv.ClientGone():
		if req.Route() != RouteChat {
			t.Errorf("gone request = %s", req.Route())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the client go")
	}
	if srv.GoneCount() != 1 {
		t.Errorf("GoneCount = %d", srv.GoneCount())
	}
}

func TestHangBeforeHeaders(t *testing.T) {
	srv := LlamaCpp(t, WithHangAfter(-1, "GET /health"))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/health", nil)
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	select {
	case <-srv.ClientGone():
	case <-time.After(5 * time.Second):
		t.Fatal("server never saw the client go")
	}
}

func TestDieMidStream(t *testing.T) {
	srv := Ollama(t, WithDieAfter(250))
	r, err := post(t, t.Context(), srv.URL+"/v1/messages", "{}")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	got, err := io.ReadAll(r.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read err = %v, want unexpected EOF", err)
	}
	want := MustParse(t, "ollama/messages_stream").Body[:250]
	if !bytes.Equal(got, want) {
		t.Errorf("got %d bytes %q, want the first 250 of the recording", len(got), got)
	}
}

func TestCloseReleasesStalledHandlers(t *testing.T) {
	srv := LlamaCpp(t, WithHangAfter(10))
	r, err := post(t, t.Context(), srv.URL+"/v1/chat/completions", "{}")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a stalled handler")
	}
}
