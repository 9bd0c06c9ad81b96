package jobs

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/ledger"
)

// Every job lands in a real ledger: the done one by the Manager with its
// bytes and first-chunk time, the failed and refused ones through
// OnJobEnd and FailedEntry, as the app wires them. Only the done one earns.
func TestEveryJobOnRecord(t *testing.T) {
	k := ledger.OpenKeeper(filepath.Join(t.TempDir(), "ledger.db"), nil)
	m := &Manager{
		Streamer: panicky{},
		Lookup: func(model string) (Route, bool) {
			if model == "missing" {
				return Route{}, false
			}
			return Route{Server: backend.Server{Kind: "llamacpp"}, InputPer1M: 1_000_000, OutputPer1M: 2_000_000}, true
		},
		MaxConcurrent: func() int { return 8 },
		Ledger:        k,
		Now:           time.Now,
		Log:           slog.New(slog.DiscardHandler),
		OnJobEnd: func(r Result) {
			if e, ok := FailedEntry(r); ok {
				k.RecordLater(e)
			}
		},
	}
	send := &frames{}
	m.Handle(t.Context(), send, job("ok-1", "ok"))
	m.Handle(t.Context(), send, job("boom-1", "boom"))
	m.Handle(t.Context(), send, job("missing-1", "missing"))
	for _, id := range []string{"ok-1", "boom-1", "missing-1"} {
		send.terminal(t, id)
	}
	if err := m.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	k.Close() // waits for RecordLater
	l, err := ledger.Open(k.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	page, err := l.List(t.Context(), ledger.JobQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ledger.Job{}
	for _, j := range page.Jobs {
		got[j.JobID] = j
	}
	ok := got["ok-1"]
	if !ok.Done() || ok.OutputTokens != 4 || ok.EarnedE12 != 3*1_000_000+4*2_000_000 ||
		ok.RelayedBytes == nil || *ok.RelayedBytes != int64(len("data: [DONE]\n\n")) || ok.FirstChunkMs == nil {
		t.Errorf("done job on record as %+v", ok)
	}
	if j := got["boom-1"]; j.Outcome != backend.CodeInternal || j.Message == "" || j.EarnedE12 != 0 || j.Backend != "llamacpp" {
		t.Errorf("failed job on record as %+v", j)
	}
	if j := got["missing-1"]; j.Outcome != backend.CodeModelNotFound || j.Backend != "" {
		t.Errorf("refused job on record as %+v", j)
	}
	tot, err := l.Totals(t.Context(), time.Now())
	if err != nil || tot.Jobs != 1 || tot.TotalMicro != 11 {
		t.Errorf("totals %+v (%v), want the one done job, 11 micro", tot, err)
	}
}
