package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// barChart draws one bar per value, scaled to the largest, over a baseline.
// It is a widget rather than a container of rectangles so that its colours
// follow the theme when the user switches between light and dark.
type barChart struct {
	widget.BaseWidget
	values []int64
}

func newBarChart() *barChart {
	c := &barChart{}
	c.ExtendBaseWidget(c)
	return c
}

// SetValues replaces the bars; UI goroutine only.
func (c *barChart) SetValues(v []int64) {
	c.values = append(c.values[:0], v...)
	c.Refresh()
}

func (c *barChart) CreateRenderer() fyne.WidgetRenderer {
	r := &barChartRenderer{chart: c, base: canvas.NewRectangle(color.Transparent)}
	r.Refresh()
	return r
}

type barChartRenderer struct {
	chart   *barChart
	bars    []*canvas.Rectangle
	base    *canvas.Rectangle
	objects []fyne.CanvasObject
}

func (r *barChartRenderer) Destroy() {}

func (r *barChartRenderer) MinSize() fyne.Size {
	return fyne.NewSize(float32(len(r.bars))*4, 80)
}

func (r *barChartRenderer) Objects() []fyne.CanvasObject { return r.objects }

// Layout gives every bar the same width with a small gap; a non-zero value
// is at least 2 px tall so a quiet hour with one job still shows.
func (r *barChartRenderer) Layout(size fyne.Size) {
	n := len(r.bars)
	const baseH = 1
	r.base.Resize(fyne.NewSize(size.Width, baseH))
	r.base.Move(fyne.NewPos(0, size.Height-baseH))
	if n == 0 {
		return
	}
	gap := float32(3)
	if size.Width < float32(n)*6 {
		gap = 1
	}
	w := (size.Width - gap*float32(n-1)) / float32(n)
	var peak int64
	for _, v := range r.chart.values {
		peak = max(peak, v)
	}
	avail := size.Height - baseH
	for i, b := range r.bars {
		v := r.chart.values[i]
		h := float32(0)
		if peak > 0 && v > 0 {
			h = max(2, avail*float32(v)/float32(peak))
		}
		b.Resize(fyne.NewSize(w, h))
		b.Move(fyne.NewPos(float32(i)*(w+gap), avail-h))
	}
}

func (r *barChartRenderer) Refresh() {
	th := r.chart.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	if len(r.bars) != len(r.chart.values) {
		r.bars = r.bars[:0]
		for range r.chart.values {
			b := canvas.NewRectangle(color.Transparent)
			b.CornerRadius = 2
			r.bars = append(r.bars, b)
		}
		r.objects = []fyne.CanvasObject{r.base}
		for _, b := range r.bars {
			r.objects = append(r.objects, b)
		}
	}
	for _, b := range r.bars {
		b.FillColor = th.Color(theme.ColorNamePrimary, v)
	}
	r.base.FillColor = th.Color(theme.ColorNameSeparator, v)
	r.Layout(r.chart.Size())
	canvas.Refresh(r.chart)
}

// sparkline draws a series as a thin line scaled to [0, max], for a few
// minutes of utilisation history.
type sparkline struct {
	widget.BaseWidget
	values []float64
	max    float64 // top of the scale, e.g. 100 for percentages
}

func newSparkline(maxValue float64) *sparkline {
	s := &sparkline{max: maxValue}
	s.ExtendBaseWidget(s)
	return s
}

// SetValues replaces the series; UI goroutine only.
func (s *sparkline) SetValues(v []float64) {
	s.values = append(s.values[:0], v...)
	s.Refresh()
}

func (s *sparkline) CreateRenderer() fyne.WidgetRenderer {
	r := &sparklineRenderer{line: s, bg: canvas.NewRectangle(color.Transparent)}
	r.bg.CornerRadius = 3
	r.Refresh()
	return r
}

type sparklineRenderer struct {
	line    *sparkline
	bg      *canvas.Rectangle
	segs    []*canvas.Line
	objects []fyne.CanvasObject
}

func (r *sparklineRenderer) Destroy() {}

func (r *sparklineRenderer) MinSize() fyne.Size { return fyne.NewSize(96, 28) }

func (r *sparklineRenderer) Objects() []fyne.CanvasObject { return r.objects }

// Layout spreads the points over the full width; the newest is at the right.
func (r *sparklineRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	vals := r.line.values
	if len(vals) < 2 || r.line.max <= 0 {
		return
	}
	const pad = 3
	h := size.Height - 2*pad
	step := size.Width / float32(len(vals)-1)
	y := func(v float64) float32 {
		v = min(max(v, 0), r.line.max)
		return pad + h - h*float32(v/r.line.max)
	}
	for i, seg := range r.segs {
		seg.Position1 = fyne.NewPos(float32(i)*step, y(vals[i]))
		seg.Position2 = fyne.NewPos(float32(i+1)*step, y(vals[i+1]))
	}
}

func (r *sparklineRenderer) Refresh() {
	th := r.line.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	want := max(len(r.line.values)-1, 0)
	if len(r.segs) != want {
		r.segs = r.segs[:0]
		for range want {
			r.segs = append(r.segs, canvas.NewLine(color.Transparent))
		}
		r.objects = []fyne.CanvasObject{r.bg}
		for _, s := range r.segs {
			r.objects = append(r.objects, s)
		}
	}
	for _, s := range r.segs {
		s.StrokeColor = th.Color(theme.ColorNamePrimary, v)
		s.StrokeWidth = 1.5
	}
	r.bg.FillColor = th.Color(theme.ColorNameInputBackground, v)
	r.Layout(r.line.Size())
	canvas.Refresh(r.line)
}
