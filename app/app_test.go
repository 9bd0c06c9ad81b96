package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/ledger"
)

// run runs the command line in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--data-dir", dir, "frobnicate"},
		{"--no-such-flag"},
		{"--data-dir", dir, "run", "--headless", "--keyring"},
		{"--data-dir", dir, "import"},
		{"--data-dir", dir, "run", "--headless", "extra-arg"},
	} {
		code, _, stderr := run(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "usepod-agent: ") {
			t.Errorf("%v: stderr is not one line: %q", args, stderr)
		}
	}
}

func TestGlobalFlagsBeforeAndAfterSubcommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.toml")
	os.WriteFile(cfg, []byte("[limits]\nmax_concurrent = 4\n"), 0o600)
	for _, args := range [][]string{
		{"--config", cfg, "--data-dir", dir, "validate"},
		{"validate", "--config", cfg, "--data-dir", dir},
		{"--config", cfg, "validate", "--data-dir", dir},
	} {
		code, out, stderr := run(t, args...)
		if code != 0 || !strings.Contains(out, cfg+" is valid") {
			t.Errorf("%v: exit %d out %q err %q", args, code, out, stderr)
		}
	}
}

func TestValidateNamesFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.toml")
	body := "[coordinator]\nurl = \"wss://api.usepod.ai/provider/connect\"\n\n[limits]\nmax_concurrent = 999\n"
	os.WriteFile(cfg, []byte(body), 0o600)
	code, _, stderr := run(t, "--config", cfg, "--data-dir", dir, "validate")
	if code != 2 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{cfg, "line 5", "max_concurrent"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if got, _ := os.ReadFile(cfg); string(got) != body {
		t.Fatal("validate changed the file")
	}
	// A run with the same file refuses to start, with the same words.
	code, _, stderr = run(t, "--config", cfg, "--data-dir", dir, "run", "--headless", "--keyring", "file")
	if code != 2 || !strings.Contains(stderr, "max_concurrent") {
		t.Fatalf("run with a bad config: exit %d %q", code, stderr)
	}
}

func TestEarningsJSON(t *testing.T) {
	dir := t.TempDir()
	led, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, e := range []ledger.Entry{
		{At: now, JobID: "a", Model: "tiny", Backend: "llamacpp", InputTokens: 1000, OutputTokens: 2000, InputPer1M: 100000, OutputPer1M: 300000},
		{At: now.Add(-3 * 24 * time.Hour), JobID: "b", Model: "big", Backend: "vllm", InputTokens: 1_000_000, OutputTokens: 0, InputPer1M: 500000, OutputPer1M: 1},
		{At: now.Add(-30 * 24 * time.Hour), JobID: "c", Model: "big", Backend: "vllm", InputTokens: 0, OutputTokens: 1_000_000, InputPer1M: 1, OutputPer1M: 250000},
	} {
		if err := led.Record(context.Background(), e); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	led.Close()
	code, out, stderr := run(t, "earnings", "--json", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	// a: 1000*0.1 + 2000*0.3 = 700 micro; b: 500000; c: 250000.
	want := map[string]float64{"today_micro_usdc": 700, "last_7d_micro_usdc": 500700, "total_micro_usdc": 750700, "jobs": 3}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	models, _ := got["models"].([]any)
	if len(models) != 2 {
		t.Fatalf("models = %v", got["models"])
	}
	first := models[0].(map[string]any)
	if first["model"] != "big" || first["total_micro_usdc"] != float64(750000) || first["jobs"] != float64(2) {
		t.Fatalf("models[0] = %v", first)
	}
	code, out, _ = run(t, "--data-dir", dir, "earnings")
	if code != 0 || !strings.Contains(out, "0.750700 USDC") || !strings.Contains(out, "estimate") {
		t.Fatalf("text earnings: %q", out)
	}
}

func TestIdentityWithFileKeyring(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := run(t, "--data-dir", dir, "--config", filepath.Join(dir, "none.toml"), "identity", "--keyring", "file")
	if code != 0 || !strings.Contains(out, "No identity yet") {
		t.Fatalf("exit %d: %q", code, out)
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "usepod-agent ") {
		t.Fatalf("version: %d %q", code, out)
	}
	code, out, _ = run(t, "help")
	if code != 0 || !strings.Contains(out, "earnings") || !strings.Contains(out, "--headless") {
		t.Fatalf("help: %d %q", code, out)
	}
}
