package ui

import (
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/ui/present"
)

// modelColumns are the models table's headings; the model name (column 1)
// stretches. "On" is the switch: a model switched off is not offered.
var modelColumns = []string{"On", "Model", "Status", "Server", "Context", "USDC per 1M in / out", "Jobs today", "Earned today"}

// modelsCard is one row per model with a switch that calls
// Engine.SetModelEnabled.
type modelsCard struct {
	u     *UI
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
	pending                               bool // a SetModelEnabled call is in flight
	enabled                               bool // the engine's word, from the last snapshot
}

func newModelsCard(u *UI) *modelsCard {
	m := &modelsCard{
		u:     u,
		table: container.New(tableLayout{cols: len(modelColumns), stretch: 1}),
		empty: widget.NewLabel("No models yet. Start an inference server and load a model; it shows up here within a few seconds."),
		err:   errorLabel(),
	}
	m.empty.Wrapping = fyne.TextWrapWord
	m.card = widget.NewCard("Models", "",
		container.NewVBox(m.err, m.empty, m.table))
	return m
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
	objs := make([]fyne.CanvasObject, 0, (len(ids)+1)*len(modelColumns))
	for i, h := range modelColumns {
		l := widget.NewLabel(h)
		l.TextStyle.Bold = true
		l.SizeName = theme.SizeNameCaptionText
		if i >= 6 {
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
