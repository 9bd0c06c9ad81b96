// Package present computes what the tray menu and the desktop notifications
// show, as plain functions of an engine snapshot. It imports no GUI toolkit,
// so the always-on tray process, which draws with fyne.io/systray alone,
// shares these strings with the Fyne dashboard, and every string a user
// reads is table-tested without a display.
package present

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"usepod.ai/agent/core/engine"
)

// WantsToEarn is whether the agent earns or tries to: every state but
// Paused, and not while an earning policy pauses it. The Start/Pause
// controls follow it, so that during an automatic pause they offer Start
// earning, which overrides it until its condition next begins.
func WantsToEarn(s engine.Snapshot) bool { return s.State != engine.StatePaused && !AutoPaused(s) }

// AutoPaused reports whether an earning policy (another program on the GPU,
// the schedule, idle-only, battery, heat) offers no models now, while the
// user wants to earn.
func AutoPaused(s engine.Snapshot) bool {
	return s.State != engine.StatePaused && s.Policy.Cause != "" && s.Policy.Paused() && s.Policy.Overridable
}

// PolicyReason is why an earning policy pauses or throttles, for the
// dashboard header and the tray status line; "" when none applies, the user
// paused by hand, or a problem that stops earning says more.
func PolicyReason(s engine.Snapshot) string {
	if s.State == engine.StatePaused || s.Policy.Cause == "" || BlockingProblem(s) {
		return ""
	}
	return s.Policy.Reason
}

// ToggleLabel is the label of the one Start/Pause control.
func ToggleLabel(s engine.Snapshot) string {
	if WantsToEarn(s) {
		return "Pause earning"
	}
	return "Start earning"
}

// TrayIcon names the four tray icons.
type TrayIcon int

const (
	IconWaiting TrayIcon = iota
	IconEarning
	IconPaused
	IconAttention
)

// Asset is the name of the icon in package assets ("earning", "waiting",
// "paused", "offline"). The icons are drawn by assets/gen, one shape per
// state so they read on light and dark panels alike: full pod (earning),
// empty pod (waiting), pause bars, and a struck-through chip for anything
// that needs the user (offline, rejected, no server).
func (i TrayIcon) Asset() string {
	switch i {
	case IconEarning:
		return "earning"
	case IconWaiting:
		return "waiting"
	case IconPaused:
		return "paused"
	}
	return "offline"
}

// TrayMenu is what the tray shows for a snapshot.
type TrayMenu struct {
	Status string   // the first, disabled item
	Toggle string   // "Start earning" or "Pause earning"
	Start  bool     // the toggle starts (else it pauses)
	Icon   TrayIcon // which icon
}

// TrayItems computes the tray menu. The tray changes only when a snapshot
// arrives, so its status line carries no live countdown.
func TrayItems(s engine.Snapshot) TrayMenu {
	m := TrayMenu{Toggle: ToggleLabel(s), Start: !WantsToEarn(s)}
	var word string
	switch s.State {
	case engine.StateEarning:
		word, m.Icon = "Earning", IconEarning
	case engine.StateWaiting:
		word, m.Icon = "Waiting for jobs", IconWaiting
	case engine.StateConnecting:
		word, m.Icon = "Connecting…", IconWaiting
	case engine.StatePaused:
		word, m.Icon = "Paused", IconPaused
	case engine.StateOffline:
		word, m.Icon = "Offline", IconAttention
	case engine.StateEnrollmentRejected:
		word, m.Icon = "Enrollment code rejected", IconAttention
	case engine.StateNoBackends:
		word, m.Icon = "No inference server", IconAttention
	case engine.StateNeedsEnrollment:
		word, m.Icon = "Needs an enrollment code", IconAttention
	default:
		word, m.Icon = "Starting…", IconWaiting
	}
	if BlockingProblem(s) {
		word = s.Problem.Summary
	}
	if r := PolicyReason(s); r != "" {
		word = r
		if AutoPaused(s) {
			m.Icon = IconPaused
		}
	}
	m.Status = word + " · " + FormatUSDC(s.Earnings.TodayMicro) + " today"
	return m
}

// BlockingProblem reports whether the snapshot's problem is what keeps the
// agent from earning (offline, rejected, no server, no code), so its plain
// words replace the state's word.
func BlockingProblem(s engine.Snapshot) bool {
	if s.Problem.IsZero() {
		return false
	}
	switch s.State {
	case engine.StateOffline, engine.StateEnrollmentRejected, engine.StateNoBackends, engine.StateNeedsEnrollment:
		return true
	}
	return false
}

// maxStoppedReason keeps the stopped status line to a length a tray menu
// shows in one line; the log has the rest.
const maxStoppedReason = 80

// StoppedStatus is the tray's status line once the engine has stopped for
// good: "Stopped: " and the reason, cut to one line.
func StoppedStatus(err error) string {
	reason := "the agent stopped unexpectedly"
	if err != nil {
		if r := strings.Join(strings.Fields(err.Error()), " "); r != "" {
			reason = r
		}
	}
	if r := []rune(reason); len(r) > maxStoppedReason {
		reason = strings.TrimSpace(string(r[:maxStoppedReason-1])) + "…"
	}
	return "Stopped: " + reason
}

// FormatUSDC renders micro-USDC for people. The number of decimals falls as
// the amount grows so that about six significant digits show and columns stay
// short: below 1 USDC all six decimals (single jobs earn fractions of a cent,
// and 0.0003 must not round to 0.00); from 1 USDC four; from 10,000 USDC two.
// Rounding is half away from zero.
func FormatUSDC(micro int64) string {
	return formatMicro(micro) + " USDC"
}

// formatMicro is FormatUSDC without the unit.
func formatMicro(micro int64) string {
	neg := micro < 0
	abs := uint64(micro)
	if neg {
		abs = uint64(-micro) // math.MinInt64 wraps to itself, which is still its magnitude as uint64
	}
	decimals := 6
	switch {
	case abs >= 10_000*1_000_000:
		decimals = 2
	case abs >= 1_000_000:
		decimals = 4
	}
	unit := uint64(math.Pow10(6 - decimals))
	rounded := (abs + unit/2) / unit
	scale := uint64(math.Pow10(decimals))
	// Rounding may carry into the next band (9,999.99996 -> 10,000.0000):
	// shown with the band's own decimals it still reads correctly.
	whole, frac := rounded/scale, rounded%scale
	out := groupThousands(strconv.FormatUint(whole, 10)) + "." + fmt.Sprintf("%0*d", decimals, frac)
	if neg && rounded != 0 {
		out = "-" + out
	}
	return out
}

// FormatCount renders a count with thousands separators: 1234 -> "1,234".
func FormatCount(n int64) string {
	if n < 0 {
		return "-" + groupThousands(strconv.FormatInt(-n, 10))
	}
	return groupThousands(strconv.FormatInt(n, 10))
}

func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	lead := len(digits) % 3
	if lead > 0 {
		b.WriteString(digits[:lead])
	}
	for i := lead; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// BackendName is a backend kind as its users spell it.
func BackendName(kind string) string {
	switch kind {
	case "ollama":
		return "Ollama"
	case "lmstudio":
		return "LM Studio"
	case "llamacpp":
		return "llama.cpp"
	case "vllm":
		return "vLLM"
	}
	return kind
}

// HostOf shortens a URL to its host for status lines; it returns the input
// when it is not a URL.
func HostOf(u string) string {
	rest := u
	if _, after, ok := strings.Cut(u, "://"); ok {
		rest = after
	}
	host, _, _ := strings.Cut(rest, "/")
	if host == "" {
		return "the coordinator"
	}
	return host
}
