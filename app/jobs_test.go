package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/ledger"
)

func TestJobsCommand(t *testing.T) {
	dir := t.TempDir()
	l, err := ledger.Open(filepath.Join(dir, "ledger.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 12 {
		e := ledger.Entry{At: now.Add(-time.Duration(12-i) * time.Hour), JobID: fmt.Sprint("job-", i), Model: fmt.Sprint("m", i%2),
			Backend: "ollama", InputTokens: 100, OutputTokens: 50, InputPer1M: 1_000_000, OutputPer1M: 2_000_000, DurationMs: 900}
		if i%4 == 3 {
			e.Outcome, e.Message = "backend_unreachable", "nothing answers"
		}
		if err := l.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append([]string{"--data-dir", dir, "jobs"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}

	out, _, code := run()
	if code != 0 || !strings.Contains(out, "12 jobs (9 done, 3 failed), earned 0.001800 USDC") || !strings.Contains(out, "backend_unreachable") {
		t.Fatalf("table (%d):\n%s", code, out)
	}
	out, _, code = run("--csv", "--failed", "--model", "m1")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 4 || recs[1][1] != "job-11" || recs[1][4] != "backend_unreachable" || recs[1][8] != "0.000000000000" {
		t.Fatalf("csv (%d, %v):\n%s", code, err, out)
	}
	out, _, code = run("--json", "--since", "5h30m")
	var js []ledger.Job
	if err := json.Unmarshal([]byte(out), &js); code != 0 || err != nil || len(js) != 5 || js[0].JobID != "job-11" {
		t.Fatalf("json (%d, %v):\n%s", code, err, out)
	}
	out, _, code = run("--csv", "--limit", "2")
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Fatalf("csv --limit 2 (%d):\n%s", code, out)
	}
	_, errOut, code := run("--since", "last tuesday")
	if code != exitUsage || !strings.Contains(errOut, "neither a duration") {
		t.Fatalf("bad --since: %d %s", code, errOut)
	}
	_, errOut, code = run("--csv", "--json")
	if code != exitUsage {
		t.Fatalf("--csv --json: %d %s", code, errOut)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90m":                  now.Add(-90 * time.Minute),
		"7d":                   now.AddDate(0, 0, -7),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T08:00:00Z": time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	if _, err := parseSince("-3h", now); err == nil {
		t.Error("a negative duration was accepted")
	}
}
