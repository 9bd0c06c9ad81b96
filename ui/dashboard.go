package ui

import (
	"context"
	"image/color"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/ui/present"
)

// The dashboard's default size: room for the two cards side by side and a
// few model rows without scrolling.
var dashboardSize = fyne.NewSize(960, 680)

// dashboard is the main window: a status header with the Start/Pause
// button, then the earnings, hardware and models cards.
type dashboard struct {
	u   *UI
	win fyne.Window

	icon     *widget.Icon
	title    *widget.Label
	detail   *widget.RichText
	toggle   *widget.Button
	settings *widget.Button // its label says what to fix there, when something needs fixing
	// detailsButton shows or hides detailsText, the technical text behind
	// the plain words of a problem; both are hidden when nothing is wrong.
	detailsButton *widget.Button
	detailsText   *widget.Label
	detailsBox    fyne.CanvasObject // holds detailsButton; hidden with it, so it takes no room
	detailsRow    fyne.CanvasObject // holds detailsText; hidden with it

	earnings *earningsCard
	hardware *hardwareCard
	models   *modelsCard

	last    engine.Snapshot // the snapshot on screen; UI goroutine only
	visible atomic.Bool     // the window is shown; read by the hardware goroutine
}

// dashboard returns the dashboard, creating its window on first use.
func (u *UI) dashboard() *dashboard {
	if u.dash == nil {
		u.dash = newDashboard(u)
	}
	return u.dash
}

func newDashboard(u *UI) *dashboard {
	d := &dashboard{
		u:        u,
		win:      u.app.NewWindow("Use Pod Agent"),
		icon:     widget.NewIcon(nil),
		title:    widget.NewLabel("Starting…"),
		detail:   secondaryText("", theme.SizeNameText),
		earnings: newEarningsCard(),
		hardware: newHardwareCard(u),
		models:   newModelsCard(u),
	}
	d.title.SizeName = theme.SizeNameHeadingText
	d.title.TextStyle.Bold = true
	d.title.Wrapping = fyne.TextWrapWord
	d.detail.Wrapping = fyne.TextWrapWord

	d.toggle = widget.NewButton("Pause earning", d.onToggle)
	d.toggle.Importance = widget.HighImportance
	d.settings = widget.NewButtonWithIcon("Settings", theme.SettingsIcon(), u.ShowSettings)
	settings := d.settings
	d.detailsText = widget.NewLabel("")
	d.detailsText.Wrapping = fyne.TextWrapWord
	d.detailsText.Selectable = true // so it can be copied into a support request
	d.detailsText.Hide()
	d.detailsButton = widget.NewButton("Details", d.toggleDetails)
	d.detailsButton.Importance = widget.LowImportance
	d.detailsButton.Hide()

	// The Start/Pause button is the one action most people want; it gets a
	// generous fixed size so it does not jump as its label changes.
	bigToggle := container.NewStack(fixedSize(200, 48), d.toggle)
	d.detailsBox = container.NewCenter(d.detailsButton)
	d.detailsBox.Hide()
	actions := container.NewHBox(d.detailsBox)
	if u.ops() != nil {
		// The operator's tools, where the engine has them (the agent's
		// local API does).
		activity := widget.NewButtonWithIcon("Activity", theme.ListIcon(), u.ShowActivity)
		bundle := widget.NewButtonWithIcon("Save support bundle…", theme.DocumentSaveIcon(), func() { u.saveSupportBundle(d.win) })
		actions.Add(container.NewCenter(activity))
		actions.Add(container.NewCenter(bundle))
	}
	actions.Add(container.NewCenter(settings))
	actions.Add(bigToggle)

	// The title has the full width to itself, so its wrapping depends only
	// on the window's width (a long rejection reason wraps; the buttons'
	// changing labels never squeeze it). The detail and the buttons share
	// the line below; the detail lines up under the title's text.
	const dot = 24
	iconBox := container.NewCenter(container.NewStack(fixedSize(dot, dot), d.icon))
	titleRow := container.NewBorder(nil, nil, iconBox, nil, d.title)
	detailRow := container.NewBorder(nil, nil, fixedSize(dot, 0), actions, d.detail)
	d.detailsRow = container.NewBorder(nil, nil, fixedSize(dot, 0), nil, d.detailsText)
	d.detailsRow.Hide()
	header := container.New(layout.NewCustomPaddedVBoxLayout(0), titleRow, detailRow, d.detailsRow)

	cards := container.NewGridWithColumns(2, d.earnings.card, d.hardware.card)
	body := container.NewVBox(header, widget.NewSeparator(), cards, d.models.card)
	d.win.SetContent(container.NewVScroll(container.NewPadded(body)))
	d.win.Resize(dashboardSize)
	d.installCloseIntercept()
	d.apply(engine.Snapshot{State: engine.StateConnecting}, u.now())
	return d
}

// fixedSize is an invisible rectangle that gives a stack a minimum size.
func fixedSize(w, h float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent) // not nil: the software painter (screenshots) needs a colour
	r.SetMinSize(fyne.NewSize(w, h))
	return r
}

// installCloseIntercept decides what closing the window means: the
// dashboard process ends (the agent keeps serving; its tray, or launching
// the app again, opens a new dashboard).
func (d *dashboard) installCloseIntercept() {
	d.win.SetCloseIntercept(d.closeRequested)
}

// closeRequested runs when the user closes the window.
func (d *dashboard) closeRequested() {
	d.hide()
	d.u.quit()
}

// hide hides the window and lets the sampler slow down.
func (d *dashboard) hide() {
	d.win.Hide()
	d.visible.Store(false)
	if d.u.hw != nil {
		d.u.hw.SetVisible(false)
	}
}

// onToggle asks the engine to start or pause. The label changes when the
// engine's next snapshot says so, not here, so it never shows a state the
// engine has not reached.
func (d *dashboard) onToggle() {
	if present.WantsToEarn(d.last) {
		d.u.eng.Pause()
	} else {
		d.u.eng.Start()
	}
}

// apply shows a snapshot; UI goroutine only.
func (d *dashboard) apply(s engine.Snapshot, now time.Time) {
	d.last = s
	d.applyHeader(now)
	d.earnings.apply(s, now)
	d.models.apply(s)
}

// applyHeader redraws the status header; the offline countdown calls it
// every second.
func (d *dashboard) applyHeader(now time.Time) {
	s := d.last
	d.title.SetText(statusText(s, now))
	setText(d.detail, statusDetail(s))
	d.icon.SetResource(stateIcon(s))
	d.applyDetails()
	d.settings.SetText(settingsLabel(s))
	d.toggle.SetText(present.ToggleLabel(s))
	if present.WantsToEarn(s) {
		d.toggle.SetIcon(theme.MediaPauseIcon())
	} else {
		d.toggle.SetIcon(theme.MediaPlayIcon())
	}
}

// applyDetails keeps the Details control in step with the problem shown:
// hidden with nothing wrong, and the open text following the problem.
func (d *dashboard) applyDetails() {
	detail := d.last.Problem.Detail
	if detail == "" {
		d.detailsButton.SetText("Details")
		d.showDetails(false)
		d.detailsBox.Hide()
		d.detailsButton.Hide()
		return
	}
	d.detailsButton.Show()
	d.detailsBox.Show()
	if d.detailsText.Text != detail {
		d.detailsText.SetText(detail)
	}
}

// toggleDetails shows or hides the technical text.
func (d *dashboard) toggleDetails() {
	open := !d.detailsText.Visible()
	d.showDetails(open)
	if open {
		d.detailsButton.SetText("Hide details")
	} else {
		d.detailsButton.SetText("Details")
	}
}

func (d *dashboard) showDetails(on bool) {
	if on {
		d.detailsText.Show()
		d.detailsRow.Show()
	} else {
		d.detailsText.Hide()
		d.detailsRow.Hide()
	}
}

// stateIcon is the icon beside the header: a green dot while connected, a
// pause sign, a spinner-like refresh while connecting, and the theme's
// warning or error sign when something needs attention.
func stateIcon(s engine.Snapshot) fyne.Resource {
	switch {
	case s.State == engine.StatePaused, present.AutoPaused(s):
		return theme.MediaPauseIcon()
	case present.PolicyReason(s) != "": // throttled: earning, held back
		return theme.NewWarningThemedResource(theme.WarningIcon())
	}
	switch s.State {
	case engine.StateConnecting:
		return theme.ViewRefreshIcon()
	}
	switch statusTone(s) {
	case toneGood:
		return theme.NewSuccessThemedResource(theme.MediaRecordIcon())
	case toneWarning:
		return theme.NewWarningThemedResource(theme.WarningIcon())
	case toneError:
		return theme.NewErrorThemedResource(theme.ErrorIcon())
	}
	return theme.InfoIcon()
}

// watch is the dashboard's goroutine: it applies every snapshot and, while
// offline, redraws the header each second for the countdown; every minute
// it redraws the earnings, whose rate and chart move with the clock.
func (d *dashboard) watch(ctx context.Context) {
	snaps := d.u.eng.Watch(ctx)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	offline := false
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-snaps:
			if !ok {
				return
			}
			offline = s.State == engine.StateOffline
			d.u.do(func() { d.apply(s, d.u.now()) })
		case <-tick.C:
			ticks++
			switch {
			case ticks%60 == 0:
				d.u.do(func() { d.apply(d.last, d.u.now()) })
			case offline:
				d.u.do(func() { d.applyHeader(d.u.now()) })
			}
		}
	}
}
