package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/ui/present"
)

// estimateNote is shown under the figures: the ledger is our own count, the
// coordinator's settlement is what gets paid.
const estimateNote = "Estimate — the coordinator's settlement is what gets paid"

// earningsCard shows today / 7 days / all time, jobs, the hourly rate and a
// 24-hour chart.
type earningsCard struct {
	card               *widget.Card
	today, week, total *widget.Label
	jobs, rate         *widget.Label
	peak               *widget.RichText
	chart              *barChart
}

func newEarningsCard() *earningsCard {
	e := &earningsCard{
		today: figureLabel(), week: figureLabel(), total: figureLabel(),
		jobs:  widget.NewLabel(""),
		rate:  widget.NewLabel(""),
		peak:  caption(""),
		chart: newBarChart(),
	}
	e.rate.Alignment = fyne.TextAlignTrailing

	figures := container.NewGridWithColumns(3,
		figure("Today", e.today),
		figure("Last 7 days", e.week),
		figure("All time", e.total),
	)
	chartHead := container.NewBorder(nil, nil, caption("Last 24 hours"), e.peak)
	axis := container.NewBorder(nil, nil, caption("24 h ago"), caption("now"))
	note := caption(estimateNote)
	note.Segments[0].(*widget.TextSegment).Style.TextStyle.Italic = true
	note.Wrapping = fyne.TextWrapWord

	e.card = widget.NewCard("Earnings", "", container.NewVBox(
		figures,
		container.NewBorder(nil, nil, e.jobs, e.rate),
		widget.NewSeparator(),
		chartHead,
		e.chart,
		axis,
		note,
	))
	return e
}

// apply shows a snapshot; UI goroutine only. now places the hourly buckets
// and the rate window.
func (e *earningsCard) apply(s engine.Snapshot, now time.Time) {
	t := s.Earnings
	e.today.SetText(present.FormatUSDC(t.TodayMicro))
	e.week.SetText(present.FormatUSDC(t.Last7dMicro))
	e.total.SetText(present.FormatUSDC(t.TotalMicro))
	e.jobs.SetText(pluralCount(t.Jobs, "job", "jobs") + " served · " + present.FormatCount(t.TodayJobs) + " today")
	e.rate.SetText("about " + present.FormatUSDC(ratePerHour(s.Hourly, now)) + " / hour")

	series := hourlySeries(s.Hourly, now)
	var peak int64
	for _, v := range series {
		peak = max(peak, v)
	}
	if peak > 0 {
		setText(e.peak, "best hour "+present.FormatUSDC(peak))
	} else {
		setText(e.peak, "no jobs yet")
	}
	e.chart.SetValues(series)
}

// figure is a caption over a large amount.
func figure(label string, value *widget.Label) fyne.CanvasObject {
	return container.New(layout.NewCustomPaddedVBoxLayout(0), secondaryText(label, theme.SizeNameText), value)
}
