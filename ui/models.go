package ui

import (
	"context"
	"fmt"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/selftest"
	"usepod.ai/agent/ui/present"
)

// modelColumns are the models table's headings; the model name (column 1)
// stretches. "On" is the switch: a model switched off is not offered.
var modelColumns = []string{"On", "Model", "Status", "Server", "Context", "USDC per 1M in / out", "Jobs today", "Earned today"}

// selftestColumns follow modelColumns when the engine has Operations: the
// last self-test and its Test button.
var selftestColumns = []string{"Last self-test", ""}

// modelsCard is one row per model with a switch that calls
// Engine.SetModelEnabled.
type modelsCard struct {
	u     *UI
	ops   Operations // nil: no self-test columns
	cols  []string
	tests map[string]selftest.Result // the last self-test of each model
	busy  map[string]bool            // models whose self-test runs now
	card  *widget.Card
	table *fyne.Container
	empty *widget.Label
	err   *widget.Label // the last failed switch, until the next one succeeds
	rows  []*modelRow
	ids   []string // the models the rows show, in order
}

// modelRow is one model's widgets.
type modelRow struct {
	id                                    string
	on                                    *widget.Check
	name, state, server, ctx, price, jobs *widget.Label
	earned                                *widget.Label
	test                                  *widget.Label  // the last self-test; nil without Operations
	testButton                            *widget.Button // runs one
	pending                               bool           // a SetModelEnabled call is in flight
	enabled                               bool           // the engine's word, from the last snapshot
}

func newModelsCard(u *UI) *modelsCard {
	cols := modelColumns
	o := u.ops()
	if o != nil {
		cols = append(slices.Clip(modelColumns), selftestColumns...)
	}
	m := &modelsCard{
		u:     u,
		ops:   o,
		cols:  cols,
		tests: map[string]selftest.Result{},
		busy:  map[string]bool{},
		table: container.New(tableLayout{cols: len(cols), stretch: 1}),
		empty: widget.NewLabel("No models yet. Start an inference server and load a model; it shows up here within a few seconds."),
		err:   errorLabel(),
	}
	m.empty.Wrapping = fyne.TextWrapWord
	m.card = widget.NewCard("Models", "",
		container.NewVBox(m.err, m.empty, m.table))
	if o != nil {
		u.async(m.loadTests)
	}
	return m
}

// loadTests fetches the last self-tests the agent kept. It blocks; call
// it off the UI goroutine.
func (m *modelsCard) loadTests() {
	ctx, cancel := context.WithTimeout(context.Background(), opsTimeout)
	defer cancel()
	rs, err := m.ops.SelfTestResults(ctx)
	if err != nil {
		m.u.log.Warn("read the last self-tests", "err", err)
		return
	}
	m.u.do(func() {
		for _, r := range rs {
			m.tests[r.ModelID] = r
		}
		m.applyTests()
	})
}

// runTest runs one model's self-test on the agent.
func (m *modelsCard) runTest(id string) {
	if m.busy[id] {
		return
	}
	m.busy[id] = true
	m.applyTests()
	m.u.async(func() {
		ctx, cancel := context.WithTimeout(context.Background(), selftest.DefaultTimeout+30*time.Second)
		defer cancel()
		rs, err := m.ops.SelfTest(ctx, []string{id})
		m.u.do(func() {
			delete(m.busy, id)
			if err != nil {
				m.tests[id] = selftest.Result{ModelID: id, At: m.u.now(), Error: err.Error()}
			}
			for _, r := range rs {
				m.tests[r.ModelID] = r
			}
			m.applyTests()
		})
	})
}

// applyTests shows the self-test columns; UI goroutine only.
func (m *modelsCard) applyTests() {
	for _, r := range m.rows {
		if r.test == nil {
			continue
		}
		t, tested := m.tests[r.id]
		r.test.SetText(selftestText(t, tested, m.busy[r.id]))
		r.test.Importance = widget.MediumImportance
		if tested && !t.OK && !m.busy[r.id] {
			r.test.Importance = widget.WarningImportance
		}
		r.test.Refresh()
		if m.busy[r.id] {
			r.testButton.Disable()
		} else {
			r.testButton.Enable()
		}
	}
}

// selftestText is a model's last self-test in a few words.
func selftestText(r selftest.Result, tested, running bool) string {
	switch {
	case running:
		return "Testing…"
	case !tested:
		return "Not tested"
	case !r.OK:
		msg := []rune("Failed: " + r.Error)
		if len(msg) > 48 {
			msg = append(msg[:47], '…')
		}
		return string(msg)
	}
	return fmt.Sprintf("%s · %.1f tok/s", formatTTFT(r.TTFTMs), r.TokensPerS)
}

// formatTTFT is a time to first token; under 10 ms with a decimal.
func formatTTFT(ms float64) string {
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// apply shows a snapshot; UI goroutine only.
func (m *modelsCard) apply(s engine.Snapshot) {
	ids := make([]string, len(s.Models))
	for i, ms := range s.Models {
		ids[i] = ms.ID
	}
	if !slices.Equal(ids, m.ids) {
		m.rebuild(ids)
	}
	m.empty.Hidden = len(ids) > 0
	m.table.Hidden = len(ids) == 0
	for i, ms := range s.Models {
		r := m.rows[i]
		jobs, micro := modelToday(s.Earnings, ms.ID)
		r.name.SetText(ms.ID)
		r.state.SetText(modelStateAt(ms, time.Now()))
		r.state.Importance = modelStateImportance(ms)
		r.state.Refresh()
		r.server.SetText(present.BackendName(ms.Backend))
		r.ctx.SetText(formatContext(ms.ContextWindow))
		r.price.SetText(formatPrice(ms.InputPer1M) + " / " + formatPrice(ms.OutputPer1M))
		r.jobs.SetText(present.FormatCount(jobs))
		r.earned.SetText(present.FormatUSDC(micro))
		r.enabled = ms.Enabled
		if !r.pending {
			m.setCheck(r, ms.Enabled)
		}
	}
	m.applyTests()
	m.empty.Refresh()
	m.table.Refresh()
}

// setCheck moves a switch without calling its OnChanged: only the user's
// taps reach the engine.
func (m *modelsCard) setCheck(r *modelRow, on bool) {
	if r.on.Checked == on {
		return
	}
	f := r.on.OnChanged
	r.on.OnChanged = nil
	r.on.SetChecked(on)
	r.on.OnChanged = f
}

// rebuild makes one row per model, headings first.
func (m *modelsCard) rebuild(ids []string) {
	m.ids = ids
	m.rows = m.rows[:0]
	objs := make([]fyne.CanvasObject, 0, (len(ids)+1)*len(m.cols))
	for i, h := range m.cols {
		l := widget.NewLabel(h)
		l.TextStyle.Bold = true
		l.SizeName = theme.SizeNameCaptionText
		if i == 6 || i == 7 {
			l.Alignment = fyne.TextAlignTrailing
		}
		objs = append(objs, l)
	}
	for _, id := range ids {
		r := &modelRow{
			id:     id,
			name:   widget.NewLabel(id),
			state:  widget.NewLabel(""),
			server: widget.NewLabel(""),
			ctx:    widget.NewLabel(""),
			price:  widget.NewLabel(""),
			jobs:   widget.NewLabel(""),
			earned: widget.NewLabel(""),
		}
		r.name.TextStyle.Bold = true
		r.name.Truncation = fyne.TextTruncateEllipsis
		r.jobs.Alignment = fyne.TextAlignTrailing
		r.earned.Alignment = fyne.TextAlignTrailing
		r.on = widget.NewCheck("", func(on bool) { m.toggle(r, on) })
		m.rows = append(m.rows, r)
		objs = append(objs, r.on, r.name, r.state, r.server, r.ctx, r.price, r.jobs, r.earned)
		if m.ops != nil {
			r.test = widget.NewLabel("") // sized to its text: failures are clipped in selftestText
			r.testButton = widget.NewButton("Test", func() { m.runTest(id) })
			r.testButton.Importance = widget.LowImportance
			objs = append(objs, r.test, r.testButton)
		}
	}
	m.table.Objects = objs
}

// toggle sends the user's switch to the engine off the UI goroutine. The
// check stays disabled until the engine answers; on an error it snaps back
// to what the engine last said and the error is shown above the table.
func (m *modelsCard) toggle(r *modelRow, on bool) {
	r.pending = true
	r.on.Disable()
	m.u.async(func() {
		err := m.u.eng.SetModelEnabled(r.id, on)
		m.u.do(func() {
			r.pending = false
			r.on.Enable()
			if err != nil {
				verb := "on"
				if !on {
					verb = "off"
				}
				m.u.log.Warn("switch model", "model", r.id, "on", on, "err", err)
				showError(m.err, "Could not switch "+r.id+" "+verb+": "+err.Error())
				m.setCheck(r, r.enabled)
				return
			}
			showError(m.err, "")
		})
	})
}

// modelStateImportance colours the status column.
func modelStateImportance(ms engine.ModelStatus) widget.Importance {
	// Only trouble is coloured: the theme's success green is too light to
	// read as text on the light background.
	switch modelState(ms) {
	case "Server down":
		return widget.WarningImportance
	}
	return widget.MediumImportance
}
