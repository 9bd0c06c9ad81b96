package ui

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// hardwarePoll is how often the card reads the sampler while the dashboard
// is on screen. The sampler keeps its own pace; this only picks up the
// newest sample.
const hardwarePoll = 2 * time.Second

// meterLabelWidth fits "Utilization" at the default text size.
const meterLabelWidth = 92

// hardwareCard shows each GPU's utilisation, memory, temperature and power
// with a short utilisation history, then CPU and RAM.
type hardwareCard struct {
	u       *UI
	card    *widget.Card
	body    *fyne.Container // the rows, rebuilt when the number of GPUs changes
	message *widget.Label   // "unavailable" or a partial error
	gpus    []*gpuRows
	cpu     *meterRow
	ram     *meterRow
}

// gpuRows are the widgets of one GPU.
type gpuRows struct {
	name   *widget.Label
	extras *widget.RichText // temperature and power
	util   *meterRow
	mem    *meterRow
}

// meterRow is a label, a bar with its value written on it and, for
// utilisations, a sparkline of the last minutes.
type meterRow struct {
	label *widget.Label
	bar   *widget.ProgressBar
	text  string // what the bar says; read by its TextFormatter
	spark *sparkline
}

func newMeterRow(label string, withSpark bool) *meterRow {
	m := &meterRow{label: widget.NewLabel(label), bar: widget.NewProgressBar()}
	m.label.Truncation = fyne.TextTruncateEllipsis
	m.bar.TextFormatter = func() string { return m.text }
	if withSpark {
		m.spark = newSparkline(100)
	}
	return m
}

// set shows a value as a fraction with its text.
func (m *meterRow) set(fraction float64, text string) {
	m.text = text
	m.bar.SetValue(min(max(fraction, 0), 1))
}

// cells returns the row's three table cells.
func (m *meterRow) cells() []fyne.CanvasObject {
	var spark fyne.CanvasObject = layout.NewSpacer()
	if m.spark != nil {
		spark = m.spark
	}
	// A fixed label width keeps the bars of every GPU and of CPU/RAM, which
	// sit in separate tables, on the same left edge.
	return []fyne.CanvasObject{container.NewStack(fixedSize(meterLabelWidth, 0), m.label), m.bar, spark}
}

func newHardwareCard(u *UI) *hardwareCard {
	h := &hardwareCard{
		u:       u,
		message: widget.NewLabel("Reading hardware…"),
		cpu:     newMeterRow("CPU", true),
		ram:     newMeterRow("RAM", false),
		body:    container.NewVBox(),
	}
	h.message.Wrapping = fyne.TextWrapWord
	h.card = widget.NewCard("Hardware", "", container.NewVBox(h.message, h.body))
	return h
}

// apply shows a sample and its history; UI goroutine only.
func (h *hardwareCard) apply(v HardwareView, history []HardwareView) {
	hasData := len(v.GPUs) > 0 || v.MemTotal > 0
	switch {
	case v.Err != nil && !hasData:
		showError(h.message, "Hardware readings unavailable: "+v.Err.Error())
		h.body.Hide()
		return
	case v.Err != nil:
		showError(h.message, "Some readings are unavailable: "+v.Err.Error())
	case len(v.GPUs) == 0:
		showError(h.message, "No GPU found; models run on the CPU.")
	default:
		showError(h.message, "")
	}
	h.body.Show()

	if len(h.gpus) != len(v.GPUs) || len(h.body.Objects) == 0 {
		h.rebuild(len(v.GPUs))
	}
	for i, g := range v.GPUs {
		r := h.gpus[i]
		r.name.SetText(g.Name)
		setText(r.extras, gpuExtras(g))
		if g.HasUtil {
			r.util.set(g.UtilPercent/100, formatPercent(g.UtilPercent))
		} else {
			r.util.set(0, "unavailable")
		}
		r.util.spark.SetValues(gpuUtilHistory(history, g.Index))
		if g.HasMem && g.MemTotal > 0 {
			r.mem.set(float64(g.MemUsed)/float64(g.MemTotal), formatMemPair(g.MemUsed, g.MemTotal))
		} else {
			r.mem.set(0, "unavailable")
		}
	}
	h.cpu.set(v.CPUPercent/100, formatPercent(v.CPUPercent))
	cpuHist := make([]float64, 0, len(history))
	for _, s := range history {
		cpuHist = append(cpuHist, s.CPUPercent)
	}
	h.cpu.spark.SetValues(cpuHist)
	if v.MemTotal > 0 {
		h.ram.set(float64(v.MemUsed)/float64(v.MemTotal), formatMemPair(v.MemUsed, v.MemTotal))
	} else {
		h.ram.set(0, "unavailable")
	}
}

// rebuild lays out rows for n GPUs followed by CPU and RAM.
func (h *hardwareCard) rebuild(n int) {
	h.gpus = h.gpus[:0]
	var objs []fyne.CanvasObject
	for range n {
		r := &gpuRows{
			name:   widget.NewLabel(""),
			extras: caption(""),
			util:   newMeterRow("Utilization", true),
			mem:    newMeterRow("Memory", false),
		}
		r.name.TextStyle.Bold = true
		r.name.Truncation = fyne.TextTruncateEllipsis
		h.gpus = append(h.gpus, r)
		objs = append(objs,
			container.NewBorder(nil, nil, nil, r.extras, r.name),
			container.New(tableLayout{cols: 3, stretch: 1}, append(r.util.cells(), r.mem.cells()...)...),
			widget.NewSeparator(),
		)
	}
	objs = append(objs, container.New(tableLayout{cols: 3, stretch: 1}, append(h.cpu.cells(), h.ram.cells()...)...))
	h.body.Objects = objs
	h.body.Refresh()
}

// watch is the hardware card's goroutine: it reads the sampler while the
// dashboard is visible and hands the reading to the UI goroutine.
func (h *hardwareCard) watch(ctx context.Context) {
	if h.u.hw == nil {
		h.u.do(func() {
			h.apply(HardwareView{Err: errNoTelemetry}, nil)
		})
		return
	}
	t := time.NewTicker(hardwarePoll)
	defer t.Stop()
	for first := true; ; first = false {
		if first || h.u.dash.visible.Load() {
			v, hist := h.u.hw.Latest(), h.u.hw.History()
			h.u.do(func() { h.apply(v, hist) })
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var errNoTelemetry = errors.New("no telemetry in this build")
