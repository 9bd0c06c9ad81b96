package ledger

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// v1Base is the time of the first job in testdata/schema1.db.
var v1Base = time.Date(2026, 11, 20, 10, 7, 0, 0, time.UTC)

// TestMigrateSchema1KeepsTotals opens a ledger written by the previous
// schema (testdata/schema1.db: 300 jobs made by that version's Record) and
// checks that its totals are exactly what that version reported, that its
// jobs are listed as done, and that new failed jobs change no total.
func TestMigrateSchema1KeepsTotals(t *testing.T) {
	src, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var v int
	if err := l.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("user_version %d (%v), want %d", v, err, len(migrations))
	}
	now := v1Base.Add(48 * time.Hour)
	// What the schema-1 agent's Totals and Hourly(72) said of this file.
	check := func(when string) {
		t.Helper()
		tot := mustTotals(t, l, now)
		if tot.TotalMicro != 16898 || tot.Jobs != 300 || tot.TodayMicro != 3581 || tot.TodayJobs != 47 || tot.Last7dMicro != 16898 {
			t.Fatalf("%s: totals %+v, want total 16898 over 300 jobs, today 3581 over 47", when, tot)
		}
		want := map[string]int64{"model-0": 5618, "model-1": 5633, "model-2": 5648}
		for _, m := range tot.Models {
			if m.TotalMicro != want[m.Model] || m.Jobs != 100 {
				t.Fatalf("%s: model %+v, want %d micro over 100 jobs", when, m, want[m.Model])
			}
		}
		h, err := l.Hourly(t.Context(), now, 72)
		if err != nil {
			t.Fatal(err)
		}
		var sum, jobs int64
		for _, b := range h {
			sum, jobs = sum+b.Micro, jobs+b.Jobs
		}
		if sum != 16890 {
			t.Fatalf("%s: hourly sum %d, want 16890", when, sum)
		}
	}
	check("after migration")

	page, err := l.List(t.Context(), JobQuery{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 5 || page.Jobs[0].JobID != "v1-job-299" || !page.Jobs[0].Done() ||
		page.Jobs[0].FirstChunkMs != nil || page.Jobs[0].RelayedBytes != nil || page.Next == "" {
		t.Fatalf("first page of the migrated ledger: %+v", page)
	}

	// Failed jobs inside the same hours and buckets, even with tokens and
	// prices set by mistake, change nothing.
	for i, out := range []string{"backend_timeout", "out_of_capacity", "cancelled", "aborted"} {
		err := l.Record(t.Context(), Entry{At: v1Base.Add(time.Duration(40+i) * time.Hour).Add(7 * time.Minute),
			JobID: "failed-" + out, Model: "model-0", Backend: "llamacpp", Outcome: out, Message: "it broke",
			InputTokens: 1000, OutputTokens: 1000, InputPer1M: 1_000_000, OutputPer1M: 1_000_000, RelayedBytes: 77})
		if err != nil {
			t.Fatal(err)
		}
	}
	check("after four failed jobs")
	s, err := l.Summary(t.Context(), JobQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Jobs != 304 || s.Done != 300 || s.Failed != 4 || s.EarnedMicro != 16898 || s.RelayedBytes != 4*77 {
		t.Fatalf("summary %+v", s)
	}
}

// fillJobs records n jobs over 3 models, one a minute before now, every
// fifth one failed, and returns them newest first.
func fillJobs(t testing.TB, l *Ledger, n int, now time.Time) []Entry {
	t.Helper()
	var es []Entry
	for i := range n {
		e := Entry{At: now.Add(-time.Duration(n-i) * time.Minute), JobID: fmt.Sprint("job-", i),
			Model: fmt.Sprint("m", i%3), Backend: "ollama", InputTokens: int64(i), OutputTokens: int64(2 * i),
			InputPer1M: 333_333, OutputPer1M: 777_777, DurationMs: int64(i), RelayedBytes: int64(10 * i),
			FirstChunk: time.Duration(i) * time.Millisecond}
		if i%5 == 4 {
			e.Outcome, e.Message = "backend_timeout", fmt.Sprint("timed out, job ", i)
		}
		es = append(es, e)
	}
	recordBatch(t, l, es)
	slices.Reverse(es)
	return es
}

func TestListPagesEveryJobOnce(t *testing.T) {
	l := openTemp(t)
	now := time.Now()
	all := fillJobs(t, l, 250, now)
	// Two jobs in the same millisecond: the id breaks the tie across a page edge.
	same := now.Add(-10 * time.Second)
	recordBatch(t, l, []Entry{{At: same, JobID: "tie-a", Model: "m0"}, {At: same, JobID: "tie-b", Model: "m0"}})
	all = append([]Entry{{At: same, JobID: "tie-b"}, {At: same, JobID: "tie-a"}}, all...)

	for _, tc := range []struct {
		q    JobQuery
		keep func(Entry) bool
	}{
		{JobQuery{}, func(Entry) bool { return true }},
		{JobQuery{Model: "m1"}, func(e Entry) bool { return e.Model == "m1" }},
		{JobQuery{Outcome: OutcomeFailed}, func(e Entry) bool { return !e.Done() }},
		{JobQuery{Outcome: "done", Model: "m2"}, func(e Entry) bool { return e.Done() && e.Model == "m2" }},
		{JobQuery{Model: "m0", Outcome: OutcomeFailed, Since: now.Add(-100 * time.Minute)},
			func(e Entry) bool { return e.Model == "m0" && !e.Done() && !e.At.Before(now.Add(-100*time.Minute)) }},
		{JobQuery{Until: now.Add(-200 * time.Minute)}, func(e Entry) bool { return e.At.Before(now.Add(-200 * time.Minute)) }},
	} {
		var want []string
		for _, e := range all {
			if e.Model == "" {
				e.Model = "m0"
			}
			if tc.keep(e) {
				want = append(want, e.JobID)
			}
		}
		var got []string
		q := tc.q
		q.Limit = 7
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			p, err := l.List(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range p.Jobs {
				got = append(got, j.JobID)
			}
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: listed %d jobs %v\nwant %d %v", tc.q, len(got), got, len(want), want)
		}
	}
	if _, err := l.List(t.Context(), JobQuery{Limit: 5, After: "garbage"}); err == nil {
		t.Error("a bad cursor was accepted")
	}
	if _, err := l.List(t.Context(), JobQuery{Limit: 0}); err == nil {
		t.Error("a page of 0 was accepted")
	}
}

func TestSummaryMatchesRows(t *testing.T) {
	l := openTemp(t)
	now := time.Now()
	all := fillJobs(t, l, 100, now)
	for _, q := range []JobQuery{{}, {Model: "m2"}, {Outcome: OutcomeFailed}, {Outcome: "done"}, {Since: now.Add(-30 * time.Minute)}} {
		var want JobTotals
		var e12 int64
		l.Each(t.Context(), q, func(j Job) error {
			want.Jobs++
			if j.Done() {
				want.Done++
			} else {
				want.Failed++
				if j.EarnedE12 != 0 {
					t.Errorf("failed job %s earned %d", j.JobID, j.EarnedE12)
				}
			}
			e12 += j.EarnedE12
			want.InputTokens += j.InputTokens
			want.OutputTokens += j.OutputTokens
			want.RelayedBytes += *j.RelayedBytes
			return nil
		})
		want.EarnedMicro = MicroFromE12(e12)
		got, err := l.Summary(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || got.Jobs == 0 {
			t.Errorf("%+v: summary %+v, want %+v", q, got, want)
		}
	}
	// Totals count the done jobs only.
	tot := mustTotals(t, l, now)
	var doneE12 int64
	for _, e := range all {
		doneE12 += e.AmountE12()
	}
	if tot.Jobs != 80 || tot.TotalMicro != MicroFromE12(doneE12) {
		t.Errorf("totals %d jobs %d micro, want the 80 done, %d micro", tot.Jobs, tot.TotalMicro, MicroFromE12(doneE12))
	}
}

func TestCSVExport(t *testing.T) {
	l := openTemp(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 89_000_000, time.FixedZone("X", 3600))
	recordBatch(t, l, []Entry{
		{At: at, JobID: "j1", Model: "llama, 8B \"q4\"", Backend: "llamacpp", InputTokens: 3, OutputTokens: 1,
			InputPer1M: 1, OutputPer1M: 1_500_000, DurationMs: 1234, RelayedBytes: 999, FirstChunk: 87 * time.Millisecond},
		{At: at.Add(time.Second), JobID: "j2", Model: "m", Backend: "", Outcome: "model_not_found", Message: "not\nserved"},
	})
	var buf bytes.Buffer
	n, err := l.WriteCSV(t.Context(), &buf, JobQuery{})
	if err != nil || n != 2 {
		t.Fatal(n, err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		CSVHeader,
		{"2026-03-04T04:06:08.089Z", "j2", "m", "", "model_not_found", "not\nserved", "0", "0", "0.000000000000", "0", "", "0", "0.000000", "0.000000"},
		{"2026-03-04T04:06:07.089Z", "j1", "llama, 8B \"q4\"", "llamacpp", "done", "", "3", "1", "0.000001500003", "1234", "87", "999", "0.000001", "1.500000"},
	}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Fatalf("csv\n%q\nwant\n%q", recs, want)
	}
	// The documented columns, in this order, are a promise to scripts.
	if fmt.Sprint(CSVHeader) != "[ended_at job_id model backend outcome error_message input_tokens output_tokens earned_usdc duration_ms first_chunk_ms relayed_bytes input_price_per_1m_usdc output_price_per_1m_usdc]" {
		t.Fatalf("CSV columns changed: %v", CSVHeader)
	}
	// An error from the writer stops the export and is returned.
	if _, err := l.WriteCSV(t.Context(), failWriter{}, JobQuery{}); err == nil {
		t.Error("a failing writer went unnoticed")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestKeeperRecordLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	k := OpenKeeper(path, nil)
	for i := range 50 {
		k.RecordLater(Entry{JobID: fmt.Sprint("f", i), Model: "m", Outcome: "backend_error", Message: "boom"})
	}
	k.Close() // waits for them
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := l.Summary(t.Context(), JobQuery{Outcome: OutcomeFailed})
	if err != nil || s.Jobs != 50 || s.Failed != 50 {
		t.Fatalf("%+v %v", s, err)
	}
	if tot := mustTotals(t, l, time.Now()); tot.Jobs != 0 {
		t.Fatalf("failed jobs in the totals: %+v", tot)
	}
	k.RecordLater(Entry{JobID: "late", Model: "m", Outcome: "aborted"}) // after Close: logged, no panic
}

// The edge of "the last 7 days" cuts through a 15-minute bucket, whose
// jobs are summed row by row: a failed job there is not counted either.
func TestFailedJobsNotInCutBuckets(t *testing.T) {
	l := openTemp(t)
	now := time.Date(2026, 11, 30, 10, 7, 0, 0, time.UTC) // 7 days back is 10:07, inside the 10:00 bucket
	weekAgo := now.Add(-7 * 24 * time.Hour)
	recordBatch(t, l, []Entry{
		{At: weekAgo.Add(time.Minute), JobID: "done-in", Model: "m", InputTokens: 1, InputPer1M: 5_000_000},
		{At: weekAgo.Add(2 * time.Minute), JobID: "failed-in", Model: "m", Outcome: "internal", InputTokens: 1, InputPer1M: 7_000_000},
		{At: weekAgo.Add(-time.Minute), JobID: "done-out", Model: "m", InputTokens: 1, InputPer1M: 11_000_000},
		{At: now.Add(-30 * time.Second), JobID: "failed-today", Model: "m", Outcome: "aborted", InputTokens: 1, InputPer1M: 13_000_000},
	})
	tot := mustTotals(t, l, now)
	if tot.Last7dMicro != 5 || tot.TotalMicro != 16 || tot.Jobs != 2 || tot.TodayJobs != 0 || tot.TodayMicro != 0 {
		t.Fatalf("totals %+v: want 5 micro in the week, 16 in all, 2 jobs, none today", tot)
	}
	// An hour that starts 7 minutes past a bucket edge (a made-up zone)
	// cuts the 09:45 bucket, where a failed and a done job are.
	odd := time.FixedZone("odd", 7*60)
	recordBatch(t, l, []Entry{
		{At: time.Date(2026, 11, 30, 9, 55, 0, 0, time.UTC), JobID: "failed-cut", Model: "m", Outcome: "backend_timeout"},
		{At: time.Date(2026, 11, 30, 9, 56, 0, 0, time.UTC), JobID: "done-cut", Model: "m", InputTokens: 1, InputPer1M: 3_000_000},
	})
	h, err := l.Hourly(t.Context(), time.Date(2026, 11, 30, 10, 30, 0, 0, time.UTC).In(odd), 1) // 09:53–10:53 UTC
	if err != nil || h[0].Jobs != 1 || h[0].Micro != 3 {
		t.Fatalf("hourly %+v %v: want the one done job, 3 micro", h, err)
	}
}
