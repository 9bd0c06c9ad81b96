package ui

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/core/selftest"
	"usepod.ai/agent/ui/present"
)

// Operations are the operator's tools the dashboard offers when its Engine
// has them (*localapi.Client does): the job record, the models'
// self-tests and the support bundle. An Engine without them shows none of
// those controls. Every method may block; the UI calls them off the UI
// goroutine.
type Operations interface {
	ListJobs(ctx context.Context, q ledger.JobQuery) (ledger.JobPage, error)
	JobSummary(ctx context.Context, q ledger.JobQuery) (ledger.JobTotals, error)
	ExportJobsCSV(ctx context.Context, q ledger.JobQuery, w io.Writer) (int, error)
	SelfTest(ctx context.Context, models []string) ([]selftest.Result, error)
	SelfTestResults(ctx context.Context) ([]selftest.Result, error)
	Diagnose(ctx context.Context) ([]byte, error)
}

// ops returns the engine's Operations, or nil.
func (u *UI) ops() Operations {
	o, _ := u.eng.(Operations)
	return o
}

// activityPage is how many jobs one page of the Activity window shows.
const activityPage = 100

// opsTimeout bounds a call for one page or a summary; a summary of a
// million jobs takes about half a second.
const opsTimeout = 30 * time.Second

// The outcome filter's choices: label and JobQuery.Outcome.
var outcomeChoices = []struct{ label, outcome string }{
	{"All outcomes", ledger.OutcomeAny},
	{"Done", ledger.OutcomeDone},
	{"Failed (any)", ledger.OutcomeFailed},
	{"Timed out", "backend_timeout"},
	{"Server unreachable", "backend_unreachable"},
	{"Server error", "internal"},
	{"Rejected by server", "auth_rejected_by_backend"},
	{"Model not loaded", "model_not_loaded"},
	{"Over capacity", "out_of_capacity"},
	{"Cancelled", "cancelled"},
	{"Connection lost", "aborted"},
}

// The period filter's choices: label and how far back (0: all time).
var periodChoices = []struct {
	label string
	back  time.Duration
}{
	{"Last hour", time.Hour},
	{"Last 24 hours", 24 * time.Hour},
	{"Last 7 days", 7 * 24 * time.Hour},
	{"Last 30 days", 30 * 24 * time.Hour},
	{"All time", 0},
}

const allModels = "All models"

// activityColumns are the job table's headings.
var activityColumns = []string{"Ended", "Model", "Outcome", "First chunk", "Duration", "Tokens in / out", "Earned (USDC)", "Message"}

var activityWidths = []float32{160, 200, 150, 100, 90, 130, 120, 320}

// activityWindow lists the job record, newest first, a page at a time
// (keyset paging: every page costs the same however deep), with filters
// and the filter's totals. Its fields are touched on the UI goroutine only.
type activityWindow struct {
	u   *UI
	ops Operations
	win fyne.Window

	model, outcome, period *widget.Select
	totals                 *widget.Label
	status                 *widget.Label // loading, or the last error
	table                  *widget.Table
	newer, older           *widget.Button
	page                   *widget.Label

	rows    []ledger.Job
	cells   [][]string      // rows as the table shows them, made once per page
	q       ledger.JobQuery // the filter shown, without After and Limit
	afters  []string        // After of each page up to the one shown ("" for the first)
	next    string          // After of the next older page; "" when none
	listGen int             // bumps with each request, so a late answer to an old one is dropped
	sumGen  int
}

// ShowActivity opens the Activity window, or brings it to the front. Call
// it on the UI goroutine. It does nothing when the engine has no
// Operations.
func (u *UI) ShowActivity() {
	if u.activity != nil {
		u.activity.win.Show()
		u.activity.win.RequestFocus()
		return
	}
	o := u.ops()
	if o == nil {
		return
	}
	u.activity = newActivityWindow(u, o)
	u.activity.win.SetOnClosed(func() { u.activity = nil })
	u.activity.win.Show()
	u.activity.reload()
}

func newActivityWindow(u *UI, o Operations) *activityWindow {
	a := &activityWindow{u: u, ops: o, win: u.app.NewWindow("Activity — Use Pod Agent")}
	a.model = widget.NewSelect(a.modelChoices(), func(string) { a.reload() })
	a.model.SetSelectedIndex(0)
	var outcomes []string
	for _, c := range outcomeChoices {
		outcomes = append(outcomes, c.label)
	}
	a.outcome = widget.NewSelect(outcomes, func(string) { a.reload() })
	a.outcome.SetSelectedIndex(0)
	var periods []string
	for _, c := range periodChoices {
		periods = append(periods, c.label)
	}
	a.period = widget.NewSelect(periods, func(string) { a.reload() })
	a.period.SetSelectedIndex(2) // the last 7 days
	a.totals = widget.NewLabel("")
	a.totals.TextStyle.Bold = true
	a.totals.Wrapping = fyne.TextWrapWord
	a.status = errorLabel()

	a.table = widget.NewTableWithHeaders(
		func() (int, int) { return len(a.rows), len(activityColumns) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			l := o.(*widget.Label)
			if id.Row >= len(a.cells) {
				l.SetText("")
				return
			}
			cells := a.cells[id.Row]
			l.Importance = widget.MediumImportance
			if id.Col == 2 && !a.rows[id.Row].Done() {
				l.Importance = widget.WarningImportance
			}
			l.Alignment = fyne.TextAlignLeading
			if id.Col >= 3 && id.Col <= 6 {
				l.Alignment = fyne.TextAlignTrailing
			}
			l.SetText(cells[id.Col])
		})
	a.table.ShowHeaderColumn = false
	a.table.CreateHeader = func() fyne.CanvasObject {
		l := widget.NewLabel("")
		l.TextStyle.Bold = true
		return l
	}
	a.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 {
			o.(*widget.Label).SetText(activityColumns[id.Col])
		}
	}
	for i, w := range activityWidths {
		a.table.SetColumnWidth(i, w)
	}

	a.newer = widget.NewButtonWithIcon("Newer", theme.NavigateBackIcon(), a.showNewer)
	a.older = widget.NewButtonWithIcon("Older", theme.NavigateNextIcon(), a.showOlder)
	a.older.IconPlacement = widget.ButtonIconTrailingText
	a.page = widget.NewLabel("")
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), a.reload)
	export := widget.NewButtonWithIcon("Export CSV…", theme.DocumentSaveIcon(), a.export)

	filters := container.NewHBox(a.model, a.outcome, a.period, refresh)
	top := container.NewVBox(
		container.NewBorder(nil, nil, nil, export, filters),
		a.totals, a.status)
	pager := container.NewHBox(a.newer, a.page, a.older)
	a.win.SetContent(container.NewBorder(top, container.NewCenter(pager), nil, nil, a.table))
	a.win.Resize(fyne.NewSize(1180, 640))
	return a
}

// modelChoices are the models the agent serves now and those it has
// earned with, after "All models".
func (a *activityWindow) modelChoices() []string {
	var ms []string
	if d := a.u.dash; d != nil {
		for _, m := range d.last.Models {
			ms = append(ms, m.ID)
		}
		for _, m := range d.last.Earnings.Models {
			ms = append(ms, m.Model)
		}
	}
	slices.Sort(ms)
	return append([]string{allModels}, slices.Compact(ms)...)
}

// query is the filter the controls say.
func (a *activityWindow) query() ledger.JobQuery {
	var q ledger.JobQuery
	if m := a.model.Selected; m != "" && m != allModels {
		q.Model = m
	}
	if i := a.outcome.SelectedIndex(); i >= 0 {
		q.Outcome = outcomeChoices[i].outcome
	}
	if i := a.period.SelectedIndex(); i >= 0 && periodChoices[i].back > 0 {
		q.Since = a.u.now().Add(-periodChoices[i].back)
	}
	return q
}

// reload shows the newest page of the filter and its totals.
func (a *activityWindow) reload() {
	if a.period == nil || a.table == nil {
		return // still building: the selects fire while they are set up
	}
	a.q = a.query()
	a.afters = []string{""}
	a.load()
	a.sumGen++
	gen, q := a.sumGen, a.q
	a.totals.SetText("Adding up…")
	a.u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opsTimeout)
		defer cancel()
		t, err := a.ops.JobSummary(ctx, q)
		a.u.do(func() {
			if gen != a.sumGen {
				return
			}
			if err != nil {
				a.totals.SetText("Totals unavailable: " + err.Error())
				return
			}
			a.totals.SetText(jobTotalsText(t))
		})
	})
}

// load fetches the page whose After is the last of a.afters.
func (a *activityWindow) load() {
	a.listGen++
	gen := a.listGen
	q := a.q
	q.After, q.Limit = a.afters[len(a.afters)-1], activityPage
	a.newer.Disable()
	a.older.Disable()
	a.u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opsTimeout)
		defer cancel()
		p, err := a.ops.ListJobs(ctx, q)
		a.u.do(func() {
			if gen != a.listGen {
				return
			}
			if err != nil {
				showError(a.status, "Could not read the job record: "+err.Error())
				a.setPager()
				return
			}
			showError(a.status, "")
			a.rows, a.next = p.Jobs, p.Next
			a.cells = make([][]string, len(p.Jobs))
			for i, j := range p.Jobs {
				a.cells[i] = jobCells(j)
			}
			a.setPager()
			a.table.ScrollToTop()
			a.table.Refresh()
		})
	})
}

func (a *activityWindow) setPager() {
	n := len(a.afters)
	a.page.SetText(pageText(n, len(a.rows)))
	if n > 1 {
		a.newer.Enable()
	} else {
		a.newer.Disable()
	}
	if a.next != "" {
		a.older.Enable()
	} else {
		a.older.Disable()
	}
}

func (a *activityWindow) showOlder() {
	if a.next == "" {
		return
	}
	a.afters = append(a.afters, a.next)
	a.load()
}

func (a *activityWindow) showNewer() {
	if len(a.afters) < 2 {
		return
	}
	a.afters = a.afters[:len(a.afters)-1]
	a.load()
}

// export asks where to save and writes the filter's jobs there as CSV.
func (a *activityWindow) export() {
	q := a.q
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return // cancelled
		}
		a.u.async(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			n, err := a.ops.ExportJobsCSV(ctx, q, w)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			a.u.do(func() {
				if err != nil {
					//lint:ignore ST1005 the dialog shows the error as its whole text: a sentence
					dialog.ShowError(fmt.Errorf("The export is incomplete: %w", err), a.win)
					return
				}
				dialog.ShowInformation("Exported", fmt.Sprintf("Saved %s jobs to %s.", present.FormatCount(int64(n)), w.URI().Name()), a.win)
			})
		})
	}, a.win)
	d.SetFileName("usepod-jobs-" + a.u.now().Format("2006-01-02") + ".csv")
	d.Show()
}

// jobCells is one job as the table shows it.
func jobCells(j ledger.Job) []string {
	first := "—"
	if j.FirstChunkMs != nil {
		first = fmt.Sprintf("%d ms", *j.FirstChunkMs)
	}
	earned := "—"
	if j.Done() {
		earned = usdcFigure(ledger.MicroFromE12(j.EarnedE12))
	}
	return []string{
		j.At.Local().Format("2006-01-02 15:04:05"),
		j.Model,
		outcomeText(j.Outcome),
		first,
		formatMs(j.DurationMs),
		fmt.Sprintf("%s / %s", present.FormatCount(j.InputTokens), present.FormatCount(j.OutputTokens)),
		earned,
		strings.Join(strings.Fields(j.Message), " "),
	}
}

// outcomeText is an outcome in words.
func outcomeText(outcome string) string {
	for _, c := range outcomeChoices {
		if c.outcome == outcome && outcome != ledger.OutcomeAny && outcome != ledger.OutcomeFailed {
			return c.label
		}
	}
	return outcome
}

func formatMs(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}

// jobTotalsText sums up a filter in one line.
func jobTotalsText(t ledger.JobTotals) string {
	if t.Jobs == 0 {
		return "No jobs match."
	}
	jobs := "jobs"
	if t.Jobs == 1 {
		jobs = "job"
	}
	return fmt.Sprintf("%s %s: %s done, %s failed · earned %s · %s tokens in, %s out",
		present.FormatCount(t.Jobs), jobs, present.FormatCount(t.Done), present.FormatCount(t.Failed),
		present.FormatUSDC(t.EarnedMicro), present.FormatCount(t.InputTokens), present.FormatCount(t.OutputTokens))
}

// usdcFigure is an amount without its unit, for a column that names it.
func usdcFigure(micro int64) string {
	return strings.TrimSuffix(present.FormatUSDC(micro), " USDC")
}

// pageText says which page is shown.
func pageText(page, rows int) string {
	if rows == 0 {
		return "No jobs"
	}
	first := (page-1)*activityPage + 1
	return fmt.Sprintf("Jobs %s–%s", present.FormatCount(int64(first)), present.FormatCount(int64(first+rows-1)))
}

// saveSupportBundle asks where to save a support bundle, then asks the
// agent for one and writes it there.
func (u *UI) saveSupportBundle(parent fyne.Window) {
	o := u.ops()
	if o == nil {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return // cancelled
		}
		u.async(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			b, err := o.Diagnose(ctx)
			if err == nil {
				_, err = w.Write(b)
			}
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			u.do(func() {
				if err != nil {
					//lint:ignore ST1005 the dialog shows the error as its whole text: a sentence
					dialog.ShowError(fmt.Errorf("Could not save the support bundle: %w", err), parent)
					return
				}
				dialog.ShowInformation("Support bundle saved",
					fmt.Sprintf("Saved %s. It holds no keys, codes or passwords; attach it to your support request.", w.URI().Name()), parent)
			})
		})
	}, parent)
	d.SetFileName("usepod-support-" + u.now().Format("2006-01-02-1504") + ".zip")
	d.Show()
}
