package diagnose

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/config"
	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/telemetry"
)

// The secrets of the test setup. None may appear in any file of a bundle.
const (
	enrollCode  = "POD-ENROLL-S3CR3TC0DE9"
	apiKey      = "sk-backend-key-7f3a9c"
	urlPassword = "pw-in-the-url-41c2"
	urlToken    = "tok-in-query-88ab"
	flagSecret  = "flag-only-secret-5d1e"
)

var secrets = []string{enrollCode, apiKey, urlPassword, urlToken, flagSecret}

func secretSetup() Input {
	cfg := config.Default()
	cfg.Coordinator.EnrollmentCode = enrollCode
	cfg.Backends = []config.Backend{
		{Kind: "vllm", URL: "http://admin:" + urlPassword + "@10.0.0.5:8000", APIKey: apiKey},
		{Kind: "ollama", URL: "http://127.0.0.1:11434/?token=" + urlToken},
	}
	snap := engine.Snapshot{
		State: engine.StateOffline, Coordinator: cfg.Coordinator.URL,
		Backends: []engine.BackendStatus{{Kind: "vllm", URL: cfg.Backends[0].URL, Healthy: true, Models: 1}},
		Models:   []engine.ModelStatus{{ID: "qwen", Backend: "vllm", BackendURL: cfg.Backends[0].URL}},
		// An error message that quotes a secret, as a careless one might.
		LastError: "backend said: bad key " + apiKey,
	}
	return Input{
		At:       time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		Source:   "a test",
		Build:    CollectBuild("1.2.3"),
		System:   System{OS: "linux", Arch: "amd64", CPUs: 16},
		Hardware: &telemetry.Sample{GPUs: []telemetry.GPU{{Index: 0, Name: "NVIDIA H200", Valid: telemetry.FieldAll}}},
		Status:   &snap,
		Backends: []backend.Health{
			{Server: backend.Server{Kind: "vllm", URL: cfg.Backends[0].URL, APIKey: apiKey}, Healthy: true, Models: []backend.Model{{ID: "qwen", ContextWindow: 32768}}},
			{Server: backend.Server{Kind: "ollama", URL: cfg.Backends[1].URL}, Err: errors.New("connection refused")},
		},
		Config:  &cfg,
		Secrets: []string{flagSecret},
		LogTail: []string{
			"level=INFO msg=starting enrollment_code=" + enrollCode,
			"level=WARN msg=\"probe failed\" url=http://admin:" + urlPassword + "@10.0.0.5:8000 flag=" + flagSecret,
			"level=WARN msg=retry url=http://127.0.0.1:11434/?token=" + urlToken,
		},
		StateHistory: []StateChange{{At: time.Now(), State: "offline", LastError: "dial: " + urlToken}},
		Totals:       &ledger.Totals{TotalMicro: 1234, Jobs: 7},
	}
}

func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = string(body)
	}
	return files
}

// TestBundleHoldsNoSecret builds a bundle from a setup full of secrets and
// searches every file in it for each one.
func TestBundleHoldsNoSecret(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, secretSetup()); err != nil {
		t.Fatal(err)
	}
	// The raw zip too: a secret in a file name or comment would show here.
	for i, s := range secrets {
		if bytes.Contains(buf.Bytes(), []byte(s)) {
			t.Errorf("the zip's bytes hold secret #%d", i+1)
		}
	}
	files := unzip(t, buf.Bytes())
	AssertNoSecrets(t, files, secrets)

	// What support needs is still there.
	for name, want := range map[string]string{
		"build.json":         `"version": "1.2.3"`,
		"system.json":        `"cpus": 16`,
		"gpus.json":          "NVIDIA H200",
		"status.json":        `"state": "offline"`,
		"backends.json":      `"has_api_key": true`,
		"config.toml":        "http://admin:%5Bredacted%5D@10.0.0.5:8000",
		"agent.log":          "msg=starting enrollment_code=[redacted]",
		"state-history.json": `"state": "offline"`,
		"earnings.json":      `"total_micro": 1234`,
		"README.txt":         "config.toml",
	} {
		if !strings.Contains(files[name], want) {
			t.Errorf("%s lacks %q:\n%s", name, want, files[name])
		}
	}
	if !strings.Contains(files["backends.json"], `"id": "qwen"`) && !strings.Contains(files["backends.json"], `"ID": "qwen"`) {
		t.Errorf("backends.json lacks the model list:\n%s", files["backends.json"])
	}
	// The redacted config is still a config: support can load it.
	var c config.Config
	if _, err := toml.Decode(files["config.toml"], &c); err != nil {
		t.Fatalf("config.toml does not parse: %v", err)
	}
	if c.Coordinator.EnrollmentCode != config.RedactCode(enrollCode) || c.Backends[0].APIKey != Redacted || c.Backends[1].URL != "http://127.0.0.1:11434/?[redacted]" {
		t.Fatalf("redacted config = %+v", c)
	}
}

func TestMissingPartsAreSaid(t *testing.T) {
	var buf bytes.Buffer
	err := Write(&buf, Input{At: time.Now(), Source: "files", Notes: []string{"no agent was running"}})
	if err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	if len(files) != 3 { // README, build, system
		t.Fatalf("files = %v", keys(files))
	}
	for _, want := range []string{"(no status.json", "(no agent.log", "no agent was running"} {
		if !strings.Contains(files["README.txt"], want) {
			t.Errorf("README lacks %q:\n%s", want, files["README.txt"])
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "",
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080",
		"https://bob:pw@gpu.lan/v1":     "https://bob:%5Bredacted%5D@gpu.lan/v1",
		"https://bob@gpu.lan/v1":        "https://bob@gpu.lan/v1",
		"http://gpu.lan/?api_key=s3cr3": "http://gpu.lan/?[redacted]",
		"http://a b:pw@%zz":             "(unreadable address, left out)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTailLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.log")
	var b strings.Builder
	for i := range 5000 {
		b.WriteString(strings.Repeat("x", 300))
		b.WriteString(" line ")
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString("\n")
	}
	os.WriteFile(path, []byte(b.String()), 0o600) // 1.5 MB: more than is read
	lines, err := TailLines(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Line 4999 ends in 'a'+4999%26 = 'h'.
	if len(lines) != 3 || !strings.HasSuffix(lines[2], " line h") || !strings.HasSuffix(lines[0], " line f") {
		t.Fatalf("tail = %q", lines)
	}
	os.WriteFile(path, nil, 0o600)
	if lines, err := TailLines(path, 3); err != nil || len(lines) != 0 {
		t.Fatalf("empty file: %q %v", lines, err)
	}
	if _, err := TailLines(filepath.Join(dir, "none"), 3); err == nil {
		t.Fatal("a missing log read without error")
	}
}

func TestHistoryKeepsChanges(t *testing.T) {
	var h History
	ch := make(chan engine.Snapshot, 10)
	for _, st := range []engine.State{engine.StateConnecting, engine.StateConnecting, engine.StateWaiting, engine.StateEarning, engine.StateWaiting} {
		ch <- engine.Snapshot{State: st}
	}
	close(ch)
	h.Follow(ch)
	var got []string
	for _, c := range h.Changes() {
		got = append(got, c.State)
	}
	if strings.Join(got, ",") != "connecting,waiting for jobs,earning,waiting for jobs" {
		t.Fatalf("history = %v", got)
	}
	for range historyLen + 10 {
		h.observe(engine.Snapshot{State: engine.StateOffline, Reason: time.Now().String()})
	}
	if n := len(h.Changes()); n != historyLen {
		t.Fatalf("kept %d changes, want %d", n, historyLen)
	}
}

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}
