package ui

import (
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"usepod.ai/agent/core/config"
)

// The [earning] keys, as config validation names them.
const (
	keyGPUBusy     = "earning.pause_when_gpu_busy"
	keyResumeAfter = "earning.resume_after"
	keyIdleOnly    = "earning.only_when_idle"
	keyBattery     = "earning.pause_on_battery"
	keySchedule    = "earning.schedule"
	keyMaxTemp     = "earning.max_gpu_temp_c"
	keyMaxPower    = "earning.max_gpu_power_w"
)

// earningForm is the Settings window's "When to earn" section: the
// [earning] settings, each as the user thinks of it.
type earningForm struct {
	gpuBusy     *widget.Check
	resumeAfter *widget.Entry
	idleOnly    *widget.Entry
	battery     *widget.Check
	schedule    *widget.Entry // one window a line
	maxTemp     *widget.Entry
	maxPower    *widget.Entry
}

func newEarningForm() *earningForm {
	f := &earningForm{
		gpuBusy:     widget.NewCheck("Pause while another program uses the GPU (a game, a render)", nil),
		resumeAfter: widget.NewEntry(),
		idleOnly:    widget.NewEntry(),
		battery:     widget.NewCheck("Pause while on battery", nil),
		schedule:    widget.NewMultiLineEntry(),
		maxTemp:     widget.NewEntry(),
		maxPower:    widget.NewEntry(),
	}
	f.resumeAfter.SetPlaceHolder("2m")
	f.idleOnly.SetPlaceHolder("0s")
	f.schedule.SetPlaceHolder("mon-fri 22:00-07:00\nsat-sun 00:00-24:00")
	f.schedule.SetMinRowsVisible(2)
	f.maxTemp.SetPlaceHolder("83")
	f.maxPower.SetPlaceHolder("0")
	return f
}

// keys are the fields' validation keys, for error labels.
func (f *earningForm) keys() []string {
	return []string{keyGPUBusy, keyResumeAfter, keyIdleOnly, keyBattery, keySchedule, keyMaxTemp, keyMaxPower}
}

// section lays the fields out with the window's field helper.
func (f *earningForm) section(s *settingsWindow) []fyne.CanvasObject {
	return []fyne.CanvasObject{
		section("When to earn",
			"Use Pod steps aside when you need this computer: running jobs finish, new ones wait."),
		s.field("", f.gpuBusy, keyGPUBusy),
		s.field("Resume after", narrow(f.resumeAfter, "once the other program has closed, e.g. 2m"), keyResumeAfter),
		s.field("Only when idle", narrow(f.idleOnly, "earn after no keyboard or mouse this long; 0s = always"), keyIdleOnly),
		s.field("", f.battery, keyBattery),
		s.field("Earning hours", container.NewVBox(f.schedule,
			caption("One window a line, in your local time, e.g. mon-fri 22:00-07:00. Empty: always.")), keySchedule),
		s.field("GPU temp limit", narrow(f.maxTemp, "°C; above it fewer jobs at once; 0 = no limit"), keyMaxTemp),
		s.field("GPU power limit", narrow(f.maxPower, "W; above it fewer jobs at once; 0 = no limit"), keyMaxPower),
	}
}

func (f *earningForm) load(e config.Earning) {
	f.gpuBusy.SetChecked(e.PauseWhenGPUBusy)
	f.resumeAfter.SetText(e.ResumeAfter)
	f.idleOnly.SetText(e.OnlyWhenIdle)
	f.battery.SetChecked(e.PauseOnBattery)
	f.schedule.SetText(strings.Join(e.Schedule, "\n"))
	f.maxTemp.SetText(strconv.Itoa(e.MaxGPUTempC))
	f.maxPower.SetText(strconv.Itoa(e.MaxGPUPowerW))
}

// collect reads the fields; numbers that do not parse are errors here,
// durations and windows are config validation's to judge.
func (f *earningForm) collect(errs map[string]string) config.Earning {
	e := config.Earning{
		PauseWhenGPUBusy: f.gpuBusy.Checked,
		ResumeAfter:      strings.TrimSpace(f.resumeAfter.Text),
		OnlyWhenIdle:     strings.TrimSpace(f.idleOnly.Text),
		PauseOnBattery:   f.battery.Checked,
		Schedule:         []string{},
	}
	for _, line := range strings.Split(f.schedule.Text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			e.Schedule = append(e.Schedule, line)
		}
	}
	number := func(key string, entry *widget.Entry) int {
		text := strings.TrimSpace(entry.Text)
		if text == "" {
			return 0
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			errs[key] = "Enter a whole number; 0 means no limit."
		}
		return n
	}
	e.MaxGPUTempC = number(keyMaxTemp, f.maxTemp)
	e.MaxGPUPowerW = number(keyMaxPower, f.maxPower)
	return e
}
