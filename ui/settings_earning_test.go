package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
)

// The "When to earn" fields load from [earning], save back into it, and a
// window config validation refuses is shown under its field.
func TestSettingsEarningFields(t *testing.T) {
	eng := newFakeEngine(earningSnapshot())
	_, s, _ := openSettings(t, eng, Actions{})
	f := s.earning
	if !f.gpuBusy.Checked || f.resumeAfter.Text != "2m" || f.maxTemp.Text != "83" || f.maxPower.Text != "0" || f.schedule.Text != "" {
		t.Fatalf("defaults not loaded: busy %v resume %q temp %q power %q schedule %q",
			f.gpuBusy.Checked, f.resumeAfter.Text, f.maxTemp.Text, f.maxPower.Text, f.schedule.Text)
	}

	f.schedule.SetText("mon-fri 22:00-07:00\nsometimes 9-5\n")
	test.Tap(s.save)
	if len(eng.Config().Earning.Schedule) != 0 {
		t.Fatal("an invalid schedule was saved")
	}
	if msg := s.fixedErrs[keySchedule].Text; !strings.Contains(msg, "sometimes") {
		t.Errorf("schedule error %q", msg)
	}
	scrollTo(s.win, f.schedule)
	saveScreenshot(t, s.win.Canvas().Capture(), "policy-settings-error.png")

	f.schedule.SetText("mon-fri 22:00-07:00\n\nsat-sun 00:00-24:00")
	test.Tap(f.gpuBusy)
	f.resumeAfter.SetText("5m")
	f.idleOnly.SetText("10m")
	test.Tap(f.battery)
	f.maxTemp.SetText("78")
	f.maxPower.SetText("300")
	test.Tap(s.save)
	e := eng.Config().Earning
	if e.PauseWhenGPUBusy || e.ResumeAfter != "5m" || e.OnlyWhenIdle != "10m" || e.PauseOnBattery ||
		!slices.Equal(e.Schedule, []string{"mon-fri 22:00-07:00", "sat-sun 00:00-24:00"}) || e.MaxGPUTempC != 78 || e.MaxGPUPowerW != 300 {
		t.Errorf("saved %+v", e)
	}
}

// scrollTo scrolls the window's scroll container so that o shows.
func scrollTo(w fyne.Window, o fyne.CanvasObject) {
	var scroll *container.Scroll
	var find func(fyne.CanvasObject)
	find = func(c fyne.CanvasObject) {
		if sc, ok := c.(*container.Scroll); ok && scroll == nil {
			scroll = sc
		}
		if cont, ok := c.(*fyne.Container); ok {
			for _, ch := range cont.Objects {
				find(ch)
			}
		}
		if sc, ok := c.(*container.Scroll); ok {
			find(sc.Content)
		}
	}
	find(w.Content())
	if scroll == nil {
		return
	}
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	base := fyne.CurrentApp().Driver().AbsolutePositionForObject(scroll.Content)
	scroll.Offset = fyne.NewPos(0, pos.Y-base.Y-200)
	scroll.Refresh()
}
