package ledger

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// fillJobsFast adds n jobs, one every 2 s before now over 5 models, every
// 20th failed (backend_timeout), with SQL (Record would take minutes). Only
// List, Summary and WriteCSV read them, so the running sums are left out.
func fillJobsFast(tb testing.TB, l *Ledger, n int, now time.Time) {
	tb.Helper()
	_, err := l.db.ExecContext(tb.Context(), `
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ? - 1)
INSERT INTO jobs (at, job_id, model, backend, input_tokens, output_tokens,
	input_per_1m, output_per_1m, amount_e12, duration_ms, outcome, message, relayed_bytes, first_chunk_ms)
SELECT ? - i * 2000, 'fill-' || i, 'model-' || (i % 5), 'llamacpp', 100 + i % 900, 50 + i % 400,
	150000, 600000, CASE WHEN i % 20 = 0 THEN 0 ELSE (100 + i % 900) * 150000 + (50 + i % 400) * 600000 END,
	1000 + i % 3000, CASE WHEN i % 20 = 0 THEN 'backend_timeout' ELSE 'done' END,
	CASE WHEN i % 20 = 0 THEN 'the backend did not answer in time' ELSE '' END, 4000 + i % 9000, 40 + i % 300
FROM seq`, n, now.UnixMilli())
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkJobsPage measures what the Activity view asks for on a ledger
// of a million jobs: a page of 100 (the first, and one deep in the
// ledger through its cursor), with each filter, and the filter's totals.
func BenchmarkJobsPage(b *testing.B) {
	if testing.Short() {
		b.Skip("large ledger skipped in -short mode")
	}
	const rows = 1_000_000
	l := openTemp(b)
	now := time.Now()
	fillJobsFast(b, l, rows, now)
	deep, err := l.List(b.Context(), JobQuery{Limit: 1, Since: now.Add(-1_500_000 * time.Second)})
	if err != nil || len(deep.Jobs) != 1 {
		b.Fatal(deep, err)
	}
	// A cursor about 750,000 jobs down.
	deepCursor := cursor{deep.Jobs[0].At.UnixMilli(), deep.Jobs[0].ID}.String()
	for _, f := range []struct {
		name string
		q    JobQuery
	}{
		{"all", JobQuery{}},
		{"model", JobQuery{Model: "model-3"}},
		{"failed", JobQuery{Outcome: OutcomeFailed}},
		{"model+failed", JobQuery{Model: "model-0", Outcome: OutcomeFailed}},
		{"done+since7d", JobQuery{Outcome: "done", Since: now.Add(-7 * 24 * time.Hour)}},
	} {
		for _, at := range []struct{ name, after string }{{"first", ""}, {"deep", deepCursor}} {
			b.Run(fmt.Sprintf("rows=%d/%s/%s", rows, f.name, at.name), func(b *testing.B) {
				q := f.q
				q.Limit, q.After = 100, at.after
				for b.Loop() {
					p, err := l.List(b.Context(), q)
					if err != nil || len(p.Jobs) == 0 {
						b.Fatal(len(p.Jobs), err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("rows=%d/%s/summary", rows, f.name), func(b *testing.B) {
			for b.Loop() {
				if s, err := l.Summary(b.Context(), f.q); err != nil || s.Jobs == 0 {
					b.Fatal(s, err)
				}
			}
		})
	}
}

// BenchmarkWriteCSV measures `jobs --csv` of 100,000 jobs (the goal is
// under 2 s).
func BenchmarkWriteCSV(b *testing.B) {
	const rows = 100_000
	l := openTemp(b)
	fillJobsFast(b, l, rows, time.Now())
	b.Run(fmt.Sprint("rows=", rows), func(b *testing.B) {
		for b.Loop() {
			n, err := l.WriteCSV(b.Context(), io.Discard, JobQuery{})
			if err != nil || n != rows {
				b.Fatal(n, err)
			}
		}
	})
}
