package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"usepod.ai/agent/core/ledger"
)

// `earnings` says when finished jobs wait in the journal, not yet counted.
func TestEarningsShowsJobsWaitingForTheLedger(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "ledger.db"+ledger.JournalSuffix)
	lines := `{"at_ms":1764500000000,"job_id":"a","model":"m","backend":"vllm","output_tokens":5,"output_per_1m":1000000}
{"at_ms":1764500000000,"job_id":"b","model":"m","backend":"vllm","output_tokens":5,"output_per_1m":1000000}
`
	os.WriteFile(journal, []byte(lines), 0o600)
	code, out, stderr := run(t, "--data-dir", dir, "earnings", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got map[string]any
	json.Unmarshal([]byte(out), &got)
	if got["pending_jobs"] != float64(2) || got["jobs"] != float64(0) {
		t.Fatalf("earnings --json: %s", out)
	}
	if _, out, _ := run(t, "--data-dir", dir, "earnings"); !strings.Contains(out, "2 finished jobs wait to be written") {
		t.Fatalf("earnings: %q", out)
	}
}
