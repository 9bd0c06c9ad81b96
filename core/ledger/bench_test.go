package ledger

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRecord measures one durable Record (a commit synced to disk).
func BenchmarkRecord(b *testing.B) {
	l := openTemp(b)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		e := Entry{JobID: fmt.Sprint("bench-", i), Model: fmt.Sprint("model-", i%5), Backend: "llamacpp",
			InputTokens: 512, OutputTokens: 256, InputPer1M: 150_000, OutputPer1M: 600_000, DurationMs: 900}
		if err := l.Record(ctx, e); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkFirstRecordAfterRestart measures the first Record after the
// Keeper reopens a ledger that was closed cleanly — the record of the
// first job after an agent restart — beside the Record after it
// (first_record_µs and next_record_µs, medians; ns/op is the whole
// close, open and two records). See Ledger.startWAL.
func BenchmarkFirstRecordAfterRestart(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ledger.db")
	k := OpenKeeper(path, nil)
	ctx := b.Context()
	i := 0
	record := func() time.Duration {
		i++
		e := Entry{JobID: fmt.Sprint("bench-", i), Model: "model", Backend: "llamacpp",
			InputTokens: 512, OutputTokens: 256, InputPer1M: 150_000, OutputPer1M: 600_000, DurationMs: 900}
		start := time.Now()
		if err := k.Record(ctx, e); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	record()
	var first, next []time.Duration
	for b.Loop() {
		k.Close() // SQLite deletes the WAL, as at every clean stop
		k = OpenKeeper(path, nil)
		first = append(first, record())
		next = append(next, record())
	}
	k.Close()
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2].Nanoseconds()) / 1e3
	}
	b.ReportMetric(median(first), "first_record_µs")
	b.ReportMetric(median(next), "next_record_µs")
}

// BenchmarkRecordConcurrent records from 64 goroutines at once, as when
// many jobs end together: group commit shares one sync among them.
func BenchmarkRecordConcurrent(b *testing.B) {
	l := openTemp(b)
	ctx := b.Context()
	var n atomic.Int64
	b.SetParallelism(32) // x GOMAXPROCS goroutines
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			e := Entry{JobID: fmt.Sprint("bench-", i), Model: fmt.Sprint("model-", i%5), Backend: "llamacpp",
				InputTokens: 512, OutputTokens: 256, InputPer1M: 150_000, OutputPer1M: 600_000, DurationMs: 900}
			if err := l.Record(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	t, err := l.Totals(ctx, time.Now())
	if err != nil || t.Jobs != n.Load() {
		b.Fatalf("ledger holds %d jobs, recorded %d (%v)", t.Jobs, n.Load(), err)
	}
}

// BenchmarkTotals measures Totals and Hourly(24) on ledgers of 100,000 and
// 1,000,000 jobs spread over the last 30 days across 5 models.
func BenchmarkTotals(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint("rows=", rows), func(b *testing.B) {
			if rows > 100_000 && testing.Short() {
				b.Skip("large ledger skipped in -short mode")
			}
			l := openTemp(b)
			now := time.Now()
			fillFast(b, l, rows, now, 30*24*time.Hour)
			b.Run("Totals", func(b *testing.B) {
				for b.Loop() {
					t, err := l.Totals(b.Context(), now)
					if err != nil || t.Jobs != int64(rows) {
						b.Fatal(t, err)
					}
				}
			})
			b.Run("Hourly24", func(b *testing.B) {
				for b.Loop() {
					if _, err := l.Hourly(b.Context(), now, 24); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// fillFast adds n jobs evenly spread over span before now, and their
// running sums, with a few SQL statements (Record would take minutes).
func fillFast(tb testing.TB, l *Ledger, n int, now time.Time, span time.Duration) {
	tb.Helper()
	step := span.Milliseconds() / int64(n)
	_, err := l.db.ExecContext(tb.Context(), `
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ? - 1)
INSERT INTO jobs (at, job_id, model, backend, input_tokens, output_tokens,
	input_per_1m, output_per_1m, amount_e12, duration_ms)
SELECT ? - i * ?, 'fill-' || i, 'model-' || (i % 5), 'llamacpp', 100 + i % 900, 50 + i % 400,
	150000, 600000, (100 + i % 900) * 150000 + (50 + i % 400) * 600000, 1000
FROM seq;
INSERT INTO model_totals (model, jobs, micro, frac)
SELECT model, count(*), sum(amount_e12 / 1000000), sum(amount_e12 % 1000000) FROM jobs GROUP BY model;
INSERT INTO buckets (start_ms, model, jobs, micro, frac)
SELECT at / 900000 * 900000, model, count(*), sum(amount_e12 / 1000000), sum(amount_e12 % 1000000)
FROM jobs GROUP BY 1, 2;`, n, now.UnixMilli(), step)
	if err != nil {
		tb.Fatal(err)
	}
}
