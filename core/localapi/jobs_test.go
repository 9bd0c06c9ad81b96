package localapi

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/selftest"
	"usepod.ai/agent/internal/testrig/replay"
)

// jobLedger is a real ledger with 30 jobs, one a second, every third failed.
func jobLedger(t *testing.T) *ledger.Keeper {
	t.Helper()
	k := ledger.OpenKeeper(filepath.Join(t.TempDir(), "ledger.db"), nil)
	t.Cleanup(func() { k.Close() })
	base := time.Now().Add(-time.Hour)
	for i := range 30 {
		e := ledger.Entry{At: base.Add(time.Duration(i) * time.Second), JobID: fmt.Sprint("j", i), Model: fmt.Sprint("m", i%2),
			Backend: "llamacpp", InputTokens: 10, OutputTokens: 20, InputPer1M: 1_000_000, OutputPer1M: 1_000_000}
		if i%3 == 0 {
			e.Outcome, e.Message = "backend_timeout", "slow"
		}
		if err := k.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func TestJobRoutes(t *testing.T) {
	k := jobLedger(t)
	s := serve(t, ServerOptions{Engine: newFakeEngine(), Jobs: k})
	q := ledger.JobQuery{Model: "m0", Limit: 4}
	var ids []string
	for range 10 {
		p, err := s.client.ListJobs(ctxT(t), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range p.Jobs {
			ids = append(ids, j.JobID)
		}
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	if got := strings.Join(ids, " "); got != "j28 j26 j24 j22 j20 j18 j16 j14 j12 j10 j8 j6 j4 j2 j0" {
		t.Fatalf("paged m0 jobs: %s", got)
	}
	sum, err := s.client.JobSummary(ctxT(t), ledger.JobQuery{Outcome: ledger.OutcomeFailed, Since: time.Now().Add(-2 * time.Hour)})
	if err != nil || sum.Jobs != 10 || sum.Failed != 10 || sum.EarnedMicro != 0 {
		t.Fatalf("failed summary %+v %v", sum, err)
	}
	sum, err = s.client.JobSummary(ctxT(t), ledger.JobQuery{})
	if err != nil || sum.Jobs != 30 || sum.Done != 20 || sum.EarnedMicro != 20*30 {
		t.Fatalf("summary %+v %v", sum, err)
	}

	var buf bytes.Buffer
	n, err := s.client.ExportJobsCSV(ctxT(t), ledger.JobQuery{Outcome: "done"}, &buf)
	if err != nil || n != 20 {
		t.Fatalf("export %d %v", n, err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 21 || strings.Join(recs[0], ",") != strings.Join(ledger.CSVHeader, ",") || recs[1][1] != "j29" {
		t.Fatalf("csv %v %v", recs, err)
	}

	_, err = s.client.ListJobs(ctxT(t), ledger.JobQuery{Limit: ledger.MaxPage + 1})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "limit") {
		t.Fatalf("too large a page: %#v", err)
	}
	_, err = s.client.ListJobs(ctxT(t), ledger.JobQuery{After: "nonsense"})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "cursor") {
		t.Fatalf("bad cursor: %#v", err)
	}
}

// An export the agent cannot finish is an error at the client, not a
// short file that looks whole.
func TestExportCutShortIsAnError(t *testing.T) {
	k := jobLedger(t)
	s := serve(t, ServerOptions{Engine: newFakeEngine(), Jobs: k})
	k.Close() // the ledger goes away under the agent
	var buf bytes.Buffer
	if _, err := s.client.ExportJobsCSV(ctxT(t), ledger.JobQuery{}, &buf); err == nil {
		t.Fatalf("export from a closed ledger succeeded: %q", buf.String())
	}
	none := serve(t, ServerOptions{Engine: newFakeEngine()})
	_, err := none.client.ListJobs(ctxT(t), ledger.JobQuery{})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented {
		t.Fatalf("no job record: %#v, want 501", err)
	}
}

func TestSelfTestRoutes(t *testing.T) {
	llama := replay.LlamaCpp(t)
	tester := &selftest.Tester{
		Streamer: &backend.Client{},
		Servers: func() []backend.Health {
			return []backend.Health{{Server: backend.Server{Kind: "llamacpp", URL: llama.URL}, Healthy: true, Models: []backend.Model{{ID: "tiny"}}}}
		},
		Store: selftest.OpenStore(""),
	}
	s := serve(t, ServerOptions{Engine: newFakeEngine(), SelfTest: tester})
	last, err := s.client.SelfTestResults(ctxT(t))
	if err != nil || len(last) != 0 {
		t.Fatalf("before any test: %v %v", last, err)
	}
	rs, err := s.client.SelfTest(ctxT(t), []string{"tiny"})
	if err != nil || len(rs) != 1 || !rs[0].OK || rs[0].ModelID != "tiny" || rs[0].TTFTMs <= 0 {
		t.Fatalf("self-test %+v %v", rs, err)
	}
	last, err = s.client.SelfTestResults(ctxT(t))
	if err != nil || len(last) != 1 || last[0].At != rs[0].At {
		t.Fatalf("kept %+v %v", last, err)
	}
	_, err = s.client.SelfTest(ctxT(t), []string{"nope"})
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, `"nope"`) {
		t.Fatalf("unknown model: %#v", err)
	}
}
