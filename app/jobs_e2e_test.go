package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/selftest"
	"usepod.ai/agent/internal/testrig/localcoord"
	"usepod.ai/agent/internal/testrig/replay"
)

// TestHeadlessJobRecordAndSelfTest runs the headless agent in-process
// against the local coordinator and a replayed llama.cpp server: a done
// job and a refused one both land in the ledger, `jobs` reads them while
// the agent runs, only the done one is in the earnings, and `selftest`
// runs through the agent.
func TestHeadlessJobRecordAndSelfTest(t *testing.T) {
	llama := replay.LlamaCpp(t, replay.WithPacing(2*time.Millisecond))
	const code = "POD-ENROLL-JOBREC01"
	coord, coordURL := localCoordinator(t, code)
	cfg := fmt.Sprintf(`[coordinator]
url = %q
enrollment_code = %q
allow_insecure = true

[identity]
keyring = "file"

[[backends]]
kind = "llamacpp"
url = %q
`, coordURL, code, llama.URL)
	agent := startInProcessAgent(t, cfg)
	global, sock := agent.global, agent.sock

	wctx, wcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer wcancel()
	p, err := coord.Next(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.WaitCapabilities(wctx, 0); err != nil {
		t.Fatal(err)
	}
	req := map[string]any{"messages": []map[string]string{{"role": "user", "content": "hi"}}, "max_tokens": 8}
	if res, err := p.Dispatch(wctx, localcoord.JobRequest{JobID: "rec-done", ModelID: "tiny", Request: req}); err != nil || res.Done == nil {
		t.Fatalf("done job: %v %s", err, res.Terminal.Raw)
	}
	if res, err := p.Dispatch(wctx, localcoord.JobRequest{JobID: "rec-refused", ModelID: "not-here", Request: req}); err != nil || res.Done != nil {
		t.Fatalf("refused job: %v %+v", err, res)
	}

	// The refused job is written off its goroutine: wait for it.
	var jobs []ledger.Job
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, out, errOut := run(t, append(global, "jobs", "--json")...)
		if code != 0 {
			t.Fatalf("jobs --json: exit %d %s", code, errOut)
		}
		jobs = nil
		if err := json.Unmarshal([]byte(out), &jobs); err != nil {
			t.Fatalf("jobs --json: %v\n%s", err, out)
		}
		if len(jobs) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	byID := map[string]ledger.Job{}
	for _, j := range jobs {
		byID[j.JobID] = j
	}
	done, refused := byID["rec-done"], byID["rec-refused"]
	if len(jobs) != 2 || !done.Done() || done.OutputTokens == 0 || done.EarnedE12 == 0 || done.RelayedBytes == nil || done.FirstChunkMs == nil {
		t.Fatalf("job record: %+v", jobs)
	}
	if refused.Outcome != "model_not_loaded" || refused.EarnedE12 != 0 || !strings.Contains(refused.Message, "not-here") {
		t.Fatalf("refused job on record as %+v", refused)
	}
	if code, out, _ := run(t, append(global, "jobs", "--failed")...); code != 0 || !strings.Contains(out, "1 jobs (0 done, 1 failed)") {
		t.Fatalf("jobs --failed: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, append(global, "earnings", "--json")...); code != 0 || !strings.Contains(out, `"jobs": 1,`) {
		t.Fatalf("earnings count the refused job: exit %d\n%s", code, out)
	}

	code2, out, errOut := run(t, append(global, "selftest", "--json", "--api", sock)...)
	var rs []selftest.Result
	if err := json.Unmarshal([]byte(out), &rs); code2 != 0 || err != nil || len(rs) != 1 || !rs[0].OK || rs[0].ModelID != "tiny" ||
		rs[0].Backend != "llamacpp" || rs[0].TTFTMs <= 0 || rs[0].TokensPerS <= 0 {
		t.Fatalf("selftest --json: exit %d %v %s\n%s", code2, err, errOut, out)
	}
	if code, _, errOut := run(t, append(global, "selftest", "not-here", "--api", sock)...); code != exitError || !strings.Contains(errOut, `"not-here"`) {
		t.Fatalf("selftest of a model nobody serves: exit %d %s", code, errOut)
	}
	// The self-test is not a job: it is not on record.
	if code, out, _ := run(t, append(global, "jobs")...); code != 0 || !strings.Contains(out, "2 jobs (1 done, 1 failed)") {
		t.Fatalf("jobs after the self-test: exit %d\n%s", code, out)
	}
}
