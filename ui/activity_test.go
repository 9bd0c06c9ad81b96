package ui

import (
	"context"
	"database/sql"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"usepod.ai/agent/core/backend"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/selftest"
	"usepod.ai/agent/internal/testrig/replay"
)

// opsEngine is the fake engine with the operator's tools of a real agent:
// a real ledger for the job record and real self-tests against replayed
// servers; only the local API's transport is left out.
type opsEngine struct {
	*fakeEngine
	led    *ledger.Ledger
	tester *selftest.Tester
	lists  int // ListJobs calls
}

func (o *opsEngine) ListJobs(ctx context.Context, q ledger.JobQuery) (ledger.JobPage, error) {
	o.lists++
	return o.led.List(ctx, q)
}
func (o *opsEngine) JobSummary(ctx context.Context, q ledger.JobQuery) (ledger.JobTotals, error) {
	return o.led.Summary(ctx, q)
}
func (o *opsEngine) ExportJobsCSV(ctx context.Context, q ledger.JobQuery, w io.Writer) (int, error) {
	return o.led.WriteCSV(ctx, w, q)
}
func (o *opsEngine) SelfTest(ctx context.Context, models []string) ([]selftest.Result, error) {
	return o.tester.Run(ctx, models)
}
func (o *opsEngine) SelfTestResults(ctx context.Context) ([]selftest.Result, error) {
	return o.tester.Last(), nil
}
func (o *opsEngine) Diagnose(ctx context.Context) ([]byte, error) { return []byte("PK zip"), nil }

// newOpsEngine has a ledger of n jobs over the two models of
// earningSnapshot, one every 37 s before testClock, every 7th failed.
func newOpsEngine(t testing.TB, n int) *opsEngine {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	led, err := ledger.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	bulkJobs(t, path, n)
	llama, ollama := replay.LlamaCpp(t, replay.WithPacing(15*time.Millisecond)), replay.Ollama(t, replay.WithPacing(5*time.Millisecond))
	return &opsEngine{
		fakeEngine: newFakeEngine(earningSnapshot()),
		led:        led,
		tester: &selftest.Tester{
			Streamer: &backend.Client{},
			Servers: func() []backend.Health {
				return []backend.Health{
					{Server: backend.Server{Kind: "llamacpp", URL: llama.URL}, Healthy: true, Models: []backend.Model{{ID: "gpt-oss:20b"}}},
					{Server: backend.Server{Kind: "ollama", URL: ollama.URL}, Healthy: true, Models: []backend.Model{{ID: "llama3:8b"}}},
				}
			},
			Store: selftest.OpenStore(""),
		},
	}
}

// bulkJobs writes n jobs into the ledger file with one statement, as the
// ledger's own Record would lay them out (Record one by one takes minutes
// for a million).
func bulkJobs(t testing.TB, path string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(`
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < ? - 1)
INSERT INTO jobs (at, job_id, model, backend, input_tokens, output_tokens,
	input_per_1m, output_per_1m, amount_e12, duration_ms, outcome, message, relayed_bytes, first_chunk_ms)
SELECT ? - i * 37000, 'job-' || printf('%07d', i), CASE WHEN i % 3 = 0 THEN 'llama3:8b' ELSE 'gpt-oss:20b' END, 'ollama',
	CASE WHEN i % 7 = 3 THEN 0 ELSE 200 + i % 900 END, CASE WHEN i % 7 = 3 THEN 0 ELSE 40 + i % 300 END, 100000, 300000,
	CASE WHEN i % 7 = 3 THEN 0 ELSE (200 + i % 900) * 100000 + (40 + i % 300) * 300000 END,
	800 + i % 5000, CASE WHEN i % 7 = 3 THEN (CASE WHEN i % 2 = 0 THEN 'backend_timeout' ELSE 'out_of_capacity' END) ELSE 'done' END,
	CASE WHEN i % 7 = 3 THEN (CASE WHEN i % 2 = 0 THEN 'the job''s deadline of 2m0s passed' ELSE 'agent is serving its maximum of 4 jobs' END) ELSE '' END,
	CASE WHEN i % 7 = 3 THEN 0 ELSE 3000 + i % 9000 END, CASE WHEN i % 7 = 3 THEN NULL ELSE 90 + i % 400 END
FROM seq`, n, testClock.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
}

// cell is the text of the Activity table's cell.
func (a *activityWindow) cell(row, col int) string { return jobCells(a.rows[row])[col] }

func TestActivityPagesAndFilters(t *testing.T) {
	eng := newOpsEngine(t, 250)
	u, _ := newTestUI(t, eng, nil, Actions{})
	u.dashboard().apply(earningSnapshot(), testClock)
	u.ShowActivity()
	a := u.activity
	if a == nil {
		t.Fatal("no Activity window")
	}
	a.period.SetSelected("All time")
	if len(a.rows) != activityPage || a.cell(0, 1) != "llama3:8b" || a.rows[0].JobID != "job-0000000" {
		t.Fatalf("first page: %d rows, first %+v", len(a.rows), a.rows[0])
	}
	if !strings.HasPrefix(a.totals.Text, "250 jobs: 214 done, 36 failed") {
		t.Fatalf("totals %q", a.totals.Text)
	}
	if !a.newer.Disabled() || a.older.Disabled() || a.page.Text != "Jobs 1–100" {
		t.Fatalf("pager on page 1: newer %v older %v %q", a.newer.Disabled(), a.older.Disabled(), a.page.Text)
	}
	test.Tap(a.older)
	test.Tap(a.older)
	if len(a.rows) != 50 || a.rows[0].JobID != "job-0000200" || !a.older.Disabled() || a.page.Text != "Jobs 201–250" {
		t.Fatalf("last page: %d rows from %s, %q", len(a.rows), a.rows[0].JobID, a.page.Text)
	}
	test.Tap(a.newer)
	if a.rows[0].JobID != "job-0000100" {
		t.Fatalf("back one page: %s", a.rows[0].JobID)
	}

	a.outcome.SetSelected("Failed (any)")
	a.model.SetSelected("llama3:8b")
	for i := range a.rows {
		if a.rows[i].Model != "llama3:8b" || a.rows[i].Done() || a.cell(i, 6) != "—" {
			t.Fatalf("filtered row %+v", a.rows[i])
		}
	}
	if len(a.rows) == 0 || !strings.Contains(a.totals.Text, "0 done") || !strings.Contains(a.totals.Text, "earned 0.00") {
		t.Fatalf("failed llama3 jobs: %d rows, totals %q", len(a.rows), a.totals.Text)
	}
	if got := outcomeText(a.rows[0].Outcome); got != "Timed out" && got != "Over capacity" {
		t.Fatalf("outcome in words: %q", got)
	}
}

func TestModelsSelfTestColumn(t *testing.T) {
	eng := newOpsEngine(t, 0)
	u, _ := newTestUI(t, eng, nil, Actions{})
	d := u.dashboard()
	d.apply(earningSnapshot(), testClock)
	rows := d.models.rows
	if len(rows) != 2 || rows[0].test == nil || rows[0].test.Text != "Not tested" {
		t.Fatalf("rows before a test: %+v", rows)
	}
	test.Tap(rows[0].testButton)
	if r := rows[0].test.Text; !strings.Contains(r, " ms · ") || !strings.HasSuffix(r, " tok/s") {
		t.Fatalf("after Test: %q", r)
	}
	if rows[1].test.Text != "Not tested" {
		t.Fatalf("the other model: %q", rows[1].test.Text)
	}
	// Without Operations (an engine in process), no such columns.
	plain, _ := newTestUI(t, newFakeEngine(earningSnapshot()), nil, Actions{})
	pd := plain.dashboard()
	pd.apply(earningSnapshot(), testClock)
	if pd.models.rows[0].test != nil || len(pd.models.cols) != len(modelColumns) {
		t.Fatal("self-test columns without Operations")
	}
}

// TestScreenshots renders the Activity window and the dashboard with
// self-test results to PNG: under $USEPOD_SCREENSHOTS when set (make
// screenshots), else into the test's temporary folder.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("USEPOD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	eng := newOpsEngine(t, 5000)
	u, _ := newTestUI(t, eng, &fakeHW{view: gpuSample()}, Actions{})
	d := u.dashboard()
	d.apply(earningSnapshot(), testClock)
	d.hardware.apply(gpuSample(), []HardwareView{gpuSample(), gpuSample()})
	test.Tap(d.models.rows[0].testButton)
	test.Tap(d.models.rows[1].testButton)
	d.win.Resize(fyne.NewSize(1280, 720))
	writePNG(t, filepath.Join(dir, "dashboard-selftest.png"), d.win)

	u.ShowActivity()
	u.activity.win.Resize(fyne.NewSize(1180, 640))
	writePNG(t, filepath.Join(dir, "activity.png"), u.activity.win)
	u.activity.outcome.SetSelected("Failed (any)")
	writePNG(t, filepath.Join(dir, "activity-failed.png"), u.activity.win)
}

func writePNG(t *testing.T, path string, w fyne.Window) {
	t.Helper()
	fillNilRects(w.Canvas().Content())
	// The test canvas has no frame loop: a resize lays out what changed.
	size := w.Canvas().Size()
	w.Resize(size.SubtractWidthHeight(10, 10))
	w.Resize(size)
	img := w.Canvas().Capture()
	if img.Bounds().Dx() < 100 {
		t.Fatalf("%s: captured %v", path, img.Bounds())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// BenchmarkActivityOlderPage measures a tap on Older in the Activity
// window on a ledger of a million jobs: the page read (keyset) and the
// table refreshed.
func BenchmarkActivityOlderPage(b *testing.B) {
	eng := newOpsEngine(b, 1_000_000)
	a := test.NewTempApp(b)
	u := newUI(a, eng, nil, Actions{}, nil)
	u.do = func(f func()) { f() }
	u.async = func(f func()) { f() }
	u.now = func() time.Time { return testClock }
	u.dashboard().apply(earningSnapshot(), testClock)
	u.ShowActivity()
	w := u.activity
	w.period.SetSelected("All time")
	for b.Loop() {
		if w.next == "" { // at the oldest page: start again
			w.reload()
		}
		test.Tap(w.older)
		if len(w.rows) == 0 {
			b.Fatal("empty page")
		}
	}
	b.ReportMetric(float64(len(w.afters)), "pages_deep")
}

// fillNilRects gives the invisible spacer rectangles (fixedSize) a
// transparent fill: the test driver's software painter cannot draw a nil
// colour, which the GL painter skips.
func fillNilRects(o fyne.CanvasObject) {
	switch v := o.(type) {
	case *canvas.Rectangle:
		if v.FillColor == nil {
			v.FillColor = color.Transparent
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(v).Objects() {
			fillNilRects(c)
		}
	case *fyne.Container:
		for _, c := range v.Objects {
			fillNilRects(c)
		}
	}
}

func TestOpsTexts(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{selftestText(selftest.Result{OK: true, TTFTMs: 182.4, TokensPerS: 45.26}, true, false), "182 ms · 45.3 tok/s"},
		{selftestText(selftest.Result{OK: true, TTFTMs: 4.04, TokensPerS: 150}, true, false), "4.0 ms · 150.0 tok/s"},
		{selftestText(selftest.Result{Error: "the server did not report token usage, so jobs on this model would earn nothing"}, true, false),
			"Failed: the server did not report token usage, …"},
		{selftestText(selftest.Result{}, false, false), "Not tested"},
		{selftestText(selftest.Result{OK: true}, true, true), "Testing…"},
		{pageText(1, 0), "No jobs"},
		{pageText(3, 17), "Jobs 201–217"},
		{jobTotalsText(ledger.JobTotals{}), "No jobs match."},
		{jobTotalsText(ledger.JobTotals{Jobs: 1, Done: 1, EarnedMicro: 1500, InputTokens: 10, OutputTokens: 2}),
			"1 job: 1 done, 0 failed · earned 0.001500 USDC · 10 tokens in, 2 out"},
		{outcomeText("backend_timeout"), "Timed out"},
		{outcomeText("something_new"), "something_new"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
