package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTemp(t testing.TB) *Ledger {
	t.Helper()
	l, err := Open(filepath.Join(t.TempDir(), "ledger", "earnings.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// recordBatch adds entries in one transaction, the way Record adds one;
// tests use it to build large ledgers quickly.
func recordBatch(t testing.TB, l *Ledger, es []Entry) {
	t.Helper()
	ctx := context.Background()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, e := range es {
		if err := validate(e); err != nil {
			t.Fatal(err)
		}
		if err := l.insertTx(ctx, tx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func mustTotals(t *testing.T, l *Ledger, now time.Time) Totals {
	t.Helper()
	tot, err := l.Totals(t.Context(), now)
	if err != nil {
		t.Fatal(err)
	}
	return tot
}

func TestAmountExample(t *testing.T) {
	// 17 input tokens at 0.30 USDC/1M and 23 output tokens at 0.45 USDC/1M:
	// 17*300000 + 23*450000 = 5,100,000 + 10,350,000 = 15,450,000 e12
	// = 15.45 micro-USDC, shown as 15.
	if got := Amount(17, 23, 300_000, 450_000); got != 15_450_000 {
		t.Fatalf("Amount = %d, want 15450000", got)
	}
	l := openTemp(t)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	e := Entry{At: now, JobID: "j1", Model: "m", Backend: "llamacpp",
		InputTokens: 17, OutputTokens: 23, InputPer1M: 300_000, OutputPer1M: 450_000, DurationMs: 1200}
	if e.AmountMicro() != 15 {
		t.Fatalf("AmountMicro = %d, want 15", e.AmountMicro())
	}
	if err := l.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	tot := mustTotals(t, l, now)
	want := Totals{TodayMicro: 15, Last7dMicro: 15, TotalMicro: 15, TodayJobs: 1, Jobs: 1,
		Models: []ModelTotal{{Model: "m", Jobs: 1, TotalMicro: 15, TodayJobs: 1, TodayMicro: 15}}}
	if fmt.Sprint(tot) != fmt.Sprint(want) {
		t.Fatalf("Totals = %+v\nwant      %+v", tot, want)
	}
}

func TestMicroFromE12(t *testing.T) {
	for _, c := range []struct{ e12, want int64 }{
		{0, 0},
		{1, 0},
		{499_999, 0},
		{500_000, 1}, // half goes up
		{999_999, 1},
		{1_000_000, 1},
		{1_499_999, 1},
		{1_500_000, 2},
		{15_450_000, 15},
		{-1, 0},
		{-500_000, 0}, // -0.5 goes up, to 0
		{-500_001, -1},
		{-1_500_000, -1},
		{math.MaxInt64, 9_223_372_036_855},  // ...854.775807
		{math.MinInt64, -9_223_372_036_855}, // ...854.775808
	} {
		if got := MicroFromE12(c.e12); got != c.want {
			t.Errorf("MicroFromE12(%d) = %d, want %d", c.e12, got, c.want)
		}
	}
}

func TestLimitsCannotOverflow(t *testing.T) {
	e12 := Amount(MaxTokens, MaxTokens, MaxPricePer1M, MaxPricePer1M)
	if e12 != 2*MaxTokens*MaxPricePer1M || e12 <= 0 {
		t.Fatalf("Amount at the limits = %d", e12)
	}
	l := openTemp(t)
	now := time.Now()
	var es []Entry
	for i := range 4 { // 4 jobs at the limits sum past int64 in e12, not in micro
		es = append(es, Entry{At: now, JobID: fmt.Sprint(i), Model: "big",
			InputTokens: MaxTokens, OutputTokens: MaxTokens, InputPer1M: MaxPricePer1M, OutputPer1M: MaxPricePer1M})
	}
	recordBatch(t, l, es)
	tot := mustTotals(t, l, now)
	if want := int64(4 * 2 * 1e12); tot.TotalMicro != want || tot.TodayMicro != want {
		t.Fatalf("totals %+v, want %d micro", tot, want)
	}
}

func TestInvalidEntriesRefused(t *testing.T) {
	l := openTemp(t)
	ok := Entry{JobID: "ok", Model: "m", InputTokens: 1, OutputTokens: 1, InputPer1M: 1, OutputPer1M: 1}
	for name, mod := range map[string]func(*Entry){
		"empty job id":       func(e *Entry) { e.JobID = "" },
		"negative input":     func(e *Entry) { e.InputTokens = -1 },
		"huge output":        func(e *Entry) { e.OutputTokens = MaxTokens + 1 },
		"negative price":     func(e *Entry) { e.OutputPer1M = -5 },
		"huge price":         func(e *Entry) { e.InputPer1M = math.MaxInt64 },
		"negative duration":  func(e *Entry) { e.DurationMs = -1 },
		"before 1970":        func(e *Entry) { e.At = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) },
		"overflowing tokens": func(e *Entry) { e.InputTokens, e.InputPer1M = math.MaxInt64/2, 3 },
	} {
		e := ok
		mod(&e)
		err := l.Record(t.Context(), e)
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "could not save the earnings record: ") {
			t.Errorf("%s: Record error = %v, want ErrInvalid", name, err)
		}
	}
	if tot := mustTotals(t, l, time.Now()); tot.Jobs != 0 {
		t.Fatalf("refused entries were recorded: %+v", tot)
	}
}

// Each job here earns too little to show on its own (it rounds to 0
// micro-USDC); the ledger must add the exact amounts and round once.
// By default 2,000 jobs of 1 token at 500 micro-USDC per million tokens
// (5e-4 micro each); with LEDGER_MILLION=1 the literal case of 1,000,000 jobs
// of 1 token at 1 micro-USDC per million (1e-6 micro each), about a minute.
func TestTinyJobsSumExactly(t *testing.T) {
	n, price := 2_000, int64(500)
	if os.Getenv("LEDGER_MILLION") != "" {
		n, price = 1_000_000, 1
	}
	l := openTemp(t)
	now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)
	es := make([]Entry, 0, n)
	for i := range n {
		es = append(es, Entry{
			At:    now.Add(-time.Duration(i%(5*24*60)) * time.Minute), // spread over 5 days of buckets
			JobID: fmt.Sprint("tiny-", i), Model: fmt.Sprint("m", i%3),
			InputTokens: 1, InputPer1M: price,
		})
		if es[i].AmountMicro() != 0 {
			t.Fatal("a tiny job should round to 0 on its own")
		}
	}
	recordBatch(t, l, es)
	tot := mustTotals(t, l, now)
	if tot.TotalMicro != 1 || tot.Last7dMicro != 1 || tot.Jobs != int64(n) {
		t.Fatalf("totals %+v, want 1 micro-USDC over %d jobs", tot, n)
	}
	hours, err := l.Hourly(t.Context(), now, 24*5+1)
	if err != nil {
		t.Fatal(err)
	}
	var jobs int64
	for _, h := range hours {
		jobs += h.Jobs
	}
	if jobs != int64(n) {
		t.Fatalf("hourly series holds %d jobs, want %d", jobs, n)
	}
}

func TestDuplicateJobNotCountedTwice(t *testing.T) {
	l := openTemp(t)
	now := time.Now()
	e := Entry{At: now, JobID: "dup", Model: "m", InputTokens: 1000, InputPer1M: 1_000_000}
	for range 3 {
		if err := l.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	e.InputTokens = 5000 // a different report for the same job is ignored too
	if err := l.Record(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	tot := mustTotals(t, l, now)
	if tot.Jobs != 1 || tot.TotalMicro != 1000 || tot.TodayMicro != 1000 {
		t.Fatalf("totals after repeated job_done: %+v", tot)
	}
	if h, _ := l.Hourly(t.Context(), now, 1); h[0].Jobs != 1 || h[0].Micro != 1000 {
		t.Fatalf("hourly after repeated job_done: %+v", h)
	}
}

func TestTotalsBoundaries(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	now := time.Date(2026, 3, 10, 10, 30, 0, 0, loc)
	midnight := time.Date(2026, 3, 10, 0, 0, 0, 0, loc)
	weekAgo := now.Add(-7 * 24 * time.Hour)
	l := openTemp(t)
	job := func(id string, at time.Time, micro int64, model string) Entry {
		return Entry{At: at, JobID: id, Model: model, OutputTokens: micro, OutputPer1M: 1_000_000}
	}
	recordBatch(t, l, []Entry{
		job("at-midnight", midnight, 1, "a"),                             // today
		job("before-midnight", midnight.Add(-time.Millisecond), 10, "a"), // yesterday, in 7 days
		job("at-week-edge", weekAgo, 100, "b"),                           // in 7 days
		job("before-week", weekAgo.Add(-time.Millisecond), 1000, "b"),    // older
		job("future", now.Add(time.Hour), 10000, "c"),                    // dated ahead: today
	})
	tot := mustTotals(t, l, now)
	want := Totals{
		TodayMicro: 10001, TodayJobs: 2, Last7dMicro: 10111, TotalMicro: 11111, Jobs: 5,
		Models: []ModelTotal{
			{Model: "c", Jobs: 1, TotalMicro: 10000, TodayJobs: 1, TodayMicro: 10000},
			{Model: "b", Jobs: 2, TotalMicro: 1100},
			{Model: "a", Jobs: 2, TotalMicro: 11, TodayJobs: 1, TodayMicro: 1},
		},
	}
	if fmt.Sprint(tot) != fmt.Sprint(want) {
		t.Fatalf("Totals = %+v\nwant      %+v", tot, want)
	}
	// The same instant seen from UTC: midnight is two hours later, so the
	// job at local midnight is yesterday's.
	tot = mustTotals(t, l, now.UTC())
	if tot.TodayMicro != 10000 || tot.TodayJobs != 1 || tot.Last7dMicro != 10111 {
		t.Fatalf("Totals in UTC = %+v", tot)
	}
}

func TestHourlyZeroFilled(t *testing.T) {
	loc := time.FixedZone("UTC-3:30", -(3*3600 + 1800))
	now := time.Date(2026, 5, 1, 14, 20, 0, 0, loc)
	l := openTemp(t)
	recordBatch(t, l, []Entry{
		{At: time.Date(2026, 5, 1, 14, 0, 0, 0, loc), JobID: "1", Model: "m", OutputTokens: 5, OutputPer1M: 1e6},
		{At: time.Date(2026, 5, 1, 14, 19, 0, 0, loc), JobID: "2", Model: "n", OutputTokens: 6, OutputPer1M: 1e6},
		{At: time.Date(2026, 5, 1, 11, 59, 59, 0, loc), JobID: "3", Model: "m", OutputTokens: 7, OutputPer1M: 1e6},
		{At: time.Date(2026, 4, 30, 14, 59, 0, 0, loc), JobID: "4", Model: "m", OutputTokens: 8, OutputPer1M: 1e6}, // 24 h ago: out
		{At: time.Date(2026, 5, 1, 15, 0, 0, 0, loc), JobID: "5", Model: "m", OutputTokens: 9, OutputPer1M: 1e6},   // next hour: out
	})
	h, err := l.Hourly(t.Context(), now, 24)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 24 {
		t.Fatalf("%d buckets, want 24", len(h))
	}
	for i, b := range h {
		wantStart := time.Date(2026, 4, 30, 15, 0, 0, 0, loc).Add(time.Duration(i) * time.Hour)
		if !b.Start.Equal(wantStart) {
			t.Errorf("bucket %d starts %v, want %v", i, b.Start, wantStart)
		}
		var micro, jobs int64
		switch i {
		case 23: // 14:00
			micro, jobs = 11, 2
		case 20: // 11:00
			micro, jobs = 7, 1
		}
		if b.Micro != micro || b.Jobs != jobs {
			t.Errorf("bucket %d (%v) = %d micro, %d jobs; want %d, %d", i, b.Start, b.Micro, b.Jobs, micro, jobs)
		}
	}
	if _, err := l.Hourly(t.Context(), now, 0); err == nil {
		t.Error("Hourly(0) should fail")
	}
}

// TestAgainstBruteForce compares Totals and Hourly with sums taken directly
// over the entries, for zones whose hours fall on bucket edges and zones
// whose hours do not (which exercises the per-row path).
func TestAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	var es []Entry
	for i := range 1500 {
		es = append(es, Entry{
			At:           base.Add(-time.Duration(rng.Int64N(int64(10 * 24 * time.Hour)))),
			JobID:        fmt.Sprint("r", i),
			Model:        fmt.Sprint("model-", rng.IntN(4)),
			InputTokens:  rng.Int64N(5000),
			OutputTokens: rng.Int64N(2000),
			InputPer1M:   rng.Int64N(400_000),
			OutputPer1M:  rng.Int64N(900_000),
		})
	}
	l := openTemp(t)
	recordBatch(t, l, es)

	zones := []*time.Location{
		time.UTC,
		time.FixedZone("+05:30", 5*3600+1800),
		time.FixedZone("+05:45", 5*3600+2700),
		time.FixedZone("-09:30", -(9*3600 + 1800)),
		time.FixedZone("odd", 7*60+13), // no real zone, but not on bucket edges
	}
	for _, loc := range zones {
		for range 5 {
			now := base.Add(-time.Duration(rng.Int64N(int64(3 * 24 * time.Hour)))).In(loc)
			y, m, d := now.Date()
			midnight := time.Date(y, m, d, 0, 0, 0, 0, loc)
			weekAgo := now.Add(-7 * 24 * time.Hour)
			var all, today, week int64
			var todayJobs int64
			per := map[string][2]int64{}
			for _, e := range es {
				a := e.AmountE12()
				all += a
				p := per[e.Model]
				p[0] += a
				if !e.At.Before(midnight) {
					today += a
					todayJobs++
					p[1] += a
				}
				if !e.At.Before(weekAgo) {
					week += a
				}
				per[e.Model] = p
			}
			tot := mustTotals(t, l, now)
			if tot.TotalMicro != MicroFromE12(all) || tot.TodayMicro != MicroFromE12(today) ||
				tot.Last7dMicro != MicroFromE12(week) || tot.TodayJobs != todayJobs || tot.Jobs != int64(len(es)) {
				t.Fatalf("%s now=%v: totals %+v; want total %d today %d (%d jobs) week %d",
					loc, now, tot, MicroFromE12(all), MicroFromE12(today), todayJobs, MicroFromE12(week))
			}
			for _, mt := range tot.Models {
				if p := per[mt.Model]; mt.TotalMicro != MicroFromE12(p[0]) || mt.TodayMicro != MicroFromE12(p[1]) {
					t.Fatalf("%s: model %+v, want %v", loc, mt, p)
				}
			}

			hours, err := l.Hourly(t.Context(), now, 50)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hours {
				var sum, jobs int64
				for _, e := range es {
					if !e.At.Before(h.Start) && e.At.Before(h.Start.Add(time.Hour)) {
						sum += e.AmountE12()
						jobs++
					}
				}
				if h.Micro != MicroFromE12(sum) || h.Jobs != jobs {
					t.Fatalf("%s hour %v: %d micro %d jobs, want %d, %d", loc, h.Start, h.Micro, h.Jobs, MicroFromE12(sum), jobs)
				}
				if h.Start.Minute() != 0 || h.Start.Location() != loc {
					t.Fatalf("hour bucket starts at %v", h.Start)
				}
			}
		}
	}
}

func TestReopenPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earnings.db")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := l.Record(t.Context(), Entry{At: now, JobID: "a", Model: "m", OutputTokens: 3, OutputPer1M: 2_000_000}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if tot := mustTotals(t, l, now); tot.TotalMicro != 6 || tot.Jobs != 1 {
		t.Fatalf("after reopening: %+v", tot)
	}
}

func TestPragmas(t *testing.T) {
	l := openTemp(t)
	var mode string
	var sync, version, busy int
	for q, dst := range map[string]any{
		"PRAGMA journal_mode": &mode,
		"PRAGMA synchronous":  &sync,
		"PRAGMA user_version": &version,
		"PRAGMA busy_timeout": &busy,
	} {
		if err := l.db.QueryRow(q).Scan(dst); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if mode != "wal" || sync != 2 || version != len(migrations) || busy != busyTimeoutMs {
		t.Fatalf("journal_mode=%s synchronous=%d user_version=%d busy_timeout=%d", mode, sync, version, busy)
	}
	if _, err := os.Stat(l.Path() + "-wal"); err != nil {
		t.Fatalf("no WAL file beside the ledger: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earnings.db")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = Open(path)
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "newer version of the agent") {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
}

func TestCorruptFileLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earnings.db")
	junk := bytes.Repeat([]byte("this is not an SQLite file. "), 400)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err == nil {
		l.Close()
		t.Fatal("Open succeeded on a damaged file")
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("Open error = %q, want a plain ErrCorrupt naming the file", err)
	}
	t.Log(err)
	after, rerr := os.ReadFile(path)
	if rerr != nil || !bytes.Equal(after, junk) {
		t.Fatalf("the damaged file was changed or removed (%v)", rerr)
	}
}

// A file that opens but whose data pages are damaged is reported when read.
func TestCorruptPagesReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "earnings.db")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var es []Entry
	for i := range 500 {
		es = append(es, Entry{At: time.Now(), JobID: fmt.Sprint(i), Model: fmt.Sprint("m", i), OutputTokens: 1, OutputPer1M: 1})
	}
	recordBatch(t, l, es)
	var pageSize int64
	if err := l.db.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	l.Close() // checkpoints the WAL into the file
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := pageSize; i < int64(len(data)); i++ { // keep page 1 (header, schema)
		data[i] = 0xA5
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = Open(path)
	if err == nil {
		defer l.Close()
		_, err = l.Totals(t.Context(), time.Now())
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error = %v, want ErrCorrupt naming the file", err)
	}
}

// SQLite's max_page_count makes the database "full" the way a full disk
// does (SQLITE_FULL), without filling a disk.
func TestDiskFull(t *testing.T) {
	l := openTemp(t)
	var pages int
	if err := l.db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := l.db.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages+2)); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; err == nil && i < 10_000; i++ {
		err = l.Record(t.Context(), Entry{JobID: fmt.Sprint("job-", i), Model: strings.Repeat("m", 200) + fmt.Sprint(i)})
	}
	if !errors.Is(err, ErrDiskFull) || err.Error() != "could not save the earnings record: the disk is full — free some space" {
		t.Fatalf("Record error = %q, want the disk-full message", err)
	}
}

func TestConcurrentRecord(t *testing.T) {
	l := openTemp(t)
	now := time.Now()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				e := Entry{At: now, JobID: fmt.Sprint(g, "-", i%20), Model: "m", OutputTokens: 1, OutputPer1M: 1e6}
				if err := l.Record(context.Background(), e); err != nil {
					t.Error(err)
				}
				if _, err := l.Totals(context.Background(), now); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if tot := mustTotals(t, l, now); tot.Jobs != 80 || tot.TotalMicro != 80 {
		t.Fatalf("totals %+v, want 80 jobs", tot)
	}
}
