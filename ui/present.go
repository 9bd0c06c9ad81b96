package ui

// This file holds what the UI shows, computed as plain functions of a
// snapshot (and the time, where something counts down). Nothing here imports
// fyne.io, so every string a user reads is table-tested without a display.

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"usepod.ai/agent/core/engine"
	"usepod.ai/agent/core/ledger"
	"usepod.ai/agent/ui/present"
)

// tone is how a status line should be coloured; the widgets map it to a
// theme importance so it reads in light and dark themes alike.
type tone int

const (
	toneNeutral tone = iota
	toneGood
	toneWarning
	toneError
)

// modelsOnline counts the models the coordinator has in our capabilities now.
func modelsOnline(s engine.Snapshot) int {
	n := 0
	for _, m := range s.Models {
		if m.Offered {
			n++
		}
	}
	return n
}

// plural returns "1 model" or "2 models".
func plural(n int, one, many string) string { return pluralCount(int64(n), one, many) }

// pluralCount is plural for counts kept as int64 (jobs in the ledger).
func pluralCount(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return present.FormatCount(n) + " " + many
}

// statusText is the dashboard's header: the state in plain words. now drives
// the offline countdown, so the dashboard calls it again every second while
// offline.
func statusText(s engine.Snapshot, now time.Time) string {
	if present.BlockingProblem(s) {
		text := s.Problem.Summary
		if s.State == engine.StateOffline && !s.Problem.RetryAt.IsZero() {
			text += " — " + retryIn(s.Problem.RetryAt.Sub(now))
		}
		return text
	}
	if r := present.PolicyReason(s); r != "" {
		return r
	}
	switch s.State {
	case engine.StateEarning:
		return "Earning — " + plural(modelsOnline(s), "model", "models") + " online"
	case engine.StateWaiting:
		return "Waiting for jobs — " + plural(modelsOnline(s), "model", "models") + " online"
	case engine.StatePaused:
		return "Paused"
	case engine.StateConnecting:
		return "Connecting…"
	case engine.StateOffline:
		if s.RetryAt.IsZero() {
			return "Offline"
		}
		return "Offline — " + retryIn(s.RetryAt.Sub(now))
	case engine.StateEnrollmentRejected:
		if r := strings.TrimSpace(s.Reason); r != "" {
			return "Enrollment code rejected: " + r
		}
		return "Enrollment code rejected"
	case engine.StateNeedsEnrollment:
		return "Enter your enrollment code to start earning"
	case engine.StateNoBackends:
		if allModelsSwitchedOff(s) {
			return "All models are switched off — turn one on below"
		}
		return "No inference server found — start Ollama, LM Studio, llama.cpp or vLLM"
	}
	return "Starting…"
}

// allModelsSwitchedOff tells the two causes of StateNoBackends apart: servers
// answer and serve models, but the user has switched every one off.
func allModelsSwitchedOff(s engine.Snapshot) bool {
	for _, m := range s.Models {
		if m.Enabled {
			return false
		}
	}
	return len(s.Models) > 0
}

// retryIn renders a countdown rounded up to the next second, so it never
// says "0 s" while there is still time left.
func retryIn(d time.Duration) string {
	if d <= 0 {
		return "retrying now"
	}
	secs := int64(math.Ceil(d.Seconds()))
	if secs < 60 {
		return fmt.Sprintf("retrying in %d s", secs)
	}
	if secs%60 == 0 {
		return fmt.Sprintf("retrying in %d min", secs/60)
	}
	return fmt.Sprintf("retrying in %d min %d s", secs/60, secs%60)
}

// statusDetail is the smaller line under the header: what is going on, or
// what the user can do about it.
func statusDetail(s engine.Snapshot) string {
	if present.BlockingProblem(s) {
		return s.Problem.Action
	}
	if !s.Problem.IsZero() { // a failure that does not stop earning
		return s.Problem.Text(time.Time{})
	}
	switch s.State {
	case engine.StateEarning, engine.StateWaiting, engine.StatePaused:
		// Something the agent keeps retrying (an unsaved provider id, a
		// ledger that cannot write) matters more than "connected".
		if len(s.Problems) > 0 {
			return s.Problems[0]
		}
	}
	switch s.State {
	case engine.StateEarning, engine.StateWaiting:
		where := present.HostOf(s.Coordinator)
		if s.JobsInFlight > 0 {
			return "Connected to " + where + " · " + plural(s.JobsInFlight, "job", "jobs") + " running"
		}
		return "Connected to " + where
	case engine.StatePaused:
		if s.JobsInFlight > 0 {
			return "Not taking new jobs · " + plural(s.JobsInFlight, "job", "jobs") + " finishing"
		}
		return "Not taking jobs. Start earning to offer your models again."
	case engine.StateConnecting:
		return "Connecting to " + present.HostOf(s.Coordinator)
	case engine.StateOffline:
		if s.LastError != "" {
			return "Last error: " + s.LastError
		}
		return "Cannot reach " + present.HostOf(s.Coordinator)
	case engine.StateEnrollmentRejected:
		return "Paste a new enrollment code in Settings."
	case engine.StateNeedsEnrollment:
		return "Open Settings and paste the code from your Use Pod dashboard (POD-ENROLL-…)."
	case engine.StateNoBackends:
		if allModelsSwitchedOff(s) {
			return "Nothing is offered to the coordinator while every model is off."
		}
		var down []string
		for _, b := range s.Backends {
			if !b.Healthy {
				down = append(down, present.BackendName(b.Kind)+" at "+present.HostOf(b.URL))
			}
		}
		if len(down) > 0 {
			return "Not answering: " + strings.Join(down, ", ")
		}
		return "Checked the usual ports; add a server in Settings if yours listens elsewhere."
	}
	return ""
}

// statusTone says how alarming the state is.
func statusTone(s engine.Snapshot) tone {
	switch s.State {
	case engine.StateEarning, engine.StateWaiting:
		if !s.Problem.IsZero() {
			return toneWarning
		}
		return toneGood
	case engine.StateOffline, engine.StateNoBackends, engine.StateNeedsEnrollment:
		return toneWarning
	case engine.StateEnrollmentRejected:
		return toneError
	}
	return toneNeutral
}

// settingsLabel is the dashboard's Settings button: it names the fix when
// the fix is in Settings.
func settingsLabel(s engine.Snapshot) string {
	switch {
	case s.State == engine.StateEnrollmentRejected:
		return "Enter new code…"
	case s.State == engine.StateNoBackends && !allModelsSwitchedOff(s):
		return "Add a server…"
	}
	return "Settings"
}

// formatPrice renders a price in USDC base units per million tokens as a
// plain decimal with at least two and at most six decimals: 100000 -> "0.10",
// 123456 -> "0.123456", 1500000 -> "1.50". It round-trips through parseUSDC.
func formatPrice(micro int64) string {
	neg := micro < 0
	if neg {
		micro = -micro
	}
	s := fmt.Sprintf("%d.%06d", micro/1_000_000, micro%1_000_000)
	for strings.HasSuffix(s, "0") && len(s)-strings.IndexByte(s, '.') > 3 {
		s = s[:len(s)-1]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// errBadAmount is returned for anything parseUSDC cannot read.
var errBadAmount = errors.New("enter an amount in USDC, like 0.10")

// parseUSDC reads an amount typed by a user ("0.1", "0,10", "2", ".5") into
// USDC base units without going through floating point. Negative amounts,
// more than six decimals and absurdly large values are refused.
func parseUSDC(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, ".") && strings.Count(s, ",") == 1 {
		s = strings.Replace(s, ",", ".", 1) // a decimal comma
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, errBadAmount
	}
	if len(frac) > 6 {
		return 0, errors.New("at most six decimals (1 USDC = 1,000,000 base units)")
	}
	if whole == "" {
		whole = "0"
	}
	if !allDigits(whole) || !allDigits(frac) || len(whole) > 9 {
		return 0, errBadAmount
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
	return w*1_000_000 + f, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// formatContext renders a context window in tokens the way model cards say
// it: 131072 -> "128K", 200000 -> "200K", 1048576 -> "1M", 0 -> "—".
func formatContext(tokens int) string {
	switch {
	case tokens <= 0:
		return "—"
	case tokens >= 1<<20 && tokens%(1<<20) == 0:
		return strconv.Itoa(tokens>>20) + "M"
	case tokens >= 1024 && tokens%1024 == 0:
		return strconv.Itoa(tokens>>10) + "K"
	case tokens >= 1_000_000:
		return strconv.FormatFloat(float64(tokens)/1e6, 'f', -1, 64) + "M"
	case tokens >= 1000:
		return strconv.Itoa(int(math.Round(float64(tokens)/1000))) + "K"
	}
	return strconv.Itoa(tokens)
}

// formatBytes renders memory sizes in GiB (or MiB below one GiB) with one
// decimal, the unit GPU tools use.
func formatBytes(b uint64) string {
	const gib, mib = 1 << 30, 1 << 20
	if b >= gib {
		return strconv.FormatFloat(float64(b)/gib, 'f', 1, 64) + " GiB"
	}
	return strconv.FormatFloat(float64(b)/mib, 'f', 0, 64) + " MiB"
}

// formatMemPair renders "18.2 / 24.0 GiB" with the unit once.
func formatMemPair(used, total uint64) string {
	const gib = 1 << 30
	if total >= gib {
		return fmt.Sprintf("%.1f / %.1f GiB", float64(used)/gib, float64(total)/gib)
	}
	return formatBytes(used) + " / " + formatBytes(total)
}

// hourlySeries lays the ledger's hourly buckets onto 24 one-hour slots that
// end with the current local clock hour, oldest first. Hours without a
// bucket are zero, buckets outside the window are ignored. Slots start on
// local clock hours (ledger.HourStart), not on whole UTC hours, which differ
// in zones such as Asia/Kolkata (+5:30).
func hourlySeries(hourly []ledger.HourBucket, now time.Time) []int64 {
	out := make([]int64, 24)
	var starts [25]time.Time // slot i is [starts[i], starts[i+1])
	cur := ledger.HourStart(now)
	for i := range starts {
		starts[i] = ledger.HourStart(cur.Add(time.Duration(i-23) * time.Hour))
	}
	for _, b := range hourly {
		for i := range out {
			if !b.Start.Before(starts[i]) && b.Start.Before(starts[i+1]) {
				out[i] += b.Micro
				break
			}
		}
	}
	return out
}

// ratePerHour estimates the earnings of the trailing sixty minutes from the
// hourly buckets: all of the current (partial) local hour plus the share of
// the previous hour that still lies inside the window, pro rata.
func ratePerHour(hourly []ledger.HourBucket, now time.Time) int64 {
	cur := ledger.HourStart(now)
	prev := ledger.HourStart(cur.Add(-time.Hour))
	var rate float64
	for _, b := range hourly {
		switch {
		case b.Start.Equal(cur):
			rate += float64(b.Micro)
		case b.Start.Equal(prev):
			inWindow := cur.Sub(now.Add(-time.Hour)) // the part of the previous hour within the last 60 minutes
			rate += float64(b.Micro) * max(0, float64(inWindow)/float64(cur.Sub(prev)))
		}
	}
	return int64(math.Round(rate))
}

// modelToday finds a model's share of today's earnings.
func modelToday(t ledger.Totals, model string) (jobs, micro int64) {
	for _, m := range t.Models {
		if m.Model == model {
			return m.TodayJobs, m.TodayMicro
		}
	}
	return 0, 0
}

// modelState is the models table's status column.
func modelState(m engine.ModelStatus) string {
	switch {
	case !m.Enabled:
		return "Off"
	case !m.Healthy:
		return "Server down"
	case m.Offered:
		return "Online"
	}
	return "Ready"
}

// modelStateAt is modelState with, for a row whose server went down, since
// when: the time alone today, the day and time before.
func modelStateAt(m engine.ModelStatus, now time.Time) string {
	st := modelState(m)
	if st != "Server down" || m.DownSince.IsZero() {
		return st
	}
	since := m.DownSince.In(now.Location())
	y1, m1, d1 := since.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return st + " since " + since.Format("15:04")
	}
	return st + " since " + since.Format("2 Jan 15:04")
}

// formatPercent renders 0..100 without decimals.
func formatPercent(p float64) string {
	return strconv.Itoa(int(math.Round(p))) + " %"
}

// fieldFor finds the form field a validation key belongs to: the key itself
// when the form has it, else the longest known key it extends with "." or
// "[" ("backends[1].url" -> "backends[1]" -> "backends"). It returns ""
// when none matches.
func fieldFor(key string, known []string) string {
	best := ""
	for _, k := range known {
		switch {
		case k == key:
			return k
		case len(k) > len(best) && strings.HasPrefix(key, k) && (key[len(k)] == '.' || key[len(k)] == '['):
			best = k
		}
	}
	return best
}

// gpuExtras is "71 °C · 280 / 350 W", leaving out what the GPU does not report.
func gpuExtras(g GPUView) string {
	var parts []string
	if g.HasTemp {
		parts = append(parts, fmt.Sprintf("%d °C", int(math.Round(g.TempC))))
	}
	if g.HasPower {
		if g.PowerLimitW > 0 {
			parts = append(parts, fmt.Sprintf("%d / %d W", int(math.Round(g.PowerW)), int(math.Round(g.PowerLimitW))))
		} else {
			parts = append(parts, fmt.Sprintf("%d W", int(math.Round(g.PowerW))))
		}
	}
	return strings.Join(parts, " · ")
}

// gpuUtilHistory picks one GPU's utilisation out of the history.
func gpuUtilHistory(history []HardwareView, index int) []float64 {
	out := make([]float64, 0, len(history))
	for _, s := range history {
		for _, g := range s.GPUs {
			if g.Index == index && g.HasUtil {
				out = append(out, g.UtilPercent)
			}
		}
	}
	return out
}
